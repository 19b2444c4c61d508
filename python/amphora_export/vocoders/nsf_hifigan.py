"""NSF-HiFiGAN (Amphion models/vocoders/gan/generator/nsfhifigan.py and
modules/neural_source_filter/sine_excitation.py layout).

HiFi-GAN whose every upsampling stage also receives a harmonic source signal built from f0:
m_source.l_linear mixes harmonic_num+1 sines (plus noise) into one excitation, noise_convs[i]
brings it to stage i's rate. Inputs: mel [B, n_mels, T], f0 [B, T] in Hz at frame rate, and
noise [B, harmonic_num+1, T*hop], standard normal.

Determinism. Amphion draws the source noise with randn and the initial phase of each harmonic
(except the fundamental) with rand. Here the noise is the explicit "noise" input, and the initial
phases are derived from it: Phi(noise[:, h, 0]) (the normal CDF), which is uniform on (0, 1) when
the input is standard normal, as Amphion's are.

Amphion's x_source defect. Amphion writes `x_source = x[:, :, :length]` where it meant the
source, so each stage computes x + x and the harmonic source never reaches the output (f0 and
noise have no effect). That is reproduced by default, because trained checkpoints depend on it;
model.nsfhifigan.fix_x_source = true selects the intended x + noise_convs[i](source).

Phase accumulation in float32. Amphion accumulates the per-sample phase increment f0*h/fs with a
float64 cumsum over all samples. ONNX runtimes, Core ML and our C++ runtime want float32, where a
plain running sum over ~10^6 samples loses ~10^-2 cycles. The export computes the same phase
exactly instead: the increment is constant within a frame, so
    phase(t, k) = frac(hop * sum_{s<t} inc[s]) + (k+1) * inc[t]      (k = 0..hop-1)
and inc is split into parts (multiples of 2^-12, of 2^-24, and a remainder below 2^-24) whose
products with hop or k+1 are exact in float32 for hop <= 2048. The frame-level running sums are
ONNX CumSum nodes over parts whose partial sums stay exactly representable up to 65536 frames,
and only a few bounded additions round, so the phase matches the float64 reference to ~2e-7
cycles whatever the length (tested; a plain float32 cumsum is off by ~1e-3 cycles after 10^6
samples). Beyond those bounds accuracy degrades gradually towards that of a plain float32 sum.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import FamilySpec, register
from .common import (LRELU_SLOPE, cfg_get, example_mel, family_section, finalize, mean_of_blocks,
                     mel_settings, n_mels, preprocess, product, waveform_head)
from .hifigan import UpsampleStack

SINE_AMP = 0.1
NOISE_STD = 0.003
VOICED_THRESHOLD = 0.0
SECTION_NAMES = ("nsfhifigan", "nsf_hifigan")


def _frac(x: torch.Tensor) -> torch.Tensor:
    return x - torch.floor(x)


def _split(x: torch.Tensor, bits: int):
    """x = coarse + fine with coarse a multiple of 2^-bits; both parts exact in float32."""
    scale = float(2**bits)
    coarse = torch.floor(x * scale) / scale
    return coarse, x - coarse


def _exact_cumsum_frac(x: torch.Tensor, dim: int) -> torch.Tensor:
    """frac(cumsum(x)) for x in [0, ~2) that is a multiple of 2^-24: three CumSums of parts
    (multiples of 2^-8, of 2^-16, and the rest) whose partial sums stay exactly representable
    in float32 for up to 65536 terms, so no rounding error accumulates."""
    coarse, rest = _split(x, 8)
    middle, fine = _split(rest, 16)
    total = (_frac(torch.cumsum(coarse, dim)) + _frac(torch.cumsum(middle, dim))
             + torch.cumsum(fine, dim))
    return _frac(total)


def harmonic_increments(f0: torch.Tensor, noise: torch.Tensor, sample_rate: int,
                        dim: int) -> torch.Tensor:
    """Per-frame phase increment in cycles/sample, [B, D, T], with the initial phase folded into
    frame 0 as Amphion does (f0 [B, T], noise [B, D, N], D = dim = harmonic_num + 1 given as a
    constant so the graph needs no shape arithmetic)."""
    harmonics = torch.arange(1, dim + 1, dtype=f0.dtype).view(1, dim, 1)
    increments = torch.remainder(f0.unsqueeze(1) * harmonics / sample_rate, 1.0)
    initial = 0.5 * (1.0 + torch.erf(noise[:, :, 0] * (1.0 / math.sqrt(2.0))))
    not_fundamental = (torch.arange(dim) > 0).to(f0.dtype).view(1, dim)
    initial = (initial * not_fundamental).unsqueeze(-1)
    return torch.cat([increments[:, :, :1] + initial, increments[:, :, 1:]], dim=2)


def _exclusive(x: torch.Tensor) -> torch.Tensor:
    """Shift one frame right along the last axis, so a cumsum gives the sum of earlier frames."""
    return torch.cat([torch.zeros_like(x[..., :1]), x[..., :-1]], dim=-1)


def harmonic_phase(f0: torch.Tensor, noise: torch.Tensor, sample_rate: int, hop: int,
                   dim: int) -> torch.Tensor:
    """Fractional phase in cycles [B, D, T*hop], float32-exact (module docstring).

    The increment inc is split as inc = i1 + i2 + i3 with i1 a multiple of 2^-12, i2 a multiple
    of 2^-24 below 2^-12 and i3 < 2^-24, so that n*i1 and n*i2 are exact for n <= 2048."""
    increments = harmonic_increments(f0, noise, sample_rate, dim)
    i1, rest = _split(increments, 12)
    i2, i3 = _split(rest, 24)
    # Phase at the start of each frame: frac(hop * sum of earlier increments), part by part.
    start = (_exact_cumsum_frac(_exclusive(_frac(hop * i1)), dim=2)
             + _exact_cumsum_frac(_exclusive(hop * i2), dim=2)
             + torch.cumsum(_exclusive(hop * i3), dim=2))
    steps = torch.arange(1, hop + 1, dtype=f0.dtype)  # sample k of a frame has advanced k+1
    within = (_frac(i1.unsqueeze(-1) * steps) + i2.unsqueeze(-1) * steps
              + i3.unsqueeze(-1) * steps)
    return _frac(_frac(start).unsqueeze(-1) + within).flatten(2)


def frames_to_samples(x: torch.Tensor, hop: int) -> torch.Tensor:
    """Nearest-neighbour upsampling along the last axis: [..., T] -> [..., T*hop]."""
    return (x.unsqueeze(-1) * torch.ones(hop, dtype=x.dtype)).flatten(-2)


def mix_source(sines: torch.Tensor, f0: torch.Tensor, noise: torch.Tensor,
               hop: int) -> torch.Tensor:
    """Amphion's voicing: voiced samples get the sines plus faint noise, unvoiced ones only
    noise of amplitude amp/3. sines/noise [B, D, N], f0 [B, T] -> [B, D, N]."""
    voiced = frames_to_samples((f0 > VOICED_THRESHOLD).to(sines.dtype).unsqueeze(1), hop)
    noise_amp = voiced * NOISE_STD + (1 - voiced) * SINE_AMP / 3
    return sines * voiced + noise_amp * noise


class SourceModule(nn.Module):
    """m_source: harmonic sines -> l_linear -> tanh, one excitation channel [B, 1, N]."""

    def __init__(self, sample_rate: int, harmonic_num: int, hop: int):
        super().__init__()
        self.sample_rate, self.hop, self.dim = sample_rate, hop, harmonic_num + 1
        self.l_linear = nn.Linear(harmonic_num + 1, 1)

    def merge(self, source: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.l_linear(source.transpose(1, 2))).transpose(1, 2)

    def forward(self, f0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        phase = harmonic_phase(f0, noise, self.sample_rate, self.hop, self.dim)
        sines = SINE_AMP * torch.sin(2 * math.pi * phase)
        return self.merge(mix_source(sines, f0, noise, self.hop))

    @torch.no_grad()
    def reference(self, f0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Amphion's formulation: nearest-upsampled increments, float64 cumsum over samples with
        its integer wrap corrections (which do not change the sine), interpolate-based
        upsampling."""
        hop = self.hop
        increments = harmonic_increments(f0, noise, self.sample_rate, self.dim)
        increments = increments.transpose(1, 2)  # [B, T, D] as Amphion lays it out
        coarse = torch.cumsum(increments.double(), 1).float() * hop
        coarse = F.interpolate(coarse.transpose(2, 1), scale_factor=hop, mode="linear",
                               align_corners=True).transpose(2, 1)
        per_sample = F.interpolate(increments.transpose(2, 1), scale_factor=hop,
                                   mode="nearest").transpose(2, 1)
        coarse = coarse % 1
        wraps = (coarse[:, 1:, :] - coarse[:, :-1, :]) < 0
        shift = torch.zeros_like(per_sample)
        shift[:, 1:, :] = wraps * -1.0
        phase = torch.cumsum(per_sample.double() + shift.double(), dim=1)
        sines = (torch.sin(phase * 2 * math.pi).float() * SINE_AMP).transpose(1, 2)
        return self.merge(mix_source(sines, f0, noise, hop))


class NSFHiFiGAN(UpsampleStack):
    def __init__(self, cfg: dict):
        section = family_section(cfg, *SECTION_NAMES)
        super().__init__(n_mels(cfg), section)
        rates = [int(r) for r in cfg_get(section, "upsample_rates")]
        initial = int(cfg_get(section, "upsample_initial_channel"))
        self.hop = product(rates)
        self.fix_x_source = bool(cfg_get(section, "fix_x_source", False))
        self.m_source = SourceModule(int(cfg_get(preprocess(cfg), "sample_rate")),
                                     int(cfg_get(section, "harmonic_num")), self.hop)
        self.noise_convs = nn.ModuleList()
        for i in range(len(rates)):
            channels = initial // 2**(i + 1)
            stride = product(rates[i + 1:])
            if stride == 1:
                self.noise_convs.append(nn.Conv1d(1, channels, kernel_size=1))
            elif stride % 2:
                # Odd strides make Amphion's source one sample short of the stage and the
                # output shorter than frames*hop; no released config has them.
                raise ValueError(f"nsf_hifigan stage {i}: source stride {stride} is odd "
                                 "(product of later upsample_rates must be even)")
            else:
                self.noise_convs.append(nn.Conv1d(1, channels, kernel_size=2 * stride,
                                                  stride=stride, padding=stride // 2))

    def filter(self, mel: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            if self.fix_x_source:
                x = x + self.noise_convs[i](source)
            else:
                x = x + x  # Amphion's defect: x_source is a copy of x (module docstring)
            x = mean_of_blocks(self.stage_blocks(i), x)
        return self.finish(x)

    def forward(self, mel: torch.Tensor, f0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Export path: float32-exact phase; with the defect the source is never computed."""
        return self.filter(mel, self.m_source(f0, noise) if self.fix_x_source else None)

    @torch.no_grad()
    def reference(self, mel, f0, noise) -> torch.Tensor:
        """Amphion's forward, which computes the source even when the defect discards it."""
        return self.filter(mel, self.m_source.reference(f0, noise))


class NSFExport(nn.Module):
    def __init__(self, generator: NSFHiFiGAN):
        super().__init__()
        self.generator = generator

    def forward(self, mel: torch.Tensor, f0: torch.Tensor, noise: torch.Tensor):
        audio = self.generator(mel, f0, noise)
        if not self.generator.fix_x_source:
            # With the defect f0 and noise do not affect the audio, and the ONNX exporter would
            # drop them from the graph's inputs. Adding zeros shaped by them (ConstantOfShape,
            # no dependence on their values) keeps the declared interface mel, f0, noise.
            anchor = torch.zeros_like(f0[:, :1]) + torch.zeros_like(noise[:, 0, :1])
            audio = audio + anchor.unsqueeze(-1)
        return (audio,)


def default_config() -> dict:
    return {
        "preprocess": {"sample_rate": 16000, "n_mel": 20, "n_fft": 256, "win_size": 256,
                       "hop_size": 32, "fmin": 0, "fmax": 8000},
        "model": {"generator": "nsfhifigan",
                  "nsfhifigan": {"resblock": "1", "harmonic_num": 4,
                                 "upsample_rates": [4, 4, 2], "upsample_kernel_sizes": [8, 8, 4],
                                 "upsample_initial_channel": 32,
                                 "resblock_kernel_sizes": [3, 5],
                                 "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
                                 "fix_x_source": False}},
    }


def hop_length(cfg: dict) -> int:
    return product(cfg_get(family_section(cfg, *SECTION_NAMES), "upsample_rates"))


def example_inputs(cfg: dict, frames: int, gen: torch.Generator) -> tuple:
    """mel, an f0 contour of 80-400 Hz with about a fifth of the frames unvoiced (0 Hz), and
    standard-normal noise."""
    section = family_section(cfg, *SECTION_NAMES)
    mel = example_mel(cfg, frames, gen)
    f0 = 80.0 + 320.0 * torch.rand(1, frames, generator=gen)
    f0 = f0 * (torch.rand(1, frames, generator=gen) > 0.2).float()
    dim = int(cfg_get(section, "harmonic_num")) + 1
    noise = torch.randn(1, dim, frames * hop_length(cfg), generator=gen)
    return mel, f0, noise


SPEC = register(FamilySpec(
    name="nsf_hifigan",
    build=lambda cfg: finalize(NSFHiFiGAN(cfg)),
    default_config=default_config,
    export_module=lambda generator, cfg: NSFExport(generator).eval(),
    input_names=lambda cfg: ["mel", "f0", "noise"],
    output_names=lambda cfg: ["audio"],
    dynamic_axes=lambda cfg: {"mel": {0: "batch", 2: "frames"}, "f0": {0: "batch", 1: "frames"},
                              "noise": {0: "batch", 2: "samples"},
                              "audio": {0: "batch", 2: "samples"}},
    example_inputs=example_inputs,
    head=waveform_head,
    mel_settings=mel_settings,
    hop_length=hop_length,
    reference_audio=lambda generator, cfg, inputs: generator.reference(*inputs),
))
