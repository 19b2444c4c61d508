"""The FastSpeech2 transformer pieces (Amphion modules/transformer/{Models,Layers,SubLayers}.py
layout): FFT blocks, encoder, decoder and postnet, with the same submodule names so that
Amphion's state_dict keys load strictly.

Masks follow Amphion: True marks padding. Every layer is written so that tracing keeps the
sequence length symbolic (sizes come from tensors, never from Python loops over data).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PAD_ID = 0  # Amphion's padding symbol id ("_"), also the embedding's padding_idx


def sinusoid_table(positions: int, channels: int) -> torch.Tensor:
    """Amphion's get_sinusoid_encoding_table: float64 angles pos / 10000^(2*(j//2)/channels),
    sin on even channels, cos on odd ones, rounded to float32 at the end."""
    pos = np.arange(positions, dtype=np.float64)[:, None]
    rates = np.power(10000.0, 2 * (np.arange(channels) // 2) / channels)[None, :]
    table = pos / rates
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.FloatTensor(table)


def amphion_positions(stored: torch.Tensor, length: int, max_seq_len: int) -> torch.Tensor:
    """[1, length, C] the way Amphion's eval path picks it: the stored table while the sequence
    fits max_seq_len, a freshly computed float64 table beyond (reference path, not traced)."""
    if length > max_seq_len:
        return sinusoid_table(length, stored.shape[-1]).unsqueeze(0)
    return stored[:, :length, :]


def graph_positions(stored: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[1, T, C] for T = like.shape[1], with no branch on T: rows the stored table has come from
    it (exactly what Amphion uses), rows past its end are computed in float32 inside the graph.
    Amphion computes those in float64; the two differ by the float32 rounding of the angle,
    which grows with the position (about 1.3e-4 at 2000, 5e-4 at 8000)."""
    count, channels = stored.shape[1], stored.shape[2]
    positions = torch.arange(like.shape[1], device=like.device)
    # Both bounds, though positions are never negative: coremltools turns a one-sided clamp of
    # an integer tensor into float32, which its gather refuses as indices.
    stored_rows = stored[0].index_select(0, positions.clamp(0, count - 1))
    exponent = 2.0 * (np.arange(channels) // 2) / channels
    rates = torch.tensor(np.power(10000.0, exponent), dtype=torch.float32)
    angles = positions.to(torch.float32)[:, None] / rates[None, :]
    even = torch.tensor(np.arange(channels) % 2 == 0)
    computed = torch.where(even[None, :], torch.sin(angles), torch.cos(angles))
    inside = (positions < count)[:, None]
    return torch.where(inside, stored_rows, computed).unsqueeze(0)


class MultiHeadAttention(nn.Module):
    """Keys w_qs, w_ks, w_vs, fc, layer_norm; post-norm residual, as Amphion's SubLayers."""

    def __init__(self, n_head: int, d_model: int, d_k: int, d_v: int):
        super().__init__()
        self.n_head, self.d_k, self.d_v = n_head, d_k, d_v
        self.w_qs = nn.Linear(d_model, n_head * d_k)
        self.w_ks = nn.Linear(d_model, n_head * d_k)
        self.w_vs = nn.Linear(d_model, n_head * d_v)
        self.temperature = float(np.power(d_k, 0.5))
        self.layer_norm = nn.LayerNorm(d_model)
        self.fc = nn.Linear(n_head * d_v, d_model)

    def forward(self, x: torch.Tensor, key_padding: torch.Tensor) -> torch.Tensor:
        """x [B, T, C]; key_padding [B, T, T] (True where a key is padding)."""
        batch, length = x.shape[0], x.shape[1]
        n_head, d_k, d_v = self.n_head, self.d_k, self.d_v
        # Heads move to the batch axis, head-major, exactly as Amphion's permute(2, 0, 1, 3).
        q = self.w_qs(x).view(batch, length, n_head, d_k).permute(2, 0, 1, 3).reshape(
            -1, length, d_k)
        k = self.w_ks(x).view(batch, length, n_head, d_k).permute(2, 0, 1, 3).reshape(
            -1, length, d_k)
        v = self.w_vs(x).view(batch, length, n_head, d_v).permute(2, 0, 1, 3).reshape(
            -1, length, d_v)
        mask = key_padding.repeat(n_head, 1, 1)
        attn = torch.bmm(q, k.transpose(1, 2)) / self.temperature
        attn = torch.softmax(attn.masked_fill(mask, -np.inf), dim=2)
        out = torch.bmm(attn, v).view(n_head, batch, length, d_v)
        out = out.permute(1, 2, 0, 3).reshape(batch, length, n_head * d_v)
        return self.layer_norm(self.fc(out) + x)


class PositionwiseFeedForward(nn.Module):
    """Keys w_1, w_2 (Conv1d with kernel_size[0], kernel_size[1]) and layer_norm."""

    def __init__(self, d_in: int, d_hid: int, kernel_size):
        super().__init__()
        self.w_1 = nn.Conv1d(d_in, d_hid, kernel_size[0], padding=(kernel_size[0] - 1) // 2)
        self.w_2 = nn.Conv1d(d_hid, d_in, kernel_size[1], padding=(kernel_size[1] - 1) // 2)
        self.layer_norm = nn.LayerNorm(d_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.w_2(F.relu(self.w_1(x.transpose(1, 2)))).transpose(1, 2)
        return self.layer_norm(out + x)


class FFTBlock(nn.Module):
    def __init__(self, d_model: int, n_head: int, d_inner: int, kernel_size):
        super().__init__()
        d_k = d_model // n_head
        self.slf_attn = MultiHeadAttention(n_head, d_model, d_k, d_k)
        self.pos_ffn = PositionwiseFeedForward(d_model, d_inner, kernel_size)

    def forward(self, x: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        """padding [B, T], True at padded positions: they are zeroed after each sublayer."""
        key_padding = padding.unsqueeze(1).expand(-1, x.shape[1], -1)
        x = self.slf_attn(x, key_padding).masked_fill(padding.unsqueeze(-1), 0)
        return self.pos_ffn(x).masked_fill(padding.unsqueeze(-1), 0)


def _transformer_sizes(model_cfg: dict, part: str) -> dict:
    t = model_cfg["transformer"]
    kernel = [int(k) for k in t["conv_kernel_size"]]
    if len(kernel) != 2:
        raise ValueError(f"model.transformer.conv_kernel_size must hold 2 sizes, got {kernel}")
    hidden, heads = int(t[f"{part}_hidden"]), int(t[f"{part}_head"])
    if hidden % heads:
        raise ValueError(f"model.transformer.{part}_hidden {hidden} is not a multiple of "
                         f"{part}_head {heads}")
    return {"hidden": hidden, "heads": heads, "layers": int(t[f"{part}_layer"]),
            "inner": int(t["conv_filter_size"]), "kernel": kernel}


class _Stack(nn.Module):
    """What Amphion's Encoder and Decoder share: a stored position table and FFT blocks."""

    def __init__(self, model_cfg: dict, part: str):
        super().__init__()
        sizes = _transformer_sizes(model_cfg, part)
        self.max_seq_len = int(model_cfg["max_seq_len"])
        self.d_model = sizes["hidden"]
        # A Parameter (not a buffer) in Amphion, so it is part of every checkpoint.
        self.position_enc = nn.Parameter(
            sinusoid_table(self.max_seq_len + 1, sizes["hidden"]).unsqueeze(0),
            requires_grad=False)
        self.layer_stack = nn.ModuleList(
            FFTBlock(sizes["hidden"], sizes["heads"], sizes["inner"], sizes["kernel"])
            for _ in range(sizes["layers"]))

    def positions(self, x: torch.Tensor, graph: bool) -> torch.Tensor:
        if graph:
            return graph_positions(self.position_enc, x)
        return amphion_positions(self.position_enc, x.shape[1], self.max_seq_len)

    def run(self, x: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        for layer in self.layer_stack:
            x = layer(x, padding)
        return x


class Encoder(_Stack):
    """Keys src_word_emb, position_enc, layer_stack.N.*. The vocabulary is Amphion's symbol
    list plus one, whatever the config says (Amphion sizes it from text/symbols.py)."""

    def __init__(self, model_cfg: dict, n_vocab: int):
        super().__init__(model_cfg, "encoder")
        self.src_word_emb = nn.Embedding(n_vocab, self.d_model, padding_idx=PAD_ID)

    def forward(self, phone_ids: torch.Tensor, padding: torch.Tensor,
                graph: bool = False) -> torch.Tensor:
        x = self.src_word_emb(phone_ids)
        return self.run(x + self.positions(x, graph), padding)


class Decoder(_Stack):
    """Keys position_enc, layer_stack.N.*. In eval mode Amphion never truncates: past
    max_seq_len it switches to a computed table, which graph_positions reproduces."""

    def __init__(self, model_cfg: dict):
        super().__init__(model_cfg, "decoder")

    def forward(self, x: torch.Tensor, padding: torch.Tensor, graph: bool = False):
        return self.run(x + self.positions(x, graph), padding)


class ConvNorm(nn.Module):
    """Key conv (Amphion's ConvNorm wraps its Conv1d one level down)."""

    def __init__(self, channels_in: int, channels_out: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(channels_in, channels_out, kernel_size,
                              padding=(kernel_size - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class PostNet(nn.Module):
    """Five (ConvNorm, BatchNorm1d) pairs with Amphion's fixed sizes (512 channels, kernel 5):
    keys convolutions.N.0.conv.*, convolutions.N.1.* (with running statistics)."""

    def __init__(self, n_mels: int, channels: int = 512, kernel_size: int = 5,
                 count: int = 5):
        super().__init__()
        sizes = [n_mels] + [channels] * (count - 1) + [n_mels]
        self.convolutions = nn.ModuleList(
            nn.Sequential(ConvNorm(sizes[i], sizes[i + 1], kernel_size),
                          nn.BatchNorm1d(sizes[i + 1])) for i in range(count))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, T, n_mels] -> the residual [B, T, n_mels] (tanh between layers, none last)."""
        x = x.transpose(1, 2)
        for layer in self.convolutions[:-1]:
            x = torch.tanh(layer(x))
        return self.convolutions[-1](x).transpose(1, 2)
