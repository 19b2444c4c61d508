"""`amphora-export vocoder`: checkpoint -> folded generator -> formats -> parity -> package."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import numpy as np
import torch

from . import __version__
from . import export_onnx as onnx_export
from . import export_torchscript as ts_export
from .errors import ExportError
from .istft import istft
from .mel_magnitude import MelMagnitude
from .mel_magnitude import reference as mel_magnitude_reference
from .package import (FORMAT_FILES, FORMATS, SCHEMA_VERSION, PackageWriter, io_entries,
                      manifest_json)
from .parity import (DEFAULT_LENGTHS, DEFAULT_TOLERANCE, ParityReport, compare, json_number,
                     worst)
from .progress import Progress
from .receptive import chunk_frames, measure
from .sources import Source, clone_generator, load_source
from .weightnorm import fold_weight_norm

TRACE_FRAMES = 50  # differs from the parity lengths, so a shape baked in by tracing is caught


@dataclass
class VocoderExportOptions:
    output: str
    family: str | None = None
    checkpoint: str | None = None
    config: str | None = None
    formats: tuple = FORMATS
    opset: int = 17
    random_init: bool = False
    seed: int = 0
    allow_mismatch: bool = False
    amphion_root: str | None = None
    force: bool = False
    overrides: list = field(default_factory=list)
    lengths: tuple = DEFAULT_LENGTHS
    tolerance: float = DEFAULT_TOLERANCE
    coreml_chunk_frames: int | None = None  # None: derived from the receptive field
    mel_magnitude: bool = False  # the generator's phase on the mel's magnitude
    quiet: bool = False


class _Reference:
    """PyTorch outputs for the parity inputs, from the generator exactly as loaded."""

    def __init__(self, source: Source, generator, folded_module, lengths, seed: int,
                 mel_magnitude: bool = False):
        spec, cfg = source.spec, source.config
        self.output_names = spec.output_names(cfg)
        self.head = spec.head(cfg)
        self.cases = []
        reference_module = None if self.head["type"] == "waveform" else spec.export_module(
            generator, cfg).eval()
        folding = []
        with torch.no_grad():
            for frames in lengths:
                seeded = torch.Generator().manual_seed(seed + frames)
                inputs = spec.example_inputs(cfg, frames, seeded)
                audio = spec.reference_audio(generator, cfg, inputs)
                if mel_magnitude:
                    audio = mel_magnitude_reference(audio, inputs[0], spec.mel_settings(cfg))
                audio = audio.detach().float().numpy()
                # A waveform head's only output is the audio: no second reference forward.
                raw = [audio] if self.head["type"] == "waveform" else [
                    t.numpy() for t in reference_module(*inputs)]
                folded = [t.numpy() for t in folded_module(*inputs)]
                folding += [compare(r, f) for r, f in zip(raw, folded)]
                self.cases.append((frames, inputs, raw, audio))
                self._check_length(spec.name, frames, spec.hop_length(cfg), audio)
        self.folding = worst(folding)

    @staticmethod
    def _check_length(family: str, frames: int, hop: int, audio: np.ndarray) -> None:
        if audio.ndim != 3 or audio.shape[1] != 1 or audio.shape[2] != frames * hop:
            raise ExportError(f"{family}: reference audio for {frames} frames has shape "
                              f"{list(audio.shape)}, expected [B, 1, {frames * hop}]")

    def check(self, report: ParityReport, run) -> None:
        """Runs `run(inputs) -> outputs` on every case and records it in report.

        The verdict is on audio (the 1e-4 rule is an audio rule). Spectral heads are judged on
        the audio their spectrum gives through the manifest's ISTFT, which also proves the head
        is right; the spectra themselves, whose magnitudes reach 1e2, are recorded beside it."""
        spectrum_checks = []
        for frames, inputs, raw, audio in self.cases:
            outputs = run(inputs)
            if len(outputs) != len(raw):
                raise ExportError(f"{report.runtime}: {len(outputs)} outputs, expected {len(raw)}")
            if self.head["type"] == "waveform":
                report.add(frames, compare(audio, outputs[self.output_names.index("audio")]))
                continue
            spectrum_checks += [compare(want, got) for want, got in zip(raw, outputs)]
            real = outputs[self.output_names.index("spec_real")]
            imag = outputs[self.output_names.index("spec_imag")]
            report.add(frames, compare(audio, istft(real, imag, self.head)))
        if spectrum_checks:
            combined = worst(spectrum_checks)
            report.extra["compared"] = "audio through the head ISTFT"
            report.extra["spectrum"] = {"max_abs": json_number(combined["max_abs"]),
                                        "snr_db": combined["snr_db"]}


def _frames(count) -> str:
    return "unbounded" if count is None else f"{count} frames"


def _check_parity(report: ParityReport, name: str, options, progress: Progress) -> None:
    progress.detail(f"{name} vs PyTorch: {report.describe()}")
    if not report.passed:
        if not options.allow_mismatch:
            raise ExportError(f"{name} output differs from PyTorch beyond {options.tolerance:g}: "
                              f"{report.describe()} (--allow-mismatch writes the package anyway)")
        progress.warn(f"{name} parity failed; writing it anyway because of --allow-mismatch")


def export_vocoder(options: VocoderExportOptions, progress: Progress | None = None) -> dict:
    """Runs the whole export; returns the manifest written to options.output/amphora.json."""
    formats = [f for f in FORMATS if f in options.formats]
    unknown = sorted(set(options.formats) - set(FORMATS))
    if unknown or not formats:
        raise ExportError(f"unknown format(s) {', '.join(unknown) or '(none given)'}; "
                          f"choose from {', '.join(FORMATS)}")
    progress = progress or Progress(3 + len(formats), quiet=options.quiet)
    writer = PackageWriter(options.output, options.force)  # fails early on a bad destination
    try:
        manifest = _export(options, formats, writer, progress)
        path = writer.commit(manifest_json(manifest))
    except BaseException:
        writer.abandon()
        raise
    progress.detail(f"wrote {path} in {progress.elapsed():.1f} s")
    return manifest


def _export(options, formats, writer: PackageWriter, progress: Progress) -> dict:
    progress.begin("reading config and checkpoint")
    source, generator = load_source(options.family, options.checkpoint, options.config,
                                    options.amphion_root, options.overrides,
                                    options.random_init, options.seed, progress)
    for note in source.notes:
        progress.detail(note)
    spec, cfg = source.spec, source.config

    progress.begin(f"building the {spec.name} generator and folding weight norm")
    folded_generator = clone_generator(source, generator)
    folded_count = fold_weight_norm(folded_generator)
    module = spec.export_module(folded_generator, cfg).eval()
    if options.mel_magnitude:
        if spec.head(cfg)["type"] != "waveform":
            raise ExportError(f"--mel-magnitude: {spec.name} already predicts its spectrum; "
                              "it takes a generator that outputs a waveform")
        module = MelMagnitude(module, spec.mel_settings(cfg)).eval()
        progress.detail("the generator's phase on the mel's magnitude (--mel-magnitude)")
    reference = _Reference(source, generator, module, options.lengths, options.seed,
                           options.mel_magnitude)
    progress.detail(f"folded {folded_count} weight-normed layers; folded vs unfolded max-abs "
                    f"{reference.folding['max_abs']:.3g}")
    receptive_field = measure(module, lambda frames, gen: spec.example_inputs(cfg, frames, gen),
                              options.seed)
    receptive_field["recommended_chunk_frames"] = chunk_frames(receptive_field)
    progress.detail(f"receptive field: {_frames(receptive_field['history_frames'])} of history, "
                    f"{_frames(receptive_field['lookahead_frames'])} of look-ahead")
    names_in, names_out = spec.input_names(cfg), spec.output_names(cfg)
    axes = spec.dynamic_axes(cfg)
    example = spec.example_inputs(cfg, TRACE_FRAMES, torch.Generator().manual_seed(options.seed))
    with torch.no_grad():
        example_out = module(*example)

    parity, files = {}, {}
    if "onnx" in formats:
        progress.begin(f"exporting ONNX (opset {options.opset}) and checking it in ONNX Runtime")
        path = writer.path(FORMAT_FILES["onnx"])
        onnx_export.export_onnx(module, example, path, names_in, names_out, axes, options.opset)
        runner = onnx_export.OnnxRunner(path)
        report = ParityReport(runner.version, options.lengths, options.tolerance)
        reference.check(report, runner)
        _check_parity(report, "ONNX", options, progress)
        parity["onnx"], files["onnx"] = report.summary(), FORMAT_FILES["onnx"]

    traced = None
    if "torchscript" in formats or "coreml" in formats:
        traced = ts_export.trace(module, example)
    if "torchscript" in formats:
        progress.begin("exporting TorchScript (model.ts) and the mobile lite model (model.ptl)")
        probe = reference.cases[0][1]
        variants = (("torchscript", ts_export.save_torchscript, ts_export.load_torchscript),
                    ("torchscript_lite", ts_export.save_lite, ts_export.load_lite))
        for key, save, load in variants:
            path = writer.path(FORMAT_FILES[key])
            notes = save(traced, path, probe)
            loaded = load(path)
            report = ParityReport(f"torch {torch.__version__} ({key})", options.lengths,
                                  options.tolerance)
            reference.check(report, lambda inputs: ts_export.run(loaded, inputs))
            report.extra.update(notes)
            _check_parity(report, FORMAT_FILES[key], options, progress)
            parity[key], files[key] = report.summary(), FORMAT_FILES[key]

    if "coreml" in formats:
        from .vocoder_coreml import export_vocoder_coreml

        progress.begin("converting to Core ML (ML Program) and verifying its spec")
        parity["coreml"] = export_vocoder_coreml(
            traced, example, example_out, TRACE_FRAMES, names_in, names_out, axes,
            writer.path(FORMAT_FILES["coreml"]),
            options.coreml_chunk_frames or receptive_field["recommended_chunk_frames"])
        files["coreml"] = FORMAT_FILES["coreml"]
        progress.detail(f"Core ML: {parity['coreml']['verified']}; "
                        f"{len(parity['coreml']['op_types'])} op types checked")

    progress.begin("writing the package")
    manifest = _manifest(options, source, reference, example, example_out, files, parity,
                         folded_count, receptive_field)
    if "onnx" in formats:
        onnx_export.set_metadata(writer.path(FORMAT_FILES["onnx"]), manifest_json(manifest))
    return manifest


def _manifest(options, source: Source, reference: _Reference, example, example_out, files,
              parity, folded_count: int, receptive_field: dict) -> dict:
    spec, cfg = source.spec, source.config
    mel = spec.mel_settings(cfg)
    axes = spec.dynamic_axes(cfg)
    checkpoint = source.checkpoint
    model_section = cfg.get("model", {})
    generator = model_section.get("generator", spec.name)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "vocoder",
        "family": spec.name,
        "task": "vocoder",
        "sample_rate": mel["sample_rate"],
        "hop_length": spec.hop_length(cfg),
        "n_mels": mel["n_mels"],
        "mel": mel,
        "inputs": io_entries(spec.input_names(cfg), example, axes),
        "outputs": io_entries(spec.output_names(cfg), example_out, axes),
        "head": spec.head(cfg),
        "mel_magnitude": options.mel_magnitude,
        "receptive_field": receptive_field,
        "formats": files,
        "source": {
            "checkpoint": checkpoint.given if checkpoint else None,
            "weights_file": str(checkpoint.weights_file) if checkpoint else None,
            "sha256": checkpoint.sha256 if checkpoint else None,
            "random_init_seed": None if checkpoint else options.seed,
            "config": str(source.config_path) if source.config_path else None,
            "generator": generator,
            "model_config": model_section.get(generator, model_section.get(spec.name)),
            "overrides": list(options.overrides),
        },
        "exporter": {"name": "amphora-export", "version": __version__,
                     "torch": torch.__version__, "opset": options.opset,
                     "python": platform.python_version(),
                     "weight_norm_folded": folded_count,
                     "folding_max_abs": json_number(reference.folding["max_abs"])},
        "parity": parity,
    }
