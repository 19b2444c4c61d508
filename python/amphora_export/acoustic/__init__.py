"""Acoustic models (text -> mel or waveform, and singing voice conversion: content features + f0
-> waveform): our own PyTorch modules with Amphion's state_dict layout, plus a graph-friendly
export wrapper for each.

Each family lives in its own file(s), builds an AcousticSpec and calls register(); this module
imports them all, so adding a family means adding its files and one import line at the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch


@dataclass
class AcousticSpec:
    """Everything the exporter needs to know about one acoustic model family.

    build:          full config (lowercased keys, after prepare) -> model whose state_dict keys
                    and shapes are exactly Amphion's.
    default_config: a small full config, fast to export (tests, --random-init).
    prepare:        (config, config_path, checkpoint state dict or None) -> (config, notes):
                    fills in what Amphion reads from files beside the config rather than from
                    the config itself (FastSpeech2's speaker count comes from spk2id.json).
    plausible:      (model, cfg) -> None: adjusts a randomly initialised model so it produces
                    output worth comparing (an untrained duration predictor gives 0 frames).
    export_module:  (model, cfg) -> module whose forward(*inputs) returns a tuple in
                    output_names order; no Python control flow on data, so one trace serves
                    every token count.
    reference:      (model, cfg, inputs) -> tuple of tensors in output_names order, computed the
                    way Amphion's inference does (loops, bucketize and all): what parity trusts.
    example_inputs: (cfg, length, torch.Generator) -> inputs for export_module and reference;
                    length is a count (of length_unit), or a list of counts for a padded batch.
    input_meanings / output_meanings: name -> one line for the manifest.
    compared:       output name -> "max_abs" (float, held to the tolerance) or "exact" (integer).
    task:           the manifest's "task": "tts" or "svc".
    length_unit / parity_lengths / batch_rows / trace_length: what the example lengths count
                    ("tokens" or "frames"), the single-row lengths parity runs, the rows of its
                    padded batch, and the length the graph is traced at (differing from all of
                    them, so that a size traced into the graph is caught).
    derived_axes:   cfg -> {axis: formula} for output axes that follow from input shapes (an
                    SVC model's samples are frames * hop), so they are not data-dependent.
    extra_manifest: (cfg, config_path) -> further manifest sections (SVC: content, f0, energy).
    coreml_obstacles: why the family's graph cannot become a Core ML model that computes what
                    the other formats do; a Core ML export refuses it with these reasons before
                    converting (empty: it converts).
    """

    name: str
    build: Callable[[dict], torch.nn.Module]
    default_config: Callable[[], dict]
    prepare: Callable[[dict, Path | None, dict | None], tuple]
    plausible: Callable[[torch.nn.Module, dict], None]
    export_module: Callable[[torch.nn.Module, dict], torch.nn.Module]
    reference: Callable[[torch.nn.Module, dict, tuple], tuple]
    input_names: Callable[[dict], list]
    output_names: Callable[[dict], list]
    dynamic_axes: Callable[[dict], dict]
    example_inputs: Callable[[dict, object, torch.Generator], tuple]
    input_meanings: Callable[[dict], dict]
    output_meanings: Callable[[dict], dict]
    mel_settings: Callable[[dict], dict]
    hop_length: Callable[[dict], int]
    sample_rate: Callable[[dict], int]
    phones: Callable[[dict, Path | None], dict]
    speakers: Callable[[dict, Path | None], dict]
    produces: str  # "mel" (needs a vocoder) or "waveform"
    tolerance: float = 1e-4
    compared: dict = field(default_factory=dict)
    task: str = "tts"
    length_unit: str = "tokens"
    # one phone (the degenerate case), a word, a sentence; or cfg -> lengths
    parity_lengths: tuple | Callable[[dict], tuple] = (1, 7, 50)
    batch_rows: tuple = (50, 7)  # a padded batch: proves the masks and the batch axis
    trace_length: int = 13
    derived_axes: Callable[[dict], dict] | None = None
    extra_manifest: Callable[[dict, Path | None], dict] | None = None
    coreml_obstacles: tuple = ()


FAMILIES: dict[str, AcousticSpec] = {}


def register(spec: AcousticSpec) -> AcousticSpec:
    if spec.name in FAMILIES:
        raise ValueError(f"acoustic family '{spec.name}' registered twice")
    FAMILIES[spec.name] = spec
    return spec


def get_family(name: str) -> AcousticSpec:
    spec = FAMILIES.get(name)
    if spec is None:
        raise ValueError(f"unknown family '{name}'; known: {', '.join(sorted(FAMILIES))}")
    return spec


# One import per family; each calls register() at import time.
from . import fastspeech2, vits, vits_svc  # noqa: E402,F401
