"""An acoustic model's Core ML model: the token axis (SVC: the frame axis) of every input
flexible, integer inputs (phone ids, lengths, speaker) fed as int32, and the output axes that
follow from the predicted durations (frames, samples) left open in the program. Conversion and
verification are export_coreml's, shared with vocoders.

A family whose graph cannot compute in Core ML what it computes elsewhere names why in its
spec (coreml_obstacles); it is refused before anything is converted.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import ExportError
from .export_coreml import FlexibleAxis, convert, verify_coreml

# Bounded, so that Core ML can plan memory for the whole range; 4096 phones is minutes of
# speech, far more than one request holds.
MAX_LENGTH = 4096


def refuse_unconvertible(spec) -> None:
    """Raises the family's reasons when its graph cannot go to Core ML."""
    if spec.coreml_obstacles:
        raise ExportError(f"Core ML cannot take {spec.name}: "
                          + "; ".join(spec.coreml_obstacles)
                          + " (leave coreml out of --formats to export the other formats)")


def flexible_axes(spec, input_names: list[str], dynamic_axes: dict,
                  lengths: tuple) -> dict:
    """name -> {axis: range}: every non-batch dynamic input axis, from the shortest length
    parity checks (one token; the decoder's fewest frames for SVC) to MAX_LENGTH, described
    at the longest (a sentence)."""
    lower, default = min(lengths), max(lengths)
    if not 1 <= lower <= default <= MAX_LENGTH:
        raise ExportError(f"{spec.name}: parity lengths {lengths} are outside the Core ML "
                          f"range [1, {MAX_LENGTH}] {spec.length_unit}")
    flexible = {}
    for name in input_names:
        axes = dynamic_axes.get(name, {})
        flexible[name] = {axis: FlexibleAxis(lower, MAX_LENGTH, default)
                          for axis in axes if axis != 0}
    return flexible


def export_acoustic_coreml(spec, traced: torch.jit.ScriptModule, example_inputs: tuple,
                           example_outputs: tuple, input_names: list[str],
                           output_names: list[str], dynamic_axes: dict, lengths: tuple,
                           path: Path) -> dict:
    """Converts, saves and verifies at spec level; returns the parity entry."""
    refuse_unconvertible(spec)
    flexible = flexible_axes(spec, input_names, dynamic_axes, lengths)
    shape_info = convert(traced, example_inputs, example_outputs, input_names, output_names,
                         dynamic_axes, flexible, path,
                         f"amphora {spec.name} acoustic model (see amphora.json)")
    entry = verify_coreml(path, input_names, output_names, shape_info)
    entry["length_unit"] = spec.length_unit
    entry["default_length"] = max(lengths)
    return entry
