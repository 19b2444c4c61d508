"""Every family x format: export a synthesised Amphion checkpoint, then check the package
independently of the exporter's own parity report."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import amphion_generator_state, write_json

from amphora_export.errors import ExportError
from amphora_export.export_coreml import verify_coreml
from amphora_export.vocoders import FAMILIES, get_family
from amphora_export.istft import istft
from amphora_export.progress import Progress
from amphora_export.vocoder import VocoderExportOptions, export_vocoder

CHECK_FRAMES = 61  # a length neither the trace (50) nor the exporter's parity (37, 200) used


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """family -> (package dir, manifest, state dict, config); each family exported once."""
    cache = {}

    def get(family: str):
        if family not in cache:
            root = tmp_path_factory.mktemp(family)
            spec = get_family(family)
            config = spec.default_config()
            state = amphion_generator_state(family, config, seed=11)
            torch.save({"generator_state_dict": state}, root / "ckpt.pt")
            write_json(root / "args.json", config)
            options = VocoderExportOptions(output=str(root / "pkg"), family=family,
                                           checkpoint=str(root / "ckpt.pt"), quiet=True)
            manifest = export_vocoder(options, Progress(7, quiet=True))
            cache[family] = (root / "pkg", manifest, state, config)
        return cache[family]

    return get


def _reference(family, state, config, inputs):
    """PyTorch with weight norm on, built from scratch: raw outputs and audio."""
    spec = get_family(family)
    generator = spec.build(config).eval()
    generator.load_state_dict(state)
    with torch.no_grad():
        raw = [t.numpy() for t in spec.export_module(generator, config)(*inputs)]
        audio = spec.reference_audio(generator, config, inputs).numpy()
    return raw, audio


def _inputs(family, config, frames=CHECK_FRAMES):
    return get_family(family).example_inputs(config, frames, torch.Generator().manual_seed(99))


def _assert_close(got, want, what):
    assert got.shape == want.shape, what
    error = float(np.max(np.abs(got - want)))
    assert error <= 1e-4, f"{what}: max-abs {error}"


FAMILY_NAMES = sorted(FAMILIES)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_manifest_describes_the_model(exported, family):
    package, manifest, state, config = exported(family)
    spec = get_family(family)
    on_disk = json.loads((package / "amphora.json").read_text())
    assert on_disk == manifest
    assert manifest["schema_version"] == 1 and manifest["task"] == "vocoder"
    assert manifest["family"] == family
    assert manifest["hop_length"] == spec.hop_length(config)
    assert manifest["mel"] == spec.mel_settings(config)
    assert manifest["n_mels"] == manifest["mel"]["n_mels"]
    assert manifest["sample_rate"] == manifest["mel"]["sample_rate"]
    assert manifest["head"] == spec.head(config)
    assert [i["name"] for i in manifest["inputs"]] == spec.input_names(config)
    assert [o["name"] for o in manifest["outputs"]] == spec.output_names(config)
    mel = manifest["inputs"][0]
    assert mel["dims"] == ["batch", manifest["n_mels"], "frames"] and mel["dtype"] == "float32"
    if manifest["head"]["type"] == "waveform":
        assert manifest["outputs"][0]["dims"] == ["batch", 1, "samples"]
    else:
        bins = manifest["head"]["n_fft"] // 2 + 1
        assert [o["dims"] for o in manifest["outputs"]] == [["batch", bins, "frames"]] * 2
    assert manifest["formats"] == {"onnx": "model.onnx", "torchscript": "model.ts",
                                   "torchscript_lite": "model.ptl", "coreml": "model.mlpackage"}
    for name in manifest["formats"].values():
        assert (package / name).exists(), name
    source = manifest["source"]
    assert len(source["sha256"]) == 64 and source["config"].endswith("args.json")
    weight_normed = sum(k.endswith(".weight_g") for k in state)
    assert manifest["exporter"]["weight_norm_folded"] == weight_normed
    for key in ("onnx", "torchscript", "torchscript_lite"):
        entry = manifest["parity"][key]
        assert entry["passed"] and entry["max_abs"] <= 1e-4 and entry["lengths"] == [37, 200]
    assert not list(package.parent.glob(".pkg.*")), "staging directory left behind"


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_onnx_matches_pytorch_and_carries_the_manifest(exported, family):
    package, manifest, state, config = exported(family)
    model = onnx.load(str(package / "model.onnx"))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 17
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata["amphora"] == (package / "amphora.json").read_text()
    inputs = _inputs(family, config)
    session = ort.InferenceSession(str(package / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)})
    raw, audio = _reference(family, state, config, inputs)
    for g, w, name in zip(got, raw, get_family(family).output_names(config)):
        _assert_close(g, w, f"{family} onnx {name}")
    if manifest["head"]["type"] == "istft":
        _assert_close(istft(got[0], got[1], manifest["head"]), audio, f"{family} head istft")
    else:
        _assert_close(got[0], audio, f"{family} onnx audio")


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_torchscript_and_lite_match_pytorch(exported, family):
    from torch.jit.mobile import _load_for_lite_interpreter

    package, _, state, config = exported(family)
    inputs = _inputs(family, config)
    raw, _ = _reference(family, state, config, inputs)
    for module in (torch.jit.load(str(package / "model.ts")),
                   _load_for_lite_interpreter(str(package / "model.ptl"))):
        with torch.no_grad():
            got = module(*inputs)
        for g, w in zip(got, raw):
            _assert_close(g.numpy(), w, f"{family} torchscript")


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_coreml_spec(exported, family):
    import coremltools as ct

    package, manifest, _, config = exported(family)
    spec = ct.models.MLModel(str(package / "model.mlpackage"), skip_model_load=True).get_spec()
    assert spec.WhichOneof("Type") == "mlProgram"
    names = get_family(family).input_names(config)
    assert [i.name for i in spec.description.input] == names
    assert [o.name for o in spec.description.output] == get_family(family).output_names(config)
    mel = spec.description.input[0].type.multiArrayType
    time_range = mel.shapeRange.sizeRanges[2]
    assert (time_range.lowerBound, time_range.upperBound) == (8, 4096)
    chunk = manifest["receptive_field"]["recommended_chunk_frames"]
    assert mel.shape[2] == manifest["parity"]["coreml"]["chunk_frames"] == chunk
    context = manifest["receptive_field"]
    if context["history_frames"] is not None:
        assert 2 * (context["history_frames"] + context["lookahead_frames"]) <= chunk
    entry = manifest["parity"]["coreml"]
    assert entry["verified"] == "spec only: Core ML cannot execute on Linux"
    assert "conv" in entry["op_types"] or "linear" in entry["op_types"]
    with pytest.raises(ExportError, match="inputs are .*expected"):
        verify_coreml(package / "model.mlpackage", names[::-1] + ["extra"],
                      get_family(family).output_names(config),
                      {"ranges": entry["time_ranges"], "chunk_frames": chunk})


def test_opset_14_and_onnx_only(tmp_path):
    options = VocoderExportOptions(output=str(tmp_path / "pkg"), family="hifigan",
                                   random_init=True, seed=4, formats=("onnx",), opset=14,
                                   quiet=True)
    manifest = export_vocoder(options)
    assert manifest["formats"] == {"onnx": "model.onnx"}
    assert set(manifest["parity"]) == {"onnx"}
    assert manifest["source"]["sha256"] is None and manifest["source"]["random_init_seed"] == 4
    assert onnx.load(str(tmp_path / "pkg" / "model.onnx")).opset_import[0].version == 14
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == ["amphora.json", "model.onnx"]
