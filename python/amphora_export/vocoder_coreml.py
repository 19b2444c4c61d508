"""A vocoder's Core ML model: the time axis of every input flexible from MIN_FRAMES to
MAX_FRAMES, its default length the chunk a fixed-shape deployment (Neural Engine) uses.
Conversion and verification are export_coreml's, shared with acoustic models."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import ExportError
from .export_coreml import FlexibleAxis, convert, verify_coreml

MIN_FRAMES = 8  # reflect/replicate pads in the families need a few frames of input
MAX_FRAMES = 4096
DEFAULT_CHUNK_FRAMES = 128


def time_axes(input_names: list[str], dynamic_axes: dict) -> dict[str, list[int]]:
    """The non-batch dynamic axes of each input (batch stays 1 on device)."""
    axes = {}
    for name in input_names:
        spec = dynamic_axes.get(name, {})
        indices = list(spec.keys()) if isinstance(spec, dict) else list(spec)
        axes[name] = [a for a in indices if a != 0]
    return axes


def export_vocoder_coreml(traced: torch.jit.ScriptModule, example_inputs: tuple,
                          example_outputs: tuple, frames: int, input_names: list[str],
                          output_names: list[str], dynamic_axes: dict, path: Path,
                          chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> dict:
    """Converts, saves and verifies; example_inputs must have `frames` frames. Returns the
    parity entry."""
    if not MIN_FRAMES <= chunk_frames <= MAX_FRAMES:
        raise ExportError(f"--coreml-chunk-frames {chunk_frames} is outside the model's time "
                          f"range [{MIN_FRAMES}, {MAX_FRAMES}]")
    flexible, axes = {}, time_axes(input_names, dynamic_axes)
    for name, tensor in zip(input_names, example_inputs):
        flexible[name] = {}
        for axis in axes[name]:
            # Axes in samples (the NSF noise) scale with frames; keep that ratio in the range.
            per_frame = max(1, tensor.shape[axis] // frames)
            flexible[name][axis] = FlexibleAxis(MIN_FRAMES * per_frame, MAX_FRAMES * per_frame,
                                                chunk_frames * per_frame)
    shape_info = convert(traced, example_inputs, example_outputs, input_names, output_names,
                         dynamic_axes, flexible, path, "amphora vocoder (see amphora.json)")
    entry = verify_coreml(path, input_names, output_names, shape_info)
    entry["chunk_frames"] = chunk_frames
    return entry
