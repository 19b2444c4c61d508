"""Vocoder families: our own PyTorch generators with Amphion's state_dict layout.

Each family lives in one file that builds a FamilySpec and calls register(); this module imports
them all, so adding a family means adding one file and one import line at the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass
class FamilySpec:
    """Everything the exporter needs to know about one vocoder family.

    build:          full config (lowercased keys) -> generator with legacy weight norm ON and a
                    state_dict whose keys/shapes are exactly Amphion's.
    default_config: a small full config, fast to export (tests, --random-init).
    export_module:  (generator, cfg) -> module whose forward(*inputs) returns a tuple of outputs
                    in output_names order; deterministic and traceable with a dynamic time axis.
    input_names / output_names / dynamic_axes: for torch.onnx.export.
    example_inputs: (cfg, frames, torch.Generator) -> inputs for export_module.
    head / mel_settings: the manifest's "head" and "mel" entries.
    hop_length:     samples of final audio per input frame.
    reference_audio: (generator, cfg, inputs) -> audio [B, 1, samples] computed the way Amphion's
                    forward does (including the ISTFT of spectral heads).
    """

    name: str
    build: Callable[[dict], torch.nn.Module]
    default_config: Callable[[], dict]
    export_module: Callable[[torch.nn.Module, dict], torch.nn.Module]
    input_names: Callable[[dict], list]
    output_names: Callable[[dict], list]
    dynamic_axes: Callable[[dict], dict]
    example_inputs: Callable[[dict, int, torch.Generator], tuple]
    head: Callable[[dict], dict]
    mel_settings: Callable[[dict], dict]
    hop_length: Callable[[dict], int]
    reference_audio: Callable[[torch.nn.Module, dict, tuple], torch.Tensor]


FAMILIES: dict[str, FamilySpec] = {}


def register(spec: FamilySpec) -> FamilySpec:
    if spec.name in FAMILIES:
        raise ValueError(f"family '{spec.name}' registered twice")
    FAMILIES[spec.name] = spec
    return spec


def get_family(name: str) -> FamilySpec:
    spec = FAMILIES.get(name)
    if spec is None:
        raise ValueError(f"unknown family '{name}'; known: {', '.join(sorted(FAMILIES))}")
    return spec


# One import per family file; each calls register() at import time.
from . import apnet, bigvgan, hifigan, melgan, nsf_hifigan, vocos  # noqa: E402,F401
