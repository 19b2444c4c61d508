"""Small random-init vocoder packages for the CLI and backend tests, exported once per family
and module, together with the PyTorch generator they came from (same seed, same weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FAMILIES = ("hifigan", "bigvgan", "melgan", "nsf_hifigan", "vocos", "apnet")
# BigVGAN's default config takes most of the export time in anti-aliased activations; one
# resblock kernel keeps every operator in the graph and exports in seconds. NSF-HiFiGAN
# reproduces Amphion's x_source defect by default (f0 and noise never reach the output); the
# intended wiring is exported so that the f0 and --seed tests can see them.
OVERRIDES = {"bigvgan": ["model.bigvgan.resblock_kernel_sizes=[3]",
                         "model.bigvgan.resblock_dilation_sizes=[[1,3]]"],
             "nsf_hifigan": ["model.nsfhifigan.fix_x_source=true"]}
SEED = 0


class Exported:
    """One exported package (in `formats`) plus the PyTorch generator it came from."""

    def __init__(self, family: str, directory: Path, formats: tuple[str, ...]):
        from amphora_export.progress import Progress
        from amphora_export.sources import load_source
        from amphora_export.vocoder import VocoderExportOptions, export_vocoder

        overrides = OVERRIDES.get(family, [])
        self.dir = directory
        self.manifest = export_vocoder(VocoderExportOptions(
            output=str(directory), family=family, random_init=True, seed=SEED,
            formats=formats, quiet=True, lengths=(8,), overrides=overrides))
        source, self.generator = load_source(family, None, None, None, overrides, True, SEED,
                                             Progress(1, quiet=True))
        self.spec, self.config = source.spec, source.config
        self.sample_rate = self.manifest["sample_rate"]
        self.hop = self.manifest["hop_length"]
        self.n_mels = self.manifest["n_mels"]

    def reference_audio(self, inputs: tuple) -> np.ndarray:
        """Amphion's own forward on `inputs`, as samples."""
        import torch

        with torch.no_grad():
            return self.spec.reference_audio(self.generator, self.config, inputs).numpy()

    def example(self, frames: int, seed: int) -> dict:
        """Named example inputs of `frames` frames."""
        import torch

        inputs = self.spec.example_inputs(self.config, frames, torch.Generator().manual_seed(seed))
        return dict(zip(self.spec.input_names(self.config), inputs))

    def pytorch(self, inputs: dict) -> dict:
        """The exported module's outputs in PyTorch eager mode."""
        import torch

        module = self.spec.export_module(self.generator, self.config).eval()
        with torch.no_grad():
            outputs = module(*inputs.values())
        return {name: t.numpy() for name, t in zip(self.spec.output_names(self.config), outputs)}


def package_cache(root: Path, formats: tuple[str, ...]):
    """A function family -> Exported that exports each family on first use."""
    cache: dict[str, Exported] = {}

    def get(family: str) -> Exported:
        if family not in cache:
            cache[family] = Exported(family, root / family, formats)
        return cache[family]

    return get


def raw_export(family: str, path: Path):
    """torch.onnx.export of the family's default configuration with random weights and constant
    folding off: weight norm, pads and shapes computed in the graph, as a user's own export may
    leave them (what `amphora optimize` is measured on). Returns (spec, config)."""
    import torch
    from amphora_export.vocoders import FAMILIES as SPECS

    spec = SPECS[family]
    cfg = spec.default_config()
    torch.manual_seed(0)
    module = spec.export_module(spec.build(cfg).eval(), cfg).eval()
    example = spec.example_inputs(cfg, 24, torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.onnx.export(module, example, str(path), opset_version=17,
                          input_names=spec.input_names(cfg), output_names=spec.output_names(cfg),
                          dynamic_axes=spec.dynamic_axes(cfg), do_constant_folding=False)
    return spec, cfg


def example_feed(spec, cfg, frames: int) -> dict:
    """Named numpy inputs of `frames` frames (seeded by the length)."""
    import torch

    inputs = spec.example_inputs(cfg, frames, torch.Generator().manual_seed(frames))
    return {n: t.numpy() for n, t in zip(spec.input_names(cfg), inputs)}
