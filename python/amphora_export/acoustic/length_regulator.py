"""Token -> frame expansion without control flow, so one exported graph serves every length.

Amphion's FastSpeech2 expands token vectors with a Python loop (vec.expand(duration) per token,
then padding); VITS builds a 0/1 alignment path from cumulative durations. Both are the same
matrix here: path[b, f, t] = 1 when frame f lies in token t's span [start_t, end_t), with end =
cumsum(durations) and start = end - durations. Frames are then path @ tokens. Each frame row
holds at most one 1, so the matmul copies token vectors exactly (0 * x adds nothing), and frames
past a row's own total are all-zero rows: Amphion's zero padding.

In ONNX this is CumSum, ReduceSum/ReduceMax, Range, comparisons and a MatMul: the frame count
(ReduceMax of the per-row totals) is data-dependent, nothing else is.
"""

from __future__ import annotations

import torch


def alignment_path(durations: torch.Tensor, dtype=torch.float32, frames=None) -> tuple:
    """durations [B, T] (integer frames per token, >= 0) -> (path [B, F, T], frames [B]) where
    frames defaults to the summed durations and F is its maximum over the batch. (VITS passes
    frames of at least 1; rows past a token's span stay zero either way.)"""
    ends = torch.cumsum(durations, dim=1)
    starts = ends - durations
    if frames is None:
        frames = durations.sum(dim=1)
    frame_index = torch.arange(frames.max(), device=durations.device)[None, :, None]
    path = (frame_index >= starts[:, None, :]) & (frame_index < ends[:, None, :])
    return path.to(dtype), frames


def expand(tokens: torch.Tensor, durations: torch.Tensor) -> tuple:
    """tokens [B, T, C], durations [B, T] -> (frames [B, F, C], frame counts [B])."""
    path, frames = alignment_path(durations, tokens.dtype)
    return torch.bmm(path, tokens), frames


def at_least_one_frame(durations: torch.Tensor) -> torch.Tensor:
    """Gives a row whose durations are all 0 one frame, on its first token. Amphion has no
    output for such a row (its attention reshape fails on 0 frames); a runtime is better served
    by one frame than by an error, and the graph stays free of zero-sized tensors."""
    empty = durations.sum(dim=1, keepdim=True) == 0
    first = torch.arange(durations.shape[1], device=durations.device)[None, :] == 0
    return durations + (empty & first).to(durations.dtype)


def padding_mask(lengths: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[B, L] with L = like.shape[1]: True at positions >= the row's length (Amphion's
    get_mask_from_lengths, which marks padding)."""
    positions = torch.arange(like.shape[1], device=lengths.device)
    return positions[None, :] >= lengths[:, None]


def expand_by_loop(tokens: torch.Tensor, durations: torch.Tensor) -> tuple:
    """Amphion's LengthRegulator as written (per-token expand, zero padding): the reference the
    graph version is checked against. int() truncates, as Amphion's expand does."""
    rows, counts = [], []
    for row, row_durations in zip(tokens, durations):
        pieces = [vec.expand(max(int(d.item()), 0), -1) for vec, d in zip(row, row_durations)]
        expanded = torch.cat(pieces, 0)
        rows.append(expanded)
        counts.append(expanded.shape[0])
    longest = max(counts)
    padded = [torch.nn.functional.pad(r, (0, 0, 0, longest - r.shape[0])) for r in rows]
    return torch.stack(padded), torch.tensor(counts, dtype=torch.long)
