"""BigVGAN (Amphion models/vocoders/gan/generator/bigvgan.py, modules/anti_aliasing,
modules/activation_functions/snake.py layout).

conv_pre -> per stage: ups[i][0] (ConvTranspose1d, no activation before it) -> mean of AMP
blocks -> activation_post (anti-aliased Snake/SnakeBeta) -> conv_post -> tanh.

Every activation is anti-aliased: upsample x2 with a Kaiser-windowed sinc, apply the periodic
nonlinearity, low-pass and downsample x2. The two 12-tap filters are buffers in the state_dict
(`.upsample.filter`, `.downsample.lowpass.filter`, shape [1,1,12]). Amphion expands them to one
filter per channel from the input's runtime shape, which an export sees as a dynamic conv weight;
here the expansion uses the channel count known at build time, so after constant folding every
depthwise conv in the exported graph has a static [C,1,12] kernel.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import register
from .common import (cfg_get, family_section, finalize, get_padding, mean_of_blocks, n_mels,
                     product, waveform_export, waveform_family, wn_conv1d, wn_conv_transpose1d)

FILTER_TAPS = 12
RATIO = 2
# Amphion's Snake adds this to the divisor so a zero alpha/beta does not divide by zero.
NO_DIV_BY_ZERO = 1e-9


def kaiser_sinc_filter(cutoff: float, half_width: float, taps: int) -> torch.Tensor:
    """Windowed-sinc low-pass, [1,1,taps], normalised to unit DC gain (julius/BigVGAN design)."""
    half = taps // 2
    attenuation = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    if attenuation > 50.0:
        beta = 0.1102 * (attenuation - 8.7)
    elif attenuation >= 21.0:
        beta = 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(taps, periodic=False, beta=beta)
    if taps % 2 == 0:
        time = torch.arange(-half, half) + 0.5
    else:
        time = torch.arange(taps) - half
    taps_values = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
    return (taps_values / taps_values.sum()).view(1, 1, taps)


def per_channel(resampler: nn.Module) -> torch.Tensor:
    """The depthwise kernel [C,1,taps]: a plain tensor constant once frozen for export (a trace
    records it as an initializer), else a view of the shared filter buffer."""
    if resampler.static_kernel is not None:
        return resampler.static_kernel
    return resampler.filter.expand(resampler.channels, 1, FILTER_TAPS)


class UpSample1d(nn.Module):
    """x2 upsampling: replicate-pad 5, depthwise transposed conv stride 2, gain 2, crop 15."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.pad = FILTER_TAPS // RATIO - 1
        self.crop_left = self.pad * RATIO + (FILTER_TAPS - RATIO) // 2
        self.crop_right = self.pad * RATIO + (FILTER_TAPS - RATIO + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / RATIO, 0.6 / RATIO, FILTER_TAPS))
        self.static_kernel = None  # set by freeze_for_export()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        kernel = per_channel(self)
        x = RATIO * F.conv_transpose1d(x, kernel, stride=RATIO, groups=self.channels)
        return x[..., self.crop_left:-self.crop_right]


class LowPassFilter1d(nn.Module):
    """Replicate-pad (5, 6), depthwise conv with the sinc filter, stride 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.pad_left = FILTER_TAPS // 2 - int(FILTER_TAPS % 2 == 0)
        self.pad_right = FILTER_TAPS // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / RATIO, 0.6 / RATIO, FILTER_TAPS))
        self.static_kernel = None  # set by freeze_for_export()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        kernel = per_channel(self)
        return F.conv1d(x, kernel, stride=RATIO, groups=self.channels)


class DownSample1d(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.lowpass = LowPassFilter1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)


class Snake(nn.Module):
    """x + 1/alpha * sin^2(alpha x), alpha per channel (stored as log alpha when logscale)."""

    def __init__(self, channels: int, logscale: bool):
        super().__init__()
        self.logscale = logscale
        self.alpha = nn.Parameter(torch.zeros(channels) if logscale else torch.ones(channels))
        self.frozen = None  # (frequency, 1/magnitude) as [1,C,1] constants, see freeze()

    def _scale(self, p: torch.Tensor) -> torch.Tensor:
        p = p.unsqueeze(0).unsqueeze(-1)
        return torch.exp(p) if self.logscale else p

    def coefficients(self):
        alpha = self._scale(self.alpha)
        return alpha, 1.0 / (alpha + NO_DIV_BY_ZERO)

    def freeze(self) -> None:
        """Precomputes exp() and the reciprocal exactly as forward would, as constants."""
        with torch.no_grad():
            self.frozen = tuple(t.detach().clone() for t in self.coefficients())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frequency, inverse = self.frozen if self.frozen is not None else self.coefficients()
        return x + inverse * torch.sin(x * frequency).pow(2)


class SnakeBeta(Snake):
    """x + 1/beta * sin^2(alpha x): beta sets the magnitude independently of the frequency."""

    def __init__(self, channels: int, logscale: bool):
        super().__init__(channels, logscale)
        self.beta = nn.Parameter(torch.zeros(channels) if logscale else torch.ones(channels))

    def coefficients(self):
        return self._scale(self.alpha), 1.0 / (self._scale(self.beta) + NO_DIV_BY_ZERO)


def make_activation(kind: str, channels: int, logscale: bool) -> nn.Module:
    if kind == "snake":
        return Snake(channels, logscale)
    if kind == "snakebeta":
        return SnakeBeta(channels, logscale)
    raise ValueError(f"bigvgan: unknown activation '{kind}' (expected snake or snakebeta)")


class Activation1d(nn.Module):
    def __init__(self, act: nn.Module, channels: int):
        super().__init__()
        self.act = act
        self.upsample = UpSample1d(channels)
        self.downsample = DownSample1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.act(self.upsample(x)))


class AMPBlock(nn.Module):
    """AMPBlock1 (resblock "1": convs1/convs2 pairs, 6 activations, even ones before convs1[k],
    odd ones before convs2[k]) or AMPBlock2 (resblock "2": convs, one activation each)."""

    def __init__(self, kind: str, channels: int, kernel: int, dilations, activation: str,
                 logscale: bool):
        super().__init__()
        self.paired = kind == "1"
        pad = get_padding
        if self.paired:
            self.convs1 = nn.ModuleList(
                wn_conv1d(channels, channels, kernel, 1, dilation=d, padding=pad(kernel, d))
                for d in list(dilations)[:3])
            self.convs2 = nn.ModuleList(
                wn_conv1d(channels, channels, kernel, 1, padding=pad(kernel, 1)) for _ in range(3))
            count = 6
        elif kind == "2":
            self.convs = nn.ModuleList(
                wn_conv1d(channels, channels, kernel, 1, dilation=d, padding=pad(kernel, d))
                for d in list(dilations)[:2])
            count = 2
        else:
            raise ValueError(f"bigvgan: unknown resblock type '{kind}' (expected \"1\" or \"2\")")
        self.activations = nn.ModuleList(
            Activation1d(make_activation(activation, channels, logscale), channels)
            for _ in range(count))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.paired:
            for k, (c1, c2) in enumerate(zip(self.convs1, self.convs2)):
                xt = c1(self.activations[2 * k](x))
                xt = c2(self.activations[2 * k + 1](xt))
                x = xt + x
        else:
            for conv, act in zip(self.convs, self.activations):
                x = conv(act(x)) + x
        return x


class BigVGAN(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        section = family_section(cfg, "bigvgan")
        rates = [int(r) for r in cfg_get(section, "upsample_rates")]
        kernels = [int(k) for k in cfg_get(section, "upsample_kernel_sizes")]
        initial = int(cfg_get(section, "upsample_initial_channel"))
        rb_kernels = [int(k) for k in cfg_get(section, "resblock_kernel_sizes")]
        rb_dilations = cfg_get(section, "resblock_dilation_sizes")
        kind = str(cfg_get(section, "resblock"))
        activation = str(cfg_get(section, "activation"))
        logscale = bool(cfg_get(section, "snake_logscale", False))
        self.num_kernels = len(rb_kernels)
        self.conv_pre = wn_conv1d(n_mels(cfg), initial, 7, 1, padding=3)
        self.ups = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(rates, kernels)):
            if (kernel - rate) % 2:
                raise ValueError(f"bigvgan upsample stage {i}: kernel {kernel} - rate {rate} "
                                 "is odd, the output would not be frames*hop samples long")
            # Nested list: the checkpoint keys are ups.<i>.0.*
            self.ups.append(nn.ModuleList([wn_conv_transpose1d(
                initial // 2**i, initial // 2**(i + 1), kernel, rate,
                padding=(kernel - rate) // 2)]))
        self.resblocks = nn.ModuleList()
        for i in range(len(rates)):
            channels = initial // 2**(i + 1)
            for k, d in zip(rb_kernels, rb_dilations):
                self.resblocks.append(AMPBlock(kind, channels, k, d, activation, logscale))
        final = initial // 2**len(rates)
        self.activation_post = Activation1d(make_activation(activation, final, logscale), final)
        self.conv_post = wn_conv1d(final, 1, 7, 1, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        n = self.num_kernels
        for i, stage in enumerate(self.ups):
            for up in stage:
                x = up(x)
            x = mean_of_blocks(self.resblocks[i * n:(i + 1) * n], x)
        return torch.tanh(self.conv_post(self.activation_post(x)))


def freeze_for_export(generator: nn.Module) -> nn.Module:
    """A copy of generator whose resampling kernels and Snake coefficients are plain constants,
    so the traced graph has static depthwise kernels and no per-call exp()/reciprocal."""
    finalize(generator)  # refresh weight-norm caches so the copy below is allowed
    frozen = copy.deepcopy(generator)
    for module in frozen.modules():
        if isinstance(module, (UpSample1d, LowPassFilter1d)):
            module.static_kernel = module.filter.detach().expand(
                module.channels, 1, FILTER_TAPS).contiguous()
        elif isinstance(module, Snake):
            module.freeze()
    return frozen.eval()


def export_module(generator: nn.Module, cfg: dict) -> nn.Module:
    return waveform_export(freeze_for_export(generator), cfg)


def default_config() -> dict:
    return {
        "preprocess": {"sample_rate": 16000, "n_mel": 20, "n_fft": 256, "win_size": 256,
                       "hop_size": 16, "fmin": 0, "fmax": None},
        "model": {"generator": "bigvgan",
                  "bigvgan": {"resblock": "1", "activation": "snakebeta", "snake_logscale": True,
                              "upsample_rates": [4, 4], "upsample_kernel_sizes": [8, 8],
                              "upsample_initial_channel": 16,
                              "resblock_kernel_sizes": [3, 5],
                              "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]]}},
    }


def hop_length(cfg: dict) -> int:
    return product(cfg_get(family_section(cfg, "bigvgan"), "upsample_rates"))


SPEC = register(waveform_family("bigvgan", lambda cfg: finalize(BigVGAN(cfg)), default_config,
                                 hop_length,
                                 export_module=export_module))
