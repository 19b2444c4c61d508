"""The VITS text encoder (Amphion models/tts/vits/vits.py TextEncoder and
modules/transformer/attentions.py Encoder): embedding, transformer layers with windowed
relative-position self-attention, projection to the prior's mean and log-scale.

Keys: emb, encoder.attn_layers.N.{conv_q,conv_k,conv_v,conv_o,emb_rel_k,emb_rel_v},
encoder.norm_layers_{1,2}.N.{gamma,beta}, encoder.ffn_layers.N.{conv_1,conv_2}, proj.

Amphion picks the relative embeddings it needs with a Python max() on the length; the graph
version pads by the length on both sides instead, which selects the same rows for every length
without a branch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

WINDOW_SIZE = 4  # Amphion's Encoder default, which VITS uses


class ChannelLayerNorm(nn.Module):
    """Amphion's modules.base.base_module.LayerNorm: over channels of [B, C, T], keys gamma/beta."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.channels, self.eps = channels, eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.transpose(1, -1), (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


# coremltools (9.0) converts a pad whose amounts are known only at run time for 1-D tensors
# only; this attention pads its tables and scores by the sequence length (the graph and the
# skews below), so its graphs stop at the first such 'pad'.
CORE_ML_OBSTACLE = ("its relative-position attention pads by the run-time length, and "
                    "coremltools converts such pads only on 1-D tensors (torch op 'pad')")

def relative_embeddings_amphion(table: torch.Tensor, length: int, window: int) -> torch.Tensor:
    """[heads, 2*length-1, C]: Amphion's _get_relative_embeddings as written."""
    pad = max(length - (window + 1), 0)
    start = max((window + 1) - length, 0)
    padded = F.pad(table, (0, 0, pad, pad)) if pad > 0 else table
    return padded[:, start:start + 2 * length - 1]


def relative_embeddings_graph(table: torch.Tensor, like: torch.Tensor,
                              window: int) -> torch.Tensor:
    """The same rows for length = like.shape[-1], branch-free: after padding by the length on
    both sides, relative position r = j - (length - 1) sits at row j + window + 1."""
    length = like.shape[-1]
    padded = F.pad(table, (0, 0, length, length))
    return padded[:, window + 1:window + 2 * length]


class RelativeAttention(nn.Module):
    """Self-attention with shared (heads_share) relative keys and values in a +-window."""

    def __init__(self, channels: int, n_heads: int, window: int = WINDOW_SIZE):
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"model.hidden_channels {channels} is not a multiple of n_heads "
                             f"{n_heads}")
        self.n_heads, self.window = n_heads, window
        self.k_channels = channels // n_heads
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, channels, 1)
        scale = self.k_channels ** -0.5
        self.emb_rel_k = nn.Parameter(torch.randn(1, window * 2 + 1, self.k_channels) * scale)
        self.emb_rel_v = nn.Parameter(torch.randn(1, window * 2 + 1, self.k_channels) * scale)

    def _relative(self, table, like, graph: bool):
        if graph:
            return relative_embeddings_graph(table, like, self.window)
        return relative_embeddings_amphion(table, like.shape[-1], self.window)

    @staticmethod
    def _relative_to_absolute(x: torch.Tensor) -> torch.Tensor:
        """[b, h, l, 2l-1] -> [b, h, l, l] by Amphion's pad-and-reshape skew."""
        batch, heads, length = x.shape[0], x.shape[1], x.shape[2]
        x = F.pad(x, (0, 1))
        flat = F.pad(x.reshape(batch, heads, length * 2 * length), (0, length - 1))
        return flat.reshape(batch, heads, length + 1, 2 * length - 1)[:, :, :length, length - 1:]

    @staticmethod
    def _absolute_to_relative(x: torch.Tensor) -> torch.Tensor:
        """[b, h, l, l] -> [b, h, l, 2l-1], the inverse skew."""
        batch, heads, length = x.shape[0], x.shape[1], x.shape[2]
        x = F.pad(x, (0, length - 1))
        flat = F.pad(x.reshape(batch, heads, length * length + length * (length - 1)),
                     (length, 0))
        return flat.reshape(batch, heads, length, 2 * length)[:, :, :, 1:]

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor, graph: bool) -> torch.Tensor:
        q, k, v = self.conv_q(x), self.conv_k(x), self.conv_v(x)
        batch, channels, length = k.shape[0], k.shape[1], k.shape[2]
        q = q.view(batch, self.n_heads, self.k_channels, length).transpose(2, 3)
        k = k.view(batch, self.n_heads, self.k_channels, length).transpose(2, 3)
        v = v.view(batch, self.n_heads, self.k_channels, length).transpose(2, 3)
        q = q / math.sqrt(self.k_channels)
        scores = torch.matmul(q, k.transpose(-2, -1))
        rel_k = self._relative(self.emb_rel_k, x, graph)
        scores = scores + self._relative_to_absolute(
            torch.matmul(q, rel_k.unsqueeze(0).transpose(-2, -1)))
        scores = scores.masked_fill(attn_mask == 0, -1e4)
        p_attn = F.softmax(scores, dim=-1)
        out = torch.matmul(p_attn, v)
        rel_v = self._relative(self.emb_rel_v, x, graph)
        out = out + torch.matmul(self._absolute_to_relative(p_attn), rel_v.unsqueeze(0))
        out = out.transpose(2, 3).reshape(batch, channels, length)
        return self.conv_o(out)


class FFN(nn.Module):
    """conv_1 -> relu -> conv_2 with "same" padding (left (k-1)//2, right k//2), masked."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int):
        super().__init__()
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv_1 = nn.Conv1d(channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, channels, kernel_size)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(F.pad(x * x_mask, self.pad)))
        return self.conv_2(F.pad(x * x_mask, self.pad)) * x_mask


class RelativeEncoder(nn.Module):
    def __init__(self, channels: int, filter_channels: int, n_heads: int, n_layers: int,
                 kernel_size: int):
        super().__init__()
        self.attn_layers = nn.ModuleList(RelativeAttention(channels, n_heads)
                                         for _ in range(n_layers))
        self.norm_layers_1 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))
        self.ffn_layers = nn.ModuleList(FFN(channels, filter_channels, kernel_size)
                                        for _ in range(n_layers))
        self.norm_layers_2 = nn.ModuleList(ChannelLayerNorm(channels) for _ in range(n_layers))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, graph: bool) -> torch.Tensor:
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)
        x = x * x_mask
        for attn, norm_1, ffn, norm_2 in zip(self.attn_layers, self.norm_layers_1,
                                             self.ffn_layers, self.norm_layers_2):
            x = norm_1(x + attn(x, attn_mask, graph))
            x = norm_2(x + ffn(x, x_mask))
        return x * x_mask


class TextEncoder(nn.Module):
    """phone ids -> (hidden [B, H, T], prior mean m_p, prior log-scale logs_p, mask)."""

    def __init__(self, n_vocab: int, out_channels: int, hidden: int, filter_channels: int,
                 n_heads: int, n_layers: int, kernel_size: int):
        super().__init__()
        self.hidden, self.out_channels = hidden, out_channels
        self.emb = nn.Embedding(n_vocab, hidden)
        nn.init.normal_(self.emb.weight, 0.0, hidden ** -0.5)
        self.encoder = RelativeEncoder(hidden, filter_channels, n_heads, n_layers, kernel_size)
        self.proj = nn.Conv1d(hidden, out_channels * 2, 1)

    def forward(self, phone_ids: torch.Tensor, x_mask: torch.Tensor, graph: bool) -> tuple:
        x = (self.emb(phone_ids) * math.sqrt(self.hidden)).transpose(1, -1)
        x = self.encoder(x * x_mask, x_mask, graph)
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        return x, m, logs
