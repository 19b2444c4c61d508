"""VITS flows and duration predictors (Amphion modules/flow/modules.py,
modules/transformer/transforms.py, modules/duration_predictor/*), inference (reverse)
direction only, with Amphion's submodule names.

The rational-quadratic spline of the stochastic duration predictor is where Amphion's code is
least graph-friendly: it transforms only the inputs inside the tail bound, by boolean-mask
indexing (NonZero and scatter in ONNX, shapes that depend on the data). `spline_inverse_graph`
evaluates the spline on every element, with the input clamped into the bound, and selects with
a Where; `spline_inverse_amphion` keeps Amphion's masked form as the reference.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import weight_norm

from .vits_text import ChannelLayerNorm

MIN_BIN_WIDTH = MIN_BIN_HEIGHT = MIN_DERIVATIVE = 1e-3
SEARCH_EPS = 1e-6


class WN(nn.Module):
    """WaveNet-style stack: keys in_layers.N, res_skip_layers.N, cond_layer (when gin_channels),
    all with legacy weight norm (weight_g, weight_v)."""

    def __init__(self, hidden: int, kernel_size: int, dilation_rate: int, n_layers: int,
                 gin_channels: int = 0):
        super().__init__()
        self.hidden, self.n_layers = hidden, n_layers
        if gin_channels:
            self.cond_layer = weight_norm(nn.Conv1d(gin_channels, 2 * hidden * n_layers, 1))
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        for i in range(n_layers):
            dilation = dilation_rate ** i
            padding = int((kernel_size * dilation - dilation) / 2)
            self.in_layers.append(weight_norm(nn.Conv1d(hidden, 2 * hidden, kernel_size,
                                                        dilation=dilation, padding=padding)))
            out = 2 * hidden if i < n_layers - 1 else hidden
            self.res_skip_layers.append(weight_norm(nn.Conv1d(hidden, out, 1)))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g=None) -> torch.Tensor:
        output = torch.zeros_like(x)
        if g is not None:
            g = self.cond_layer(g)
        for i, (in_layer, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers)):
            x_in = in_layer(x)
            if g is not None:
                x_in = x_in + g[:, i * 2 * self.hidden:(i + 1) * 2 * self.hidden, :]
            acts = torch.tanh(x_in[:, :self.hidden]) * torch.sigmoid(x_in[:, self.hidden:])
            res_skip_acts = res_skip(acts)
            if i < self.n_layers - 1:
                x = (x + res_skip_acts[:, :self.hidden]) * x_mask
                output = output + res_skip_acts[:, self.hidden:]
            else:
                output = output + res_skip_acts
        return output * x_mask


class ResidualCouplingLayer(nn.Module):
    """Mean-only affine coupling (keys pre, enc, post), inverted."""

    def __init__(self, channels: int, hidden: int, kernel_size: int, dilation_rate: int,
                 n_layers: int, gin_channels: int = 0):
        super().__init__()
        self.half = channels // 2
        self.pre = nn.Conv1d(self.half, hidden, 1)
        self.enc = WN(hidden, kernel_size, dilation_rate, n_layers, gin_channels)
        self.post = nn.Conv1d(hidden, self.half, 1)
        # Amphion starts every coupling as the identity; a checkpoint brings trained values.
        nn.init.zeros_(self.post.weight)
        nn.init.zeros_(self.post.bias)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g=None) -> torch.Tensor:
        x0, x1 = torch.split(x, [self.half, self.half], 1)
        h = self.enc(self.pre(x0) * x_mask, x_mask, g)
        m = self.post(h) * x_mask
        # Amphion multiplies by exp(-logs) with logs = 0 (mean-only): exactly 1.
        return torch.cat([x0, (x1 - m) * x_mask], 1)


class Flip(nn.Module):
    """No parameters; reverses the channel order (its own inverse)."""

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return torch.flip(x, [1])


class ResidualCouplingBlock(nn.Module):
    """Keys flows.{0,2,4,6}.* (couplings; the odd entries are Flips)."""

    def __init__(self, channels: int, hidden: int, kernel_size: int, dilation_rate: int,
                 n_layers: int, n_flows: int = 4, gin_channels: int = 0):
        super().__init__()
        self.flows = nn.ModuleList()
        for _ in range(n_flows):
            self.flows.append(ResidualCouplingLayer(channels, hidden, kernel_size,
                                                    dilation_rate, n_layers, gin_channels))
            self.flows.append(Flip())

    def inverse(self, x: torch.Tensor, x_mask: torch.Tensor, g=None) -> torch.Tensor:
        for flow in reversed(self.flows):
            x = flow(x, x_mask, g)
        return x


class PosteriorEncoder(nn.Module):
    """Training-only (spectrogram -> latent); built so that its keys load, never run."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int, kernel_size: int,
                 dilation_rate: int, n_layers: int, gin_channels: int = 0):
        super().__init__()
        self.pre = nn.Conv1d(in_channels, hidden, 1)
        self.enc = WN(hidden, kernel_size, dilation_rate, n_layers, gin_channels)
        self.proj = nn.Conv1d(hidden, out_channels * 2, 1)


class DDSConv(nn.Module):
    """Dilated depth-separable convs: keys convs_sep.N, convs_1x1.N, norms_1.N, norms_2.N."""

    def __init__(self, channels: int, kernel_size: int, n_layers: int):
        super().__init__()
        self.convs_sep = nn.ModuleList()
        self.convs_1x1 = nn.ModuleList()
        self.norms_1 = nn.ModuleList()
        self.norms_2 = nn.ModuleList()
        for i in range(n_layers):
            dilation = kernel_size ** i
            padding = (kernel_size * dilation - dilation) // 2
            self.convs_sep.append(nn.Conv1d(channels, channels, kernel_size, groups=channels,
                                            dilation=dilation, padding=padding))
            self.convs_1x1.append(nn.Conv1d(channels, channels, 1))
            self.norms_1.append(ChannelLayerNorm(channels))
            self.norms_2.append(ChannelLayerNorm(channels))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g=None) -> torch.Tensor:
        if g is not None:
            x = x + g
        for sep, one, norm_1, norm_2 in zip(self.convs_sep, self.convs_1x1, self.norms_1,
                                            self.norms_2):
            y = F.gelu(norm_1(sep(x * x_mask)))
            x = x + F.gelu(norm_2(one(y)))
        return x * x_mask


# ---------------------------------------------------------------------------------------------
# The rational-quadratic spline, inverse direction, "linear" tails


def _spline_parameters(widths, heights, derivatives, bound: float) -> tuple:
    """Bin edges, sizes and knot derivatives as Amphion's rational_quadratic_spline computes
    them on [-bound, bound]; derivatives arrive padded with the tail constant."""
    num_bins = widths.shape[-1]
    left = -bound

    def edges(unnormalised, minimum):
        sizes = minimum + (1 - minimum * num_bins) * F.softmax(unnormalised, dim=-1)
        cum = F.pad(torch.cumsum(sizes, dim=-1), (1, 0), value=0.0)
        cum = (2 * bound) * cum + left
        # Amphion pins the first edge to -bound (already exact) and the last to +bound.
        cum = torch.cat([cum[..., :-1], torch.full_like(cum[..., -1:], bound)], dim=-1)
        return cum, cum[..., 1:] - cum[..., :-1]

    cumwidths, bin_widths = edges(widths, MIN_BIN_WIDTH)
    cumheights, bin_heights = edges(heights, MIN_BIN_HEIGHT)
    knots = MIN_DERIVATIVE + F.softplus(derivatives)
    return cumwidths, bin_widths, cumheights, bin_heights, knots


def _spline_inverse_inside(inputs, widths, heights, derivatives, bound: float):
    cumwidths, bin_widths, cumheights, bin_heights, knots = _spline_parameters(
        widths, heights, derivatives, bound)
    # Amphion's searchsorted adds eps to the last edge before counting.
    search = torch.cat([cumheights[..., :-1], cumheights[..., -1:] + SEARCH_EPS], dim=-1)
    index = (torch.sum((inputs[..., None] >= search).long(), dim=-1) - 1)[..., None]

    def pick(table):
        return table.gather(-1, index)[..., 0]

    in_cumwidths, in_widths = pick(cumwidths), pick(bin_widths)
    in_cumheights, in_heights = pick(cumheights), pick(bin_heights)
    in_delta = pick(bin_heights / bin_widths)
    d0, d1 = pick(knots), pick(knots[..., 1:])
    shifted = inputs - in_cumheights
    a = shifted * (d0 + d1 - 2 * in_delta) + in_heights * (in_delta - d0)
    b = in_heights * d0 - shifted * (d0 + d1 - 2 * in_delta)
    c = -in_delta * shifted
    discriminant = b.pow(2) - 4 * a * c
    root = (2 * c) / (-b - torch.sqrt(discriminant))
    return root * in_widths + in_cumwidths


def _padded_derivatives(derivatives: torch.Tensor) -> torch.Tensor:
    # "linear" tails: the outermost knots get the derivative that makes the spline meet the
    # identity outside the bound.
    constant = float(np.log(np.exp(1 - MIN_DERIVATIVE) - 1))
    return F.pad(derivatives, (1, 1), value=constant)


def spline_inverse_amphion(inputs, widths, heights, derivatives, bound: float):
    """Amphion's unconstrained_rational_quadratic_spline(inverse=True) as written: identity
    outside [-bound, bound], the spline on the masked inside elements."""
    derivatives = _padded_derivatives(derivatives)
    inside = (inputs >= -bound) & (inputs <= bound)
    outputs = inputs.clone()
    if bool(inside.any()):
        outputs[inside] = _spline_inverse_inside(inputs[inside], widths[inside, :],
                                                 heights[inside, :], derivatives[inside, :],
                                                 bound)
    return outputs


def spline_inverse_graph(inputs, widths, heights, derivatives, bound: float):
    """The same values with no data-dependent shapes: every element goes through the spline
    (clamped into the bound, so the arithmetic stays finite) and Where keeps the identity
    outside."""
    derivatives = _padded_derivatives(derivatives)
    inside = (inputs >= -bound) & (inputs <= bound)
    spline = _spline_inverse_inside(inputs.clamp(-bound, bound), widths, heights, derivatives,
                                    bound)
    return torch.where(inside, spline, inputs)


class ConvFlow(nn.Module):
    """Spline coupling: keys pre, convs (DDSConv), proj."""

    def __init__(self, in_channels: int, filter_channels: int, kernel_size: int, n_layers: int,
                 num_bins: int = 10, tail_bound: float = 5.0):
        super().__init__()
        self.filter_channels, self.num_bins, self.tail_bound = filter_channels, num_bins, tail_bound
        self.half = in_channels // 2
        self.pre = nn.Conv1d(self.half, filter_channels, 1)
        self.convs = DDSConv(filter_channels, kernel_size, n_layers)
        self.proj = nn.Conv1d(filter_channels, self.half * (num_bins * 3 - 1), 1)
        nn.init.zeros_(self.proj.weight)  # as Amphion: the spline starts near the identity
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g=None, graph: bool = False):
        x0, x1 = torch.split(x, [self.half, self.half], 1)
        h = self.proj(self.convs(self.pre(x0), x_mask, g)) * x_mask
        batch, channels, length = x0.shape[0], x0.shape[1], x0.shape[2]
        h = h.reshape(batch, channels, -1, length).permute(0, 1, 3, 2)
        scale = math.sqrt(self.filter_channels)
        widths = h[..., :self.num_bins] / scale
        heights = h[..., self.num_bins:2 * self.num_bins] / scale
        derivatives = h[..., 2 * self.num_bins:]
        spline = spline_inverse_graph if graph else spline_inverse_amphion
        x1 = spline(x1, widths, heights, derivatives, self.tail_bound)
        return torch.cat([x0, x1], 1) * x_mask


class ElementwiseAffine(nn.Module):
    """Keys m, logs ([channels, 1])."""

    def __init__(self, channels: int):
        super().__init__()
        self.m = nn.Parameter(torch.zeros(channels, 1))
        self.logs = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g=None, graph: bool = False):
        return (x - self.m) * torch.exp(-self.logs) * x_mask


class StochasticDurationPredictor(nn.Module):
    """Keys pre, proj, convs, cond (when gin_channels), flows.N, post_pre, post_proj,
    post_convs, post_flows.N (the post_* half only trains, but its keys are in checkpoints).
    Amphion overrides the filter width with in_channels, whatever it is given."""

    def __init__(self, in_channels: int, kernel_size: int, n_flows: int = 4,
                 gin_channels: int = 0):
        super().__init__()
        filters = in_channels
        self.flows = nn.ModuleList([ElementwiseAffine(2)])
        self.post_flows = nn.ModuleList([ElementwiseAffine(2)])
        for _ in range(n_flows):
            self.flows.extend([ConvFlow(2, filters, kernel_size, n_layers=3), Flip()])
        for _ in range(4):
            self.post_flows.extend([ConvFlow(2, filters, kernel_size, n_layers=3), Flip()])
        self.post_pre = nn.Conv1d(1, filters, 1)
        self.post_proj = nn.Conv1d(filters, filters, 1)
        self.post_convs = DDSConv(filters, kernel_size, n_layers=3)
        self.pre = nn.Conv1d(in_channels, filters, 1)
        self.proj = nn.Conv1d(filters, filters, 1)
        self.convs = DDSConv(filters, kernel_size, n_layers=3)
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, filters, 1)

    def log_durations(self, x, x_mask, noise, g=None, graph: bool = False) -> torch.Tensor:
        """noise [B, 2, T] is already scaled by noise_scale_w; returns logw [B, 1, T]."""
        x = self.pre(x)
        if g is not None:
            x = x + self.cond(g)
        x = self.proj(self.convs(x, x_mask)) * x_mask
        # Amphion runs the flows backwards and skips the last ConvFlow (the "unused" one next
        # to the affine flow): reversed list minus its last two entries, plus the affine.
        flows = list(reversed(self.flows))
        flows = flows[:-2] + [flows[-1]]
        z = noise
        for flow in flows:
            z = flow(z, x_mask, g=x, graph=graph)
        return z[:, :1]


class DurationPredictor(nn.Module):
    """The deterministic predictor (use_sdp false): keys conv_1, norm_1, conv_2, norm_2, proj,
    cond."""

    def __init__(self, in_channels: int, filter_channels: int, kernel_size: int,
                 gin_channels: int = 0):
        super().__init__()
        self.conv_1 = nn.Conv1d(in_channels, filter_channels, kernel_size,
                                padding=kernel_size // 2)
        self.norm_1 = ChannelLayerNorm(filter_channels)
        self.conv_2 = nn.Conv1d(filter_channels, filter_channels, kernel_size,
                                padding=kernel_size // 2)
        self.norm_2 = ChannelLayerNorm(filter_channels)
        self.proj = nn.Conv1d(filter_channels, 1, 1)
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, in_channels, 1)

    def log_durations(self, x, x_mask, noise=None, g=None, graph: bool = False):
        if g is not None:
            x = x + self.cond(g)
        x = self.norm_1(torch.relu(self.conv_1(x * x_mask)))
        x = self.norm_2(torch.relu(self.conv_2(x * x_mask)))
        return self.proj(x * x_mask) * x_mask
