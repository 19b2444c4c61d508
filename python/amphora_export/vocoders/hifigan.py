"""HiFi-GAN (Amphion models/vocoders/gan/generator/hifigan.py layout).

conv_pre -> per stage: LeakyReLU(0.1), ups[i] (ConvTranspose1d), mean of num_kernels resblocks
-> LeakyReLU(0.01) -> conv_post -> tanh. All convs carry legacy weight norm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import register
from .common import (FINAL_LRELU_SLOPE, LRELU_SLOPE, cfg_get, family_section, finalize,
                     make_resblock, mean_of_blocks, n_mels, product, waveform_family, wn_conv1d,
                     wn_conv_transpose1d)


class UpsampleStack(nn.Module):
    """The part HiFi-GAN shares with NSF-HiFiGAN: conv_pre, ups, resblocks, conv_post."""

    def __init__(self, n_mel: int, section: dict):
        super().__init__()
        rates = [int(r) for r in cfg_get(section, "upsample_rates")]
        kernels = [int(k) for k in cfg_get(section, "upsample_kernel_sizes")]
        initial = int(cfg_get(section, "upsample_initial_channel"))
        rb_kernels = [int(k) for k in cfg_get(section, "resblock_kernel_sizes")]
        rb_dilations = cfg_get(section, "resblock_dilation_sizes")
        kind = cfg_get(section, "resblock")
        if len(rates) != len(kernels):
            raise ValueError(f"upsample_rates {rates} and upsample_kernel_sizes {kernels} "
                             "differ in length")
        if len(rb_kernels) != len(rb_dilations):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes differ in length")
        self.num_kernels = len(rb_kernels)
        self.conv_pre = wn_conv1d(n_mel, initial, 7, 1, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(rates, kernels)):
            if (kernel - rate) % 2:
                raise ValueError(f"upsample stage {i}: kernel {kernel} - rate {rate} is odd, "
                                 "the output would not be frames*hop samples long")
            self.ups.append(wn_conv_transpose1d(initial // 2**i, initial // 2**(i + 1), kernel,
                                                rate, padding=(kernel - rate) // 2))
        for i in range(len(rates)):
            channels = initial // 2**(i + 1)
            for k, d in zip(rb_kernels, rb_dilations):
                self.resblocks.append(make_resblock(kind, channels, k, d))
        self.conv_post = wn_conv1d(initial // 2**len(rates), 1, 7, 1, padding=3)

    def stage_blocks(self, i: int):
        return self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels]

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv_post(F.leaky_relu(x, FINAL_LRELU_SLOPE)))


class HiFiGAN(UpsampleStack):
    def __init__(self, cfg: dict):
        super().__init__(n_mels(cfg), family_section(cfg, "hifigan"))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            x = mean_of_blocks(self.stage_blocks(i), x)
        return self.finish(x)


def default_config() -> dict:
    return {
        "preprocess": {"sample_rate": 16000, "n_mel": 20, "n_fft": 256, "win_size": 256,
                       "hop_size": 32, "fmin": 0, "fmax": 8000},
        "model": {"generator": "hifigan",
                  "hifigan": {"resblock": "1", "upsample_rates": [4, 4, 2],
                              "upsample_kernel_sizes": [8, 8, 4],
                              "upsample_initial_channel": 32,
                              "resblock_kernel_sizes": [3, 5],
                              "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]]}},
    }


def hop_length(cfg: dict) -> int:
    return product(cfg_get(family_section(cfg, "hifigan"), "upsample_rates"))


SPEC = register(waveform_family("hifigan", lambda cfg: finalize(HiFiGAN(cfg)), default_config,
                                 hop_length))
