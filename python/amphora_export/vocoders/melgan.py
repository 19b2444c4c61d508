"""MelGAN (Amphion models/vocoders/gan/generator/melgan.py layout).

Everything sits in one nn.Sequential named `model`, so checkpoint keys are positional
(`model.<index>.*`): the layer order below must not change. With ratios [8,8,2,2], ngf 32 and
3 residual layers the transposed convs land at model.3/8/13/18 and the last conv at model.24.
"""

from __future__ import annotations

import torch
from torch import nn

from . import register
from .common import (cfg_get, family_section, finalize, n_mels, product, waveform_family, wn_conv1d,
                     wn_conv_transpose1d)

SLOPE = 0.2


class ResnetBlock(nn.Module):
    """shortcut(x) + block(x), block = LReLU, ReflectionPad(d), conv k3 dil d, LReLU, conv k1.
    The convs are therefore block.2 and block.4."""

    def __init__(self, dim: int, dilation: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.LeakyReLU(SLOPE),
            nn.ReflectionPad1d(dilation),
            wn_conv1d(dim, dim, kernel_size=3, dilation=dilation),
            nn.LeakyReLU(SLOPE),
            wn_conv1d(dim, dim, kernel_size=1),
        )
        self.shortcut = wn_conv1d(dim, dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


class MelGAN(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        section = family_section(cfg, "melgan")
        ratios = [int(r) for r in cfg_get(section, "ratios")]
        ngf = int(cfg_get(section, "ngf"))
        n_residual = int(cfg_get(section, "n_residual_layers"))
        mult = 2**len(ratios)
        layers = [nn.ReflectionPad1d(3), wn_conv1d(n_mels(cfg), mult * ngf, kernel_size=7)]
        for r in ratios:
            layers += [
                nn.LeakyReLU(SLOPE),
                # Odd ratios need output_padding for the output to be exactly r times longer.
                wn_conv_transpose1d(mult * ngf, mult * ngf // 2, kernel_size=2 * r, stride=r,
                                    padding=r // 2 + r % 2, output_padding=r % 2),
            ]
            layers += [ResnetBlock(mult * ngf // 2, dilation=3**j) for j in range(n_residual)]
            mult //= 2
        layers += [nn.LeakyReLU(SLOPE), nn.ReflectionPad1d(3), wn_conv1d(ngf, 1, kernel_size=7),
                   nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.model(mel)


def default_config() -> dict:
    return {
        "preprocess": {"sample_rate": 16000, "n_mel": 20, "n_fft": 256, "win_size": 256,
                       "hop_size": 32, "fmin": 0, "fmax": 8000},
        "model": {"generator": "melgan",
                  "melgan": {"ratios": [4, 4, 2], "ngf": 4, "n_residual_layers": 2}},
    }


def hop_length(cfg: dict) -> int:
    return product(cfg_get(family_section(cfg, "melgan"), "ratios"))


SPEC = register(waveform_family("melgan", lambda cfg: finalize(MelGAN(cfg)), default_config,
                                 hop_length))
