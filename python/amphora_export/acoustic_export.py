"""`amphora-export acoustic`: checkpoint -> model -> graph-friendly wrapper -> formats ->
parity on several lengths (tokens for TTS, frames for SVC) -> package.

The reference is the model running Amphion's inference as written (Python loops and all); each
exported format runs the wrapper's graph, so parity proves the rewrite as well as the export.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

import torch

from . import __version__
from . import export_onnx as onnx_export
from . import export_torchscript as ts_export
from .acoustic_coreml import export_acoustic_coreml, refuse_unconvertible
from .errors import ExportError
from .package import (ACOUSTIC_DEFAULT_FORMATS, FORMAT_FILES, FORMATS, SCHEMA_VERSION,
                      PackageWriter, io_entries, manifest_json)
from .parity import ParityReport, compare, json_number, worst
from .progress import Progress
from .sources import ACOUSTIC, Source, clone_generator, load_source
from .weightnorm import fold_weight_norm

# The lengths parity runs, the padded batch and the trace length are the family's own
# (AcousticSpec.parity_lengths, batch_rows, trace_length): tokens for TTS, frames for SVC.
# Settings a vocoder's manifest must share with the acoustic model's for the mel to mean the
# same thing (center and log follow from the extraction mode).
VOCODER_MUST_MATCH = ("sample_rate", "hop_length", "n_mels", "n_fft", "win_length", "fmin",
                      "fmax")


@dataclass
class AcousticExportOptions:
    output: str
    family: str | None = None
    checkpoint: str | None = None
    config: str | None = None
    formats: tuple = ACOUSTIC_DEFAULT_FORMATS
    opset: int = 17
    random_init: bool = False
    seed: int = 0
    allow_mismatch: bool = False
    amphion_root: str | None = None
    force: bool = False
    overrides: list = field(default_factory=list)
    lengths: tuple | None = None  # None: the family's own parity lengths
    tolerance: float | None = None  # None: the family's own (1e-4 on a mel, 1e-3 on audio)
    quiet: bool = False


class _Reference:
    """Amphion-style outputs for every parity case, computed once."""

    def __init__(self, source: Source, model, lengths, seed: int):
        spec, cfg = source.spec, source.config
        self.names = spec.output_names(cfg)
        self.batch_rows = list(spec.batch_rows)
        self.cases = []
        for tokens in list(lengths) + [self.batch_rows]:
            seeded = torch.Generator().manual_seed(seed + (tokens if isinstance(tokens, int)
                                                           else sum(tokens)))
            inputs = spec.example_inputs(cfg, tokens, seeded)
            outputs = [t.detach().numpy() for t in spec.reference(model, cfg, inputs)]
            self.cases.append((tokens, inputs, outputs))

    def check(self, report: ParityReport, run) -> None:
        """Runs `run(inputs) -> outputs` on every case; single utterances go in the report by
        length, the padded batch in report.extra["batch"]."""
        batch = []
        for tokens, inputs, want in self.cases:
            got = run(inputs)
            if len(got) != len(want):
                raise ExportError(f"{report.runtime}: {len(got)} outputs, expected {len(want)}")
            results = [compare(w, g) for w, g in zip(want, got)]
            if isinstance(tokens, int):
                for result in results:
                    report.add(tokens, result)
            else:
                batch += results
                report.results += results  # the batch counts towards the verdict too
        combined = worst(batch)
        report.extra["batch"] = {"rows": self.batch_rows,
                                 "max_abs": json_number(combined["max_abs"]),
                                 "snr_db": combined["snr_db"]}
        report.extra["compared"] = ", ".join(self.names) + " (integer outputs must be equal)"


def _check_parity(report: ParityReport, name: str, options, progress: Progress) -> None:
    progress.detail(f"{name} vs PyTorch: {report.describe()}; padded batch "
                    f"{report.extra['batch']['rows']}: max-abs "
                    f"{_number(report.extra['batch']['max_abs'])}")
    if not report.passed:
        if not options.allow_mismatch:
            raise ExportError(f"{name} output differs from PyTorch beyond {report.tolerance:g}: "
                              f"{report.describe()} (--allow-mismatch writes the package anyway)")
        progress.warn(f"{name} parity failed; writing it anyway because of --allow-mismatch")


def _number(value) -> str:
    return "n/a" if value is None else format(value, ".3g")


def export_acoustic(options: AcousticExportOptions, progress: Progress | None = None) -> dict:
    """Runs the whole export; returns the manifest written to options.output/amphora.json."""
    formats = [f for f in FORMATS if f in options.formats]
    unsupported = sorted(set(options.formats) - set(FORMATS))
    if unsupported or not formats:
        raise ExportError(f"acoustic models export to {', '.join(FORMATS)}; "
                          f"{', '.join(unsupported) or 'no format'} is not supported for them")
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
    source, model = load_source(options.family, options.checkpoint, options.config,
                                options.amphion_root, options.overrides, options.random_init,
                                options.seed, progress, kind=ACOUSTIC)
    for note in source.notes:
        progress.detail(note)
    spec, cfg = source.spec, source.config
    if "coreml" in formats:
        refuse_unconvertible(spec)  # before minutes of ONNX and TorchScript work
    if source.checkpoint is None:
        spec.plausible(model, cfg)
    tolerance = options.tolerance if options.tolerance is not None else spec.tolerance
    lengths = options.lengths
    if lengths is None:
        lengths = spec.parity_lengths
        lengths = lengths(cfg) if callable(lengths) else lengths
    lengths = tuple(lengths)

    progress.begin(f"building the {spec.name} graph and its Amphion-style reference")
    # The reference keeps weight norm as loaded; the exported twin has it folded, so parity
    # also proves the folding.
    folded_model = clone_generator(source, model)
    folded = fold_weight_norm(folded_model)
    module = spec.export_module(folded_model, cfg).eval()
    reference = _Reference(source, model, lengths, options.seed)
    names_in, names_out = spec.input_names(cfg), spec.output_names(cfg)
    axes = {name: dims for name, dims in spec.dynamic_axes(cfg).items()
            if name in names_in + names_out}
    example = spec.example_inputs(cfg, spec.trace_length,
                                  torch.Generator().manual_seed(options.seed))
    with torch.no_grad():
        example_out = module(*example)
    progress.detail(f"{sum(p.numel() for p in model.parameters()):,} parameters, {folded} "
                    f"weight-normed layers folded; parity on "
                    f"{','.join(map(str, lengths))} {spec.length_unit} and a padded batch")

    def new_report(runtime: str) -> ParityReport:
        return ParityReport(runtime, lengths, tolerance, unit=spec.length_unit)

    parity, files = {}, {}
    if "onnx" in formats:
        progress.begin(f"exporting ONNX (opset {options.opset}) and checking it in ONNX Runtime")
        path = writer.path(FORMAT_FILES["onnx"])
        onnx_export.export_onnx(module, example, path, names_in, names_out, axes, options.opset)
        runner = onnx_export.OnnxRunner(path)
        if runner.input_names != names_in:
            # The runner feeds inputs by position: a dropped (unused) input would shift them.
            raise ExportError(f"the exported ONNX inputs {runner.input_names} differ from "
                              f"{names_in}; an input the graph does not use was dropped "
                              "(an exporter bug: please report it)")
        report = new_report(runner.version)
        reference.check(report, runner)
        _check_parity(report, "ONNX", options, progress)
        parity["onnx"], files["onnx"] = report.summary(), FORMAT_FILES["onnx"]

    traced = None
    if "torchscript" in formats or "coreml" in formats:
        traced = ts_export.trace(module, example)
    if "torchscript" in formats:
        progress.begin("exporting TorchScript (model.ts) and the mobile lite model (model.ptl)")
        probe = reference.cases[1][1]
        variants = (("torchscript", ts_export.save_torchscript, ts_export.load_torchscript),
                    ("torchscript_lite", ts_export.save_lite, ts_export.load_lite))
        for key, save, load in variants:
            path = writer.path(FORMAT_FILES[key])
            notes = save(traced, path, probe)
            loaded = load(path)
            report = new_report(f"torch {torch.__version__} ({key})")
            reference.check(report, lambda inputs: ts_export.run(loaded, inputs))
            report.extra.update(notes)
            _check_parity(report, FORMAT_FILES[key], options, progress)
            parity[key], files[key] = report.summary(), FORMAT_FILES[key]

    if "coreml" in formats:
        progress.begin("converting to Core ML (ML Program) and verifying its spec")
        parity["coreml"] = export_acoustic_coreml(spec, traced, example, example_out, names_in,
                                                  names_out, axes, lengths,
                                                  writer.path(FORMAT_FILES["coreml"]))
        files["coreml"] = FORMAT_FILES["coreml"]
        progress.detail(f"Core ML: {parity['coreml']['verified']}; "
                        f"{len(parity['coreml']['op_types'])} op types checked")

    progress.begin("writing the package")
    manifest = _manifest(options, source, model, example, example_out, files, parity, axes,
                         folded)
    if "onnx" in formats:
        onnx_export.set_metadata(writer.path(FORMAT_FILES["onnx"]), manifest_json(manifest))
    return manifest


def _described(entries: list, meanings: dict) -> list:
    for entry in entries:
        entry["meaning"] = meanings.get(entry["name"])
    return entries


def _data_dependent_axes(axes: dict, inputs: list, derived: dict) -> list:
    given = {axis for name in inputs for axis in axes.get(name, {}).values()} | set(derived)
    found = {axis for name, dims in axes.items() if name not in inputs for axis in dims.values()}
    return sorted(found - given)


def _manifest(options, source: Source, model, example, example_out, files, parity,
              axes, folded: int) -> dict:
    spec, cfg = source.spec, source.config
    mel = spec.mel_settings(cfg)
    checkpoint = source.checkpoint
    derived = spec.derived_axes(cfg) if spec.derived_axes else {}
    extra = spec.extra_manifest(cfg, source.config_path) if spec.extra_manifest else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "acoustic",
        "family": spec.name,
        "task": spec.task,
        "produces": spec.produces,
        "sample_rate": spec.sample_rate(cfg),
        "hop_length": spec.hop_length(cfg),
        "n_mels": mel["n_mels"] if mel else None,
        "mel": mel,
        "vocoder_must_match": list(VOCODER_MUST_MATCH) if spec.produces == "mel" else [],
        "phones": spec.phones(cfg, source.config_path),
        **extra,
        "speakers": spec.speakers(cfg, source.config_path),
        "inputs": _described(io_entries(spec.input_names(cfg), example, axes),
                             spec.input_meanings(cfg)),
        "outputs": _described(io_entries(spec.output_names(cfg), example_out, axes),
                              spec.output_meanings(cfg)),
        # Output axes no input has (mel frames, samples) follow from the predicted durations:
        # a runtime cannot know them before running the model. Axes a formula gives from the
        # input shapes (SVC's samples) are listed in derived_axes instead.
        "data_dependent_axes": _data_dependent_axes(axes, spec.input_names(cfg), derived),
        **({"derived_axes": derived} if derived else {}),
        "formats": files,
        "source": {
            "checkpoint": checkpoint.given if checkpoint else None,
            "weights_file": str(checkpoint.weights_file) if checkpoint else None,
            "sha256": checkpoint.sha256 if checkpoint else None,
            "random_init_seed": None if checkpoint else options.seed,
            "config": str(source.config_path) if source.config_path else None,
            "model_config": cfg.get("model"),
            "overrides": list(options.overrides),
        },
        "exporter": {"name": "amphora-export", "version": __version__,
                     "torch": torch.__version__, "opset": options.opset,
                     "python": platform.python_version(),
                     "parameters": sum(p.numel() for p in model.parameters()),
                     "weight_norm_folded": folded},
        "parity": parity,
    }
