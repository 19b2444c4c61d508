"""HiFi-GAN's discriminators and losses (Kong et al., 2020), to fine-tune a vocoder generator
adversarially: what a generator trained on spectral losses alone lacks is phase and periodicity,
which is what PESQ hears (the mel-only reference vocoder loses to Griffin-Lim there).

- Multi-period discriminator: the waveform folded into [T / p, p] for p in 2, 3, 5, 7, 11, each
  read by 2-D convs along time (kernel 5 x 1, stride 3) with weight norm.
- Multi-scale discriminator: grouped 1-D convs on the waveform (spectral norm) and on two
  average-pooled copies (weight norm).
- Least-squares adversarial losses, and feature matching (L1 between the discriminators' hidden
  layers on real and generated audio).

`width` scales every channel count (1.0 is HiFi-GAN's; a CPU run may take 0.5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm, weight_norm

SLOPE = 0.1  # HiFi-GAN's LeakyReLU slope in the discriminators
PERIODS = (2, 3, 5, 7, 11)


def _scaled(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


def _through(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor):
    """The convs with LeakyReLU, then the scoring conv: (flattened scores, every layer's output)."""
    features = []
    for conv in convs:
        x = F.leaky_relu(conv(x), SLOPE)
        features.append(x)
    x = post(x)
    features.append(x)
    return x.flatten(1), features


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, width: float = 1.0):
        super().__init__()
        self.period = period
        sizes = [1] + [_scaled(c, width) for c in (32, 128, 512, 1024)]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(sizes[i], sizes[i + 1], (5, 1), (3, 1), padding=(2, 0)))
            for i in range(4))
        self.convs.append(weight_norm(nn.Conv2d(sizes[-1], sizes[-1], (5, 1), 1, padding=(2, 0))))
        self.post = weight_norm(nn.Conv2d(sizes[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, length = x.shape
        if length % self.period:
            x = F.pad(x, (0, self.period - length % self.period), "reflect")
        return _through(self.convs, self.post, x.view(batch, channels, -1, self.period))


class ScaleDiscriminator(nn.Module):
    def __init__(self, width: float = 1.0, spectral: bool = False):
        super().__init__()
        norm = spectral_norm if spectral else weight_norm
        c = [_scaled(n, width) for n in (16, 64, 256, 1024)]
        # (in, out, kernel, stride, groups); groups shrink with the width so they divide both.
        layers = [(1, c[0], 15, 1, 1), (c[0], c[1], 41, 4, 4), (c[1], c[2], 41, 4, 16),
                  (c[2], c[3], 41, 4, 64), (c[3], c[3], 41, 4, 256), (c[3], c[3], 5, 1, 1)]
        self.convs = nn.ModuleList()
        for cin, cout, k, s, g in layers:
            while cin % g or cout % g:
                g //= 2
            self.convs.append(norm(nn.Conv1d(cin, cout, k, s, groups=g, padding=(k - 1) // 2)))
        self.post = norm(nn.Conv1d(c[3], 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _through(self.convs, self.post, x)


class Discriminators(nn.Module):
    """Every period and scale discriminator; forward gives each one's score and features."""

    def __init__(self, width: float = 1.0):
        super().__init__()
        self.periods = nn.ModuleList(PeriodDiscriminator(p, width) for p in PERIODS)
        self.scales = nn.ModuleList([ScaleDiscriminator(width, spectral=True),
                                     ScaleDiscriminator(width), ScaleDiscriminator(width)])
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, audio: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        """audio [B, 1, T]."""
        results = [d(audio) for d in self.periods]
        x = audio
        for i, d in enumerate(self.scales):
            if i > 0:
                x = self.pool(x)
            results.append(d(x))
        return results


def discriminator_loss(real, fake) -> torch.Tensor:
    """Least squares: real scored 1, generated scored 0."""
    return sum(((1 - r) ** 2).mean() + (f ** 2).mean() for (r, _), (f, _) in zip(real, fake))


def generator_loss(fake) -> torch.Tensor:
    """Least squares: the generator wants its audio scored 1."""
    return sum(((1 - f) ** 2).mean() for f, _ in fake)


def feature_matching(real, fake) -> torch.Tensor:
    """L1 between the discriminators' hidden layers on real and generated audio."""
    return sum((r - f).abs().mean() for (_, rs), (_, fs) in zip(real, fake)
               for r, f in zip(rs, fs))
