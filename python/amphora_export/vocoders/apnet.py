"""APNet (Amphion models/vocoders/gan/generator/apnet.py layout).

No upsampling: two frame-rate branches predict the spectrum directly.
ASP (amplitude): ASP_input_conv -> mean of ASP_ResNet blocks -> LeakyReLU(0.01) ->
ASP_output_conv = log-amplitude. PSP (phase): PSP_input_conv -> mean of PSP_ResNet blocks ->
LeakyReLU(0.01) -> PSP_output_R_conv / PSP_output_I_conv, phase = atan2(I, R).
S = exp(logamp) * (cos + j sin)(phase), then an ISTFT with "same" padding and a periodic Hann
window of win_size (not a buffer: it is not in the state_dict).

The export stops at the spectrum. cos(atan2(I, R)) and sin(atan2(I, R)) are written as R/|R+jI|
and I/|R+jI| (1 and 0 where both are zero, as atan2(0, 0) = 0 gives): the same values without
an atan2, which ONNX lacks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import FamilySpec, register
from .common import (ResBlock1, cfg_get, example_mel_inputs, family_section, finalize,
                     get_padding, istft_head, istft_same, mean_of_blocks, mel_settings, n_mels,
                     preprocess, spectral_dynamic_axes, spectral_names, wn_conv1d)


def _branch_blocks(section: dict, prefix: str) -> nn.ModuleList:
    channels = int(cfg_get(section, f"{prefix}_channel"))
    kernels = cfg_get(section, f"{prefix}_resblock_kernel_sizes")
    dilations = cfg_get(section, f"{prefix}_resblock_dilation_sizes")
    if len(kernels) != len(dilations):
        raise ValueError(f"apnet: {prefix}_resblock_kernel_sizes and "
                         f"{prefix}_resblock_dilation_sizes differ in length")
    return nn.ModuleList(ResBlock1(channels, int(k), d) for k, d in zip(kernels, dilations))


def _conv(section: dict, cin: int, cout: int, kernel_key: str) -> nn.Module:
    kernel = int(cfg_get(section, kernel_key))
    return wn_conv1d(cin, cout, kernel, 1, padding=get_padding(kernel, 1))


class APNet(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        section = family_section(cfg, "apnet")
        settings = apnet_settings(cfg)
        bins = settings["n_fft"] // 2 + 1
        mels = n_mels(cfg)
        asp, psp = int(cfg_get(section, "ASP_channel")), int(cfg_get(section, "PSP_channel"))
        self.n_fft, self.hop_length = settings["n_fft"], settings["hop_length"]
        self.ASP_input_conv = _conv(section, mels, asp, "ASP_input_conv_kernel_size")
        self.PSP_input_conv = _conv(section, mels, psp, "PSP_input_conv_kernel_size")
        self.ASP_ResNet = _branch_blocks(section, "ASP")
        self.PSP_ResNet = _branch_blocks(section, "PSP")
        self.ASP_output_conv = _conv(section, asp, bins, "ASP_output_conv_kernel_size")
        self.PSP_output_R_conv = _conv(section, psp, bins, "PSP_output_R_conv_kernel_size")
        self.PSP_output_I_conv = _conv(section, psp, bins, "PSP_output_I_conv_kernel_size")

    def branches(self, mel: torch.Tensor):
        """mel -> (log-amplitude, R, I), each [B, n_fft/2+1, T]."""
        logamp = mean_of_blocks(self.ASP_ResNet, self.ASP_input_conv(mel))
        logamp = self.ASP_output_conv(F.leaky_relu(logamp))
        phase = mean_of_blocks(self.PSP_ResNet, self.PSP_input_conv(mel))
        phase = F.leaky_relu(phase)
        return logamp, self.PSP_output_R_conv(phase), self.PSP_output_I_conv(phase)

    def spectrum(self, mel: torch.Tensor):
        """Export path: (real, imag) without atan2."""
        logamp, real, imag = self.branches(mel)
        radius = torch.sqrt(real * real + imag * imag)
        # atan2(0, 0) = 0 in Amphion, so a zero bin has cos 1, sin 0. Written with arithmetic
        # on an indicator, not torch.where: ones_like/zeros_like export as Shape ->
        # ConstantOfShape (a value computed from the input length, which a streaming runtime
        # cannot chunk), Python scalars export as double, and 0-d tensors trip Core ML's fill.
        is_zero = (radius == 0).to(radius.dtype)
        safe = radius + is_zero
        cos = real / safe + is_zero
        sin = imag / safe
        amplitude = torch.exp(logamp)
        return amplitude * cos, amplitude * sin

    def forward(self, mel: torch.Tensor):
        """Amphion's forward: (logamp, phase, real, imag, audio [B, 1, T*hop])."""
        logamp, real_part, imag_part = self.branches(mel)
        phase = torch.atan2(imag_part, real_part)
        real = torch.exp(logamp) * torch.cos(phase)
        imag = torch.exp(logamp) * torch.sin(phase)
        window = torch.hann_window(self.n_fft, device=mel.device)
        audio = istft_same(real, imag, self.n_fft, self.hop_length, window)
        return logamp, phase, real, imag, audio.unsqueeze(1)


def apnet_settings(cfg: dict) -> dict:
    pre = preprocess(cfg)
    n_fft, win = int(cfg_get(pre, "n_fft")), int(cfg_get(pre, "win_size"))
    hop = int(cfg_get(pre, "hop_size"))
    if win != n_fft:
        raise ValueError(f"apnet: win_size {win} != n_fft {n_fft} (Amphion's APNet ISTFT "
                         "windows the n_fft-point frame with a win_size window)")
    if (win - hop) % 2:
        raise ValueError(f"apnet: win_size - hop_size = {win - hop} is odd; 'same' padding "
                         "would not give frames*hop samples")
    return {"n_fft": n_fft, "hop_length": hop, "win_length": win}


class SpectrumExport(nn.Module):
    def __init__(self, generator: APNet):
        super().__init__()
        self.generator = generator

    def forward(self, mel: torch.Tensor):
        return self.generator.spectrum(mel)


def default_config() -> dict:
    branch = {"channel": 16, "resblock_kernel_sizes": [3, 5],
              "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]], "input_conv_kernel_size": 7}
    section = {f"{p}_{k}": v for p in ("asp", "psp") for k, v in branch.items()}
    section.update(asp_output_conv_kernel_size=7, psp_output_r_conv_kernel_size=7,
                   psp_output_i_conv_kernel_size=7)
    return {
        "preprocess": {"sample_rate": 16000, "n_mel": 20, "n_fft": 64, "win_size": 64,
                       "hop_size": 16, "fmin": 0, "fmax": 8000},
        "model": {"generator": "apnet", "apnet": section},
    }


@torch.no_grad()
def reference_audio(generator: nn.Module, cfg: dict, inputs: tuple) -> torch.Tensor:
    return generator(*inputs)[4]


def head(cfg: dict) -> dict:
    settings = apnet_settings(cfg)
    return istft_head(settings["n_fft"], settings["hop_length"], settings["win_length"])


SPEC = register(FamilySpec(
    name="apnet",
    build=lambda cfg: finalize(APNet(cfg)),
    default_config=default_config,
    export_module=lambda generator, cfg: SpectrumExport(generator).eval(),
    input_names=lambda cfg: ["mel"],
    output_names=spectral_names,
    dynamic_axes=spectral_dynamic_axes,
    example_inputs=example_mel_inputs,
    head=head,
    mel_settings=mel_settings,
    hop_length=lambda cfg: apnet_settings(cfg)["hop_length"],
    reference_audio=reference_audio,
))
