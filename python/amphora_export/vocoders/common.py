"""Pieces shared by several families: config access, weight-normed convs, HiFi-GAN residual
blocks, manifest helpers, the standard mel-in/audio-out export wrapper and the "same"-padded
ISTFT that Amphion's spectral vocoders (Vocos, APNet) end with."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import weight_norm
from torch.nn.utils.weight_norm import WeightNorm

# Config access and the mel description are shared with the acoustic models; re-exported here
# because every vocoder file reads them from .common.
from ..melspec import cfg_get, mel_settings, n_mels, preprocess  # noqa: F401

# Amphion's LeakyReLU slope inside generators; the final one before conv_post is F.leaky_relu's
# default 0.01 (a quirk of the original code that trained checkpoints depend on).
LRELU_SLOPE = 0.1
FINAL_LRELU_SLOPE = 0.01

def family_section(cfg: dict, *names: str) -> dict:
    """The generator's own config section, chosen the way Amphion does: model[model.generator],
    falling back to the family's names when 'generator' is absent or names another section."""
    model = cfg_get(cfg, "model")
    generator = cfg_get(model, "generator", None)
    for name in ([generator] if generator else []) + list(names):
        section = cfg_get(model, name, None)
        if isinstance(section, dict):
            return section
    raise ValueError(f"config has no model section for generator '{generator or names[0]}' "
                     f"(model keys: {', '.join(sorted(model))})")


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


def finalize(model: nn.Module) -> nn.Module:
    """Makes a freshly built generator copyable: legacy weight_norm caches the computed weight as
    a non-leaf tensor at registration, and copy.deepcopy refuses non-leaf tensors. The cache is
    recomputed by the hook on every forward, so detaching it changes nothing else."""
    for module in model.modules():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm):
                with torch.no_grad():
                    setattr(module, hook.name, hook.compute_weight(module))
    return model.eval()


def wn_conv1d(*args, **kwargs) -> nn.Module:
    return weight_norm(nn.Conv1d(*args, **kwargs))


def wn_conv_transpose1d(*args, **kwargs) -> nn.Module:
    return weight_norm(nn.ConvTranspose1d(*args, **kwargs))


class ResBlock1(nn.Module):
    """HiFi-GAN residual block "1": three (dilated conv, plain conv) pairs, each preceded by a
    LeakyReLU, summed onto the input. Keys convs1.{0..2}, convs2.{0..2}."""

    def __init__(self, channels: int, kernel_size: int, dilations, slope: float = LRELU_SLOPE):
        super().__init__()
        self.slope = slope
        self.convs1 = nn.ModuleList(
            wn_conv1d(channels, channels, kernel_size, 1, dilation=d,
                      padding=get_padding(kernel_size, d)) for d in list(dilations)[:3])
        self.convs2 = nn.ModuleList(
            wn_conv1d(channels, channels, kernel_size, 1, dilation=1,
                      padding=get_padding(kernel_size, 1)) for _ in range(3))
        if len(self.convs1) != 3:
            raise ValueError(f"resblock '1' needs 3 dilations, got {list(dilations)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated, plain in zip(self.convs1, self.convs2):
            xt = dilated(F.leaky_relu(x, self.slope))
            xt = plain(F.leaky_relu(xt, self.slope))
            x = xt + x
        return x


class ResBlock2(nn.Module):
    """HiFi-GAN residual block "2": two dilated convs with a LeakyReLU before each. Keys
    convs.{0,1}."""

    def __init__(self, channels: int, kernel_size: int, dilations, slope: float = LRELU_SLOPE):
        super().__init__()
        self.slope = slope
        if len(dilations) < 2:
            raise ValueError(f"resblock '2' needs 2 dilations, got {list(dilations)}")
        self.convs = nn.ModuleList(
            wn_conv1d(channels, channels, kernel_size, 1, dilation=d,
                      padding=get_padding(kernel_size, d)) for d in list(dilations)[:2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = conv(F.leaky_relu(x, self.slope)) + x
        return x


def make_resblock(kind, channels: int, kernel_size: int, dilations) -> nn.Module:
    kind = str(kind)
    if kind == "1":
        return ResBlock1(channels, kernel_size, dilations)
    if kind == "2":
        return ResBlock2(channels, kernel_size, dilations)
    raise ValueError(f"unknown resblock type '{kind}' (expected \"1\" or \"2\")")


def mean_of_blocks(blocks, x: torch.Tensor) -> torch.Tensor:
    """Average of parallel residual blocks (multi-receptive-field fusion)."""
    total = blocks[0](x)
    for block in blocks[1:]:
        total = total + block(x)
    return total / len(blocks)


# ---------------------------------------------------------------------------------------------
# Manifest helpers


def waveform_head(cfg: dict) -> dict:
    return {"type": "waveform"}


def mel_names(cfg: dict) -> list:
    return ["mel"]


def audio_names(cfg: dict) -> list:
    return ["audio"]


def mel_audio_axes(cfg: dict) -> dict:
    return {"mel": {0: "batch", 2: "frames"}, "audio": {0: "batch", 2: "samples"}}


def example_mel(cfg: dict, frames: int, gen: torch.Generator, mean: float = -5.0,
                std: float = 2.0) -> torch.Tensor:
    """A random log-mel of plausible range (natural-log magnitudes sit roughly in [-11, 2])."""
    mel = torch.randn(1, n_mels(cfg), frames, generator=gen)
    return mel * std + mean


def example_mel_inputs(cfg: dict, frames: int, gen: torch.Generator) -> tuple:
    return (example_mel(cfg, frames, gen),)


class WaveformExport(nn.Module):
    """mel -> (audio,): the generator itself already is the whole computation."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, mel: torch.Tensor):
        return (self.generator(mel),)


def waveform_export(generator: nn.Module, cfg: dict) -> nn.Module:
    return WaveformExport(generator).eval()


@torch.no_grad()
def call_generator(generator: nn.Module, cfg: dict, inputs: tuple) -> torch.Tensor:
    return generator(*inputs)


def waveform_family(name: str, build, default_config, hop_length, export_module=waveform_export):
    """The FamilySpec of a generator that maps a mel [B, n_mels, T] to audio [B, 1, T*hop]
    (HiFi-GAN, BigVGAN, MelGAN): only the model, its small config and its hop differ."""
    from . import FamilySpec  # the registry module imports the family files, which import us

    return FamilySpec(name=name, build=build, default_config=default_config,
                      export_module=export_module, input_names=mel_names,
                      output_names=audio_names, dynamic_axes=mel_audio_axes,
                      example_inputs=example_mel_inputs, head=waveform_head,
                      mel_settings=mel_settings, hop_length=hop_length,
                      reference_audio=call_generator)


# ---------------------------------------------------------------------------------------------
# ISTFT with "same" padding (what Amphion's Vocos and APNet heads do after the network)


def istft_same(real: torch.Tensor, imag: torch.Tensor, n_fft: int, hop_length: int,
               window: torch.Tensor) -> torch.Tensor:
    """Inverse STFT of a one-sided spectrum [B, n_fft/2+1, frames] -> [B, frames*hop].

    irfft of each frame, times the synthesis window, overlap-added, divided by the overlap-added
    squared window, and (win-hop)/2 samples cut from each end. torch.istft cannot do this
    because its NOLA check fails at the uncropped edges."""
    win_length = window.shape[0]
    if win_length != n_fft:
        raise ValueError(f"istft: window length {win_length} != n_fft {n_fft}")
    frames = real.shape[-1]
    spec = torch.complex(real.to(torch.float64), imag.to(torch.float64))
    chunks = torch.fft.irfft(spec, n_fft, dim=1) * window.to(torch.float64)[None, :, None]
    total = (frames - 1) * hop_length + win_length
    pad = (win_length - hop_length) // 2
    signal = F.fold(chunks, output_size=(1, total), kernel_size=(1, win_length),
                    stride=(1, hop_length))[:, 0, 0, :]
    envelope = F.fold(window.to(torch.float64).square().expand(1, frames, -1).transpose(1, 2),
                      output_size=(1, total), kernel_size=(1, win_length),
                      stride=(1, hop_length))[0, 0, 0, :]
    signal = signal[:, pad:total - pad]
    envelope = envelope[pad:total - pad]
    if bool((envelope <= 1e-11).any()):
        raise ValueError("istft: window overlap-add envelope vanishes (NOLA violated)")
    return (signal / envelope).to(real.dtype)


def spectral_dynamic_axes(cfg: dict) -> dict:
    return {"mel": {0: "batch", 2: "frames"},
            "spec_real": {0: "batch", 2: "frames"},
            "spec_imag": {0: "batch", 2: "frames"}}


def spectral_names(cfg: dict) -> list:
    return ["spec_real", "spec_imag"]


def istft_head(n_fft: int, hop_length: int, win_length: int) -> dict:
    return {"type": "istft", "n_fft": int(n_fft), "hop_length": int(hop_length),
            "win_length": int(win_length), "window": "hann", "padding": "same",
            "output": "real_imag"}


def product(values) -> int:
    return int(math.prod(int(v) for v in values))
