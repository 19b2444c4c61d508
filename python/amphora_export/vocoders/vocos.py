"""Vocos (Amphion models/codec/amphion_codec/vocos.py layout; used by Vevo, MaskGCT, DualCodec).

backbone: embed (Conv1d k7) -> LayerNorm -> N ConvNeXt blocks -> final LayerNorm;
head: Linear dim -> n_fft+2, split into log-magnitude and phase, magnitude = min(exp(.), 100),
S = mag * (cos p + j sin p), then an ISTFT with "same" padding.

ONNX has no ISTFT, so the export stops at the complex spectrum (spec_real, spec_imag) and the
manifest's head tells the runtime how to invert it. No weight norm in this family.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import FamilySpec, register
from .common import (cfg_get, example_mel, family_section, finalize, istft_head, istft_same,
                     mel_settings, n_mels, preprocess, spectral_dynamic_axes, spectral_names)

MAX_MAGNITUDE = 1e2


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim)) if layer_scale > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x).transpose(1, 2))
        y = self.pwconv2(self.act(self.pwconv1(y)))
        if self.gamma is not None:
            y = self.gamma * y
        return x + y.transpose(1, 2)


class Backbone(nn.Module):
    def __init__(self, channels: int, dim: int, intermediate_dim: int, layers: int,
                 layer_scale: float):
        super().__init__()
        self.embed = nn.Conv1d(channels, dim, kernel_size=7, padding=3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.convnext = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, layer_scale) for _ in range(layers))
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """[B, n_mels, T] -> [B, T, dim]"""
        x = self.norm(self.embed(mel).transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            x = block(x)
        return self.final_layer_norm(x.transpose(1, 2))


class ISTFT(nn.Module):
    """Holds the synthesis window buffer under Amphion's key (head.istft.window)."""

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.register_buffer("window", torch.hann_window(n_fft))


class ISTFTHead(nn.Module):
    def __init__(self, dim: int, n_fft: int, hop_length: int):
        super().__init__()
        self.out = nn.Linear(dim, n_fft + 2)
        self.istft = ISTFT(n_fft, hop_length)

    def spectrum(self, x: torch.Tensor):
        """[B, T, dim] -> (real, imag), each [B, n_fft/2+1, T]."""
        magnitude, phase = self.out(x).transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.clamp(torch.exp(magnitude), max=MAX_MAGNITUDE)
        return magnitude * torch.cos(phase), magnitude * torch.sin(phase)


class Vocos(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        section = family_section(cfg, "vocos")
        settings = vocos_settings(cfg)
        if cfg_get(section, "adanorm_num_embeddings", None):
            raise ValueError("vocos: adanorm_num_embeddings (bandwidth-conditioned LayerNorm) "
                             "is not supported for export")
        if settings["padding"] != "same":
            raise ValueError(f"vocos: padding '{settings['padding']}' is not supported "
                             "(only Amphion's default 'same')")
        # Defaults are Amphion's Vocos constructor defaults, used when the section omits a key.
        layers = int(cfg_get(section, "num_layers", 8))
        layer_scale = cfg_get(section, "layer_scale_init_value", None) or 1 / layers
        channels = int(cfg_get(section, "input_channels", 256))
        dim = int(cfg_get(section, "dim", 384))
        if channels != n_mels(cfg):
            raise ValueError(f"vocos: model input_channels {channels} != preprocess n_mel "
                             f"{n_mels(cfg)}")
        self.backbone = Backbone(channels, dim, int(cfg_get(section, "intermediate_dim", 1152)),
                                 layers, float(layer_scale))
        self.head = ISTFTHead(dim, settings["n_fft"], settings["hop_length"])

    def spectrum(self, mel: torch.Tensor):
        return self.head.spectrum(self.backbone(mel))

    def from_spectrum(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """The head's ISTFT: (real, imag) -> audio [B, 1, T*hop]."""
        istft = self.head.istft
        return istft_same(real, imag, istft.n_fft, istft.hop_length, istft.window).unsqueeze(1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Amphion's full forward: mel -> audio [B, 1, T*hop]."""
        return self.from_spectrum(*self.spectrum(mel))


def vocos_settings(cfg: dict) -> dict:
    """n_fft/hop as Amphion's Vocos(cfg=model.vocos) reads them: from the vocos section, else its
    constructor defaults 800/200 (not preprocess, which the model never sees)."""
    section = family_section(cfg, "vocos")
    n_fft = cfg_get(section, "n_fft", 800)
    hop = cfg_get(section, "hop_size", 200)
    return {"n_fft": int(n_fft), "hop_length": int(hop),
            "padding": str(cfg_get(section, "padding", "same"))}


class SpectrumExport(nn.Module):
    def __init__(self, generator: Vocos):
        super().__init__()
        self.generator = generator

    def forward(self, mel: torch.Tensor):
        return self.generator.spectrum(mel)


def mel_norm(cfg: dict):
    """Vevo-style configs normalise the log-mel: (mel - mel_mean) / sqrt(mel_var)."""
    pre = preprocess(cfg)
    mean, var = cfg_get(pre, "mel_mean", None), cfg_get(pre, "mel_var", None)
    if mean is None or var is None:
        return None
    return {"mean": float(mean), "std": math.sqrt(float(var))}


def default_config() -> dict:
    return {
        "preprocess": {"sample_rate": 24000, "n_mel": 24, "n_fft": 64, "win_size": 64,
                       "hop_size": 16, "fmin": 0, "fmax": 12000, "mel_mean": -4.92,
                       "mel_var": 8.14},
        "model": {"generator": "vocos",
                  "vocos": {"input_channels": 24, "dim": 32, "intermediate_dim": 64,
                            "num_layers": 2, "n_fft": 64, "hop_size": 16, "padding": "same"}},
    }


def example_inputs(cfg: dict, frames: int, gen: torch.Generator) -> tuple:
    # Normalised mels when the config normalises, raw log-mels otherwise.
    if mel_norm(cfg) is not None:
        return (example_mel(cfg, frames, gen, mean=0.0, std=1.0),)
    return (example_mel(cfg, frames, gen),)


def head(cfg: dict) -> dict:
    settings = vocos_settings(cfg)
    return istft_head(settings["n_fft"], settings["hop_length"], settings["n_fft"])


@torch.no_grad()
def reference_audio(generator: nn.Module, cfg: dict, inputs: tuple) -> torch.Tensor:
    return generator(*inputs)


SPEC = register(FamilySpec(
    name="vocos",
    build=lambda cfg: finalize(Vocos(cfg)),
    default_config=default_config,
    export_module=lambda generator, cfg: SpectrumExport(generator).eval(),
    input_names=lambda cfg: ["mel"],
    output_names=spectral_names,
    dynamic_axes=spectral_dynamic_axes,
    example_inputs=example_inputs,
    head=head,
    mel_settings=lambda cfg: mel_settings(cfg, norm=mel_norm(cfg)),
    hop_length=lambda cfg: vocos_settings(cfg)["hop_length"],
    reference_audio=reference_audio,
))
