"""Seeded standard-normal noise computed inside the graph, for VITS.

VITS draws noise twice at inference: for the stochastic duration predictor ([B, 2, tokens]) and
for the prior sample ([B, channels, frames]). The second has a data-dependent length, so a
caller cannot supply it as an input; instead the graph takes one int64 seed per row and computes
the noise from it. Runs are deterministic, and the same seed gives the same noise in PyTorch,
ONNX Runtime, TorchScript and any engine that implements the ops.

The generator is counter-based, so element (channel, step) of a row depends only on the row's
seed, the stream and its own position, never on the padded length of the batch. It uses int64
Mul/Add/Mod/Div only (exact everywhere, no bitwise ops, which ONNX lacks before opset 18):
three rounds of a multiply-add modulo the prime 2^31 - 1, folding the high bits down and
squaring, give uniforms whose mean, variance, lag correlations and 2-D histogram match a uniform
distribution to within sampling error over a million draws; Box-Muller turns pairs of them into
normals. Amphion draws with torch.randn: any standard-normal source is the same model, so this
is a choice of random numbers, not a change to VITS.
"""

from __future__ import annotations

import math

import torch

MODULUS = 2**31 - 1  # prime; every intermediate product stays below 2^63
_ROUNDS = ((48271, 12345), (69621, 54321), (40692, 99991))
# Core ML computes integers in int32, where these products wrap: a converted graph would turn
# a seed into other noise than every other runtime does, so Core ML exports refuse this noise.
CORE_ML_OBSTACLE = ("its seeded noise needs int64 products (up to 2^62) and Core ML computes "
                    "integers in int32, so a seed would give other noise than in ONNX")
DURATION_STREAM = 0  # noise of the stochastic duration predictor
PRIOR_STREAM = 1  # noise of the prior sample z_p


def _mix(x: torch.Tensor) -> torch.Tensor:
    """int64 values in [0, MODULUS) -> scrambled int64 values in [0, MODULUS)."""
    for multiplier, increment in _ROUNDS:
        x = (x * multiplier + increment) % MODULUS
        x = (x + torch.div(x, 65536, rounding_mode="trunc") * 2654) % MODULUS
        x = (x * x) % MODULUS
    return x


def _uniform(counters: torch.Tensor) -> torch.Tensor:
    return (_mix(counters).to(torch.float32) + 0.5) / float(MODULUS)


def normal(seed: torch.Tensor, stream: int, channels: int, steps: torch.Tensor) -> torch.Tensor:
    """[B, channels, len(steps)] standard normals for seed [B] (int64), on steps (an int64
    Range over the time axis). Element (c, t) uses counters 2k and 2k + 1 with
    k = t * channels + c, offset by a scrambled key of (seed, stream)."""
    key = _mix((seed % MODULUS) * 2 + stream)  # [B]
    k = steps[:, None] * channels + torch.arange(channels, device=steps.device)[None, :]
    k = k.t()[None, :, :] * 2  # [1, C, T]
    offset = key[:, None, None]
    first = _uniform((k + offset) % MODULUS)
    second = _uniform((k + 1 + offset) % MODULUS)
    return torch.sqrt(-2.0 * torch.log(first)) * torch.cos((2.0 * math.pi) * second)
