"""Receptive-field measurement on modules whose context is known exactly."""

from __future__ import annotations

import torch
from torch import nn

from amphora_export.receptive import chunk_frames, measure


class _Upsampled(nn.Module):
    """Conv over frames, then each frame repeated `hop` times (like a vocoder's output rate)."""

    def __init__(self, kernel: int, dilation: int, hop: int, causal: bool = False):
        super().__init__()
        span = (kernel - 1) * dilation
        self.pad = (span, 0) if causal else (span // 2, span - span // 2)
        self.conv = nn.Conv1d(3, 2, kernel, dilation=dilation)
        self.hop = hop

    def forward(self, mel):
        x = self.conv(nn.functional.pad(mel, self.pad))
        return (torch.repeat_interleave(x, self.hop, dim=-1),)


def _inputs(frames, generator):
    return (torch.randn(1, 3, frames, generator=generator),)


def test_symmetric_dilated_conv():
    rf = measure(_Upsampled(kernel=5, dilation=3, hop=4).eval(), _inputs)
    assert (rf["history_frames"], rf["lookahead_frames"]) == (6, 6)


def test_causal_conv_needs_no_lookahead():
    rf = measure(_Upsampled(kernel=4, dilation=1, hop=8, causal=True).eval(), _inputs)
    assert (rf["history_frames"], rf["lookahead_frames"]) == (3, 0)


def test_context_wider_than_the_first_probe_is_found_by_growing_the_input():
    rf = measure(_Upsampled(kernel=3, dilation=50, hop=1).eval(), _inputs)
    assert (rf["history_frames"], rf["lookahead_frames"]) == (50, 50)


class _Accumulating(nn.Module):
    def forward(self, mel):
        return (torch.cumsum(mel, dim=-1),)


def test_accumulating_state_has_unbounded_history():
    rf = measure(_Accumulating(), _inputs)
    assert rf["history_frames"] is None and rf["lookahead_frames"] == 0
    assert chunk_frames(rf) == 256


def test_chunk_keeps_context_under_half():
    assert chunk_frames({"history_frames": 9, "lookahead_frames": 9}) == 64
    assert chunk_frames({"history_frames": 40, "lookahead_frames": 30}) == 256
