"""Core ML for acoustic models: FastSpeech2 converts to an ML Program with a flexible token axis
and int32 integer inputs, verified at spec level (Core ML cannot run on Linux: whether it
predicts the same mel is for macOS); the VITS families are refused with their reasons, and
those reasons are checked to hold."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import run_cli

from amphora_export.acoustic import get_family, noise
from amphora_export.acoustic_coreml import MAX_LENGTH, flexible_axes
from amphora_export.acoustic_export import AcousticExportOptions, export_acoustic
from amphora_export.errors import ExportError
from amphora_export.export_coreml import CANNOT_EXECUTE, convert, verify_coreml
from amphora_export.export_torchscript import trace
from amphora_export.inspect_package import describe

ct = pytest.importorskip("coremltools")

FS2_INPUTS = ["phone_ids", "phone_lengths", "duration_control", "pitch_control",
              "energy_control"]
FS2_OUTPUTS = ["mel", "mel_lengths", "durations"]


def _spec(package: Path):
    return ct.models.MLModel(str(package / "model.mlpackage"), skip_model_load=True).get_spec()


def _array(spec, name: str):
    entries = list(spec.description.input) + list(spec.description.output)
    return next(e for e in entries if e.name == name).type.multiArrayType


@pytest.fixture(scope="module")
def fs2_package(tmp_path_factory):
    root = tmp_path_factory.mktemp("fs2_coreml")
    options = AcousticExportOptions(output=str(root / "pkg"), family="fastspeech2",
                                    random_init=True, seed=3, formats=("onnx", "coreml"),
                                    quiet=True)
    return root / "pkg", export_acoustic(options)


def test_fastspeech2_package_records_the_core_ml_model(fs2_package):
    package, manifest = fs2_package
    assert manifest["formats"] == {"onnx": "model.onnx", "coreml": "model.mlpackage"}
    assert (package / "model.mlpackage").is_dir()
    assert manifest["parity"]["onnx"]["passed"]  # the Core ML-friendly graph still matches
    entry = manifest["parity"]["coreml"]
    assert entry["verified"] == CANNOT_EXECUTE
    assert entry["inputs"] == FS2_INPUTS and entry["outputs"] == FS2_OUTPUTS
    assert entry["time_ranges"] == {"phone_ids[1]": [1, MAX_LENGTH]}
    assert entry["length_unit"] == "tokens" and entry["default_length"] == 50
    assert entry["dtypes"] == {"phone_ids": "int32", "phone_lengths": "int32",
                               "duration_control": "float32", "pitch_control": "float32",
                               "energy_control": "float32", "mel": "float32",
                               "mel_lengths": "int32", "durations": "int32"}
    # The length regulator (cumulative durations, frame range, path matmul) is in the program.
    assert {"cumsum", "range_1d", "matmul", "conv"} <= set(entry["op_types"])
    assert f"phone_ids[1] 1-{MAX_LENGTH} tokens" in describe(manifest, package)


def test_fastspeech2_spec_has_a_flexible_token_axis(fs2_package):
    package, _ = fs2_package
    spec = _spec(package)
    assert spec.WhichOneof("Type") == "mlProgram"
    assert [i.name for i in spec.description.input] == FS2_INPUTS
    assert [o.name for o in spec.description.output] == FS2_OUTPUTS
    ids = _array(spec, "phone_ids")
    assert ids.dataType == ct.proto.FeatureTypes_pb2.ArrayFeatureType.INT32
    assert [(r.lowerBound, r.upperBound) for r in ids.shapeRange.sizeRanges] == [
        (1, 1), (1, MAX_LENGTH)]
    assert list(ids.shape) == [1, 50]
    assert list(_array(spec, "phone_lengths").shape) == [1]
    assert not _array(spec, "phone_lengths").shapeRange.sizeRanges


def test_spec_check_catches_baked_axes_and_wrong_dtypes(fs2_package):
    package, manifest = fs2_package
    entry = manifest["parity"]["coreml"]
    path = package / "model.mlpackage"
    info = {"ranges": entry["time_ranges"], "dtypes": entry["dtypes"]}
    verify_coreml(path, FS2_INPUTS, FS2_OUTPUTS, {**info, "shapes": {"mel": [1, 20, None]}})
    with pytest.raises(ExportError, match="mel axis 1 is fixed at 20, expected it flexible"):
        verify_coreml(path, FS2_INPUTS, FS2_OUTPUTS, {**info, "shapes": {"mel": [1, None, None]}})
    with pytest.raises(ExportError, match="durations has rank 2, expected 3"):
        verify_coreml(path, FS2_INPUTS, FS2_OUTPUTS,
                      {**info, "shapes": {"durations": [1, None, None]}})
    with pytest.raises(ExportError, match="phone_ids is int32, expected float32"):
        verify_coreml(path, FS2_INPUTS, FS2_OUTPUTS,
                      {**info, "dtypes": {**entry["dtypes"], "phone_ids": "float32"}})
    with pytest.raises(ExportError, match=r"phone_ids\[1\] ranges over \[1, 4096\]"):
        verify_coreml(path, FS2_INPUTS, FS2_OUTPUTS, {**info, "ranges": {"phone_ids[1]": [1, 9]}})


def test_fastspeech2_speaker_and_frame_level_variance_convert(tmp_path):
    options = AcousticExportOptions(
        output=str(tmp_path / "pkg"), family="fastspeech2", random_init=True,
        formats=("coreml",), quiet=True,
        overrides=["train.multi_speaker_training=true", "model.n_speakers=3",
                   "preprocess.use_frame_pitch=true", "preprocess.use_frame_energy=true"])
    manifest = export_acoustic(options)
    assert manifest["formats"] == {"coreml": "model.mlpackage"}
    entry = manifest["parity"]["coreml"]
    assert entry["inputs"][2] == "speaker_id" and entry["dtypes"]["speaker_id"] == "int32"
    speaker = _array(_spec(tmp_path / "pkg"), "speaker_id")
    assert list(speaker.shape) == [1] and not speaker.shapeRange.sizeRanges


@pytest.mark.parametrize("family", ["vits", "vits_svc"])
def test_vits_families_are_refused_with_their_reasons(tmp_path, family):
    options = AcousticExportOptions(output=str(tmp_path / "pkg"), family=family,
                                    random_init=True, formats=("onnx", "coreml"), quiet=True)
    with pytest.raises(ExportError, match=f"Core ML cannot take {family}: .*torch op 'pad'.*"
                                          "int32.*leave coreml out of --formats"):
        export_acoustic(options)
    assert not list(tmp_path.iterdir()), "a refused export left files behind"


def test_vits_refusal_is_one_line_on_the_command_line(tmp_path):
    result = run_cli("acoustic", "--family", "vits", "--random-init", "--formats",
                     "onnx,coreml", "--output", str(tmp_path / "pkg"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    errors = [l for l in result.stderr.splitlines() if l.startswith("amphora-export: error: ")]
    assert len(errors) == 1 and "Core ML cannot take vits" in errors[0]


def test_vits_graph_stops_at_the_dynamic_pad(tmp_path):
    """The first stated obstacle, as coremltools meets it; when a release converts the pad,
    this fails and the refusal needs the noise reason alone."""
    spec = get_family("vits")
    cfg = spec.default_config()
    model = spec.build(cfg)
    spec.plausible(model, cfg)
    module = spec.export_module(model, cfg).eval()
    example = spec.example_inputs(cfg, spec.trace_length, torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs = module(*example)
    names, axes = spec.input_names(cfg), spec.dynamic_axes(cfg)
    with pytest.raises(ExportError, match=r"Core ML conversion failed at torch op 'pad' "
                                          r"\(enc_p/.*\): NotImplementedError: Dynamic padding"):
        convert(trace(module, example), example, outputs, names, spec.output_names(cfg), axes,
                flexible_axes(spec, names, axes, (1, 50)), tmp_path / "vits.mlpackage", "vits")


def test_seeded_noise_differs_in_int32():
    """The second obstacle: Core ML's int32 arithmetic wraps where the generator needs int64."""
    counters = torch.arange(1000)
    wide = noise._mix(counters)
    narrow = noise._mix(counters.to(torch.int32)).to(torch.int64)
    assert (wide != narrow).float().mean() > 0.99
