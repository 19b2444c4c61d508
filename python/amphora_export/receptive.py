"""Receptive field on the time axis, measured by perturbing one input frame.

A streaming or fixed-shape deployment cuts the input into chunks and must give each chunk enough
neighbouring frames that its core output equals the whole-utterance output. We perturb the
middle frame of every time-indexed input and see which output steps change: the span before the
frame's own output is the look-ahead the model needs, the span after it the history.

Effects below a small fraction of the output peak are ignored: convolution algorithms may mix
neighbouring values at rounding level, and far tails of a dilated stack are numerically nil.
Models whose state accumulates over the whole input (NSF's phase cumsum) have no finite history;
that is reported as None.
"""

from __future__ import annotations

import math

import torch

RELATIVE_THRESHOLD = 1e-6
START_FRAMES = 64
MAX_FRAMES = 512


def _time_axis(tensor: torch.Tensor) -> int:
    return tensor.dim() - 1  # every family input and output keeps time last


def _perturbed(inputs: tuple, frames: int, frame: int) -> tuple:
    changed = []
    for tensor in inputs:
        tensor = tensor.clone()
        per_frame = tensor.shape[_time_axis(tensor)] // frames
        tensor[..., frame * per_frame:(frame + 1) * per_frame] += 1.0
        changed.append(tensor)
    return tuple(changed)


def _affected_span(base: tuple, changed: tuple):
    """First and last output step (along time) where any output moved; None if none did."""
    first, last, steps = None, None, None
    for want, got in zip(base, changed):
        steps = want.shape[-1]
        peak = float(want.abs().max()) or 1.0
        moved = (got - want).abs().reshape(-1, steps).amax(dim=0) > RELATIVE_THRESHOLD * peak
        indices = torch.nonzero(moved).flatten()
        if indices.numel():
            lo, hi = int(indices[0]), int(indices[-1])
            first = lo if first is None else min(first, lo)
            last = hi if last is None else max(last, hi)
    return first, last, steps


def _probe(module, example_inputs, frames: int, seed: int):
    """One perturbation at `frames` frames: (history, look-ahead, touches_start, touches_end)."""
    inputs = example_inputs(frames, torch.Generator().manual_seed(seed))
    centre = frames // 2
    with torch.no_grad():
        base = module(*inputs)
        changed = module(*_perturbed(inputs, frames, centre))
    first, last, steps = _affected_span(base, changed)
    if first is None:
        return 0, 0, False, False
    per_frame = steps // frames  # output steps per input frame (hop, or 1 for spectra)
    own_start, own_end = centre * per_frame, (centre + 1) * per_frame - 1
    return (math.ceil(max(0, last - own_end) / per_frame),
            math.ceil(max(0, own_start - first) / per_frame), first == 0, last == steps - 1)


def measure(module: torch.nn.Module, example_inputs, seed: int = 0) -> dict:
    """example_inputs(frames, generator) -> inputs. Returns history/look-ahead in frames.

    The input doubles until two lengths agree and the effect stays clear of both ends: a dilated
    tap can jump past a short input's edge and hide, so one probe is never trusted alone."""
    frames, previous = START_FRAMES, None
    while True:
        history, lookahead, touches_start, touches_end = _probe(module, example_inputs, frames,
                                                                seed)
        clear = not (touches_start or touches_end)
        # Tails near the threshold may move by a frame between lengths; take the wider one.
        if clear and previous is not None and abs(previous[0] - history) <= 1 \
                and abs(previous[1] - lookahead) <= 1:
            return {"history_frames": max(history, previous[0]),
                    "lookahead_frames": max(lookahead, previous[1]), "method": _METHOD}
        if frames * 2 > MAX_FRAMES:
            return {"history_frames": None if touches_end else history,
                    "lookahead_frames": None if touches_start else lookahead, "method": _METHOD,
                    "note": f"measured up to {frames} frames; None = unbounded"}
        previous = (history, lookahead) if clear else None
        frames *= 2


_METHOD = (f"perturbation of one frame; effects below {RELATIVE_THRESHOLD:g} of the output peak "
           "ignored")


def chunk_frames(receptive_field: dict, minimum: int = 64) -> int:
    """A fixed input length for chunked deployment where context is at most half the chunk."""
    history = receptive_field.get("history_frames")
    lookahead = receptive_field.get("lookahead_frames")
    if history is None or lookahead is None:
        return 4 * minimum
    context = history + lookahead
    return max(minimum, 1 << max(0, math.ceil(math.log2(max(1, 2 * context)))))
