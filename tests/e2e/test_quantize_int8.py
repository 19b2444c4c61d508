"""`amphora quantize --int8`: the file is standard ONNX in QDQ form (int8 weights, one scale per
output channel; int8 activations with calibrated scales, or dynamic ones), which ONNX Runtime and
amphora both run to the same result; the layers that cost the audio most stay float by
measurement; the shipped reference vocoder stays within the quality bound on held-out speech;
streaming is exact against the quantized model's own offline output; bad requests fail clearly
and write nothing."""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, numpy_helper

from e2e_util import ROOT, amphora_bin, export_package, run_amphora, run_onnxruntime, write_pcm16
from exported_family import package_cache

NO_BUDGET = ("--mel-l1-budget", "1000")  # random-init models: quantize every layer


def amphora(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(amphora_bin()), *args], capture_output=True, text=True, timeout=900)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc


def mels(directory, n_mels: int, count: int = 2, frames: int = 50, seed: int = 0):
    """Random log-mels around a speech-like level, as .npy calibration files."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        np.save(directory / f"mel{i}.npy",
                (rng.normal(size=(n_mels, frames)) - 4).astype(np.float32))
    return directory


def quantized_nodes(model: onnx.ModelProto) -> list:
    """The nodes reading a dequantized weight, with the DequantizeLinear nodes by output."""
    dequantize = {n.output[0]: n for n in model.graph.node if n.op_type == "DequantizeLinear"}
    return [n for n in model.graph.node
            if n.op_type in ("Conv", "ConvTranspose", "MatMul") and n.input[1] in dequantize], \
        dequantize


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    return package_cache(tmp_path_factory.mktemp("int8_packages"), ("onnx", "torchscript"))


# How much smaller the weights get: nearly 4x where convs and matmuls hold them all; Vocos keeps
# its depthwise convs, LayerNorms and embeddings float.
SMALLER = {"hifigan": 3.3, "melgan": 3.3, "vocos": 2.5}


@pytest.mark.parametrize("family", sorted(SMALLER))
def test_static_int8_is_qdq_that_both_runtimes_run_alike(packages, tmp_path, family):
    exported = packages(family)
    out = tmp_path / "int8"
    calibration = mels(tmp_path / "calibration", exported.n_mels)
    printed = amphora("quantize", str(exported.dir), str(out), "--int8", "--calibrate",
                      str(calibration), *NO_BUDGET).stdout
    assert "layers quantized to int8 (static, calibrated" in printed
    model = onnx.load(str(out / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert {n.domain for n in model.graph.node} <= {"", "ai.onnx"}
    weights = {i.name: i for i in model.graph.initializer}
    nodes, dequantize = quantized_nodes(model)
    assert nodes
    producers = {o: n for n in model.graph.node for o in n.output}
    for node in nodes:
        dq_w = dequantize[node.input[1]]
        w = weights[dq_w.input[0]]
        assert w.data_type == TensorProto.INT8
        axis = next(a.i for a in dq_w.attribute if a.name == "axis")
        scale = numpy_helper.to_array(weights[dq_w.input[1]])
        assert scale.shape == (w.dims[axis],) and np.all(scale > 0)  # one scale per channel
        dq_x = producers[node.input[0]]
        assert dq_x.op_type == "DequantizeLinear"
        quantize = producers[dq_x.input[0]]
        assert quantize.op_type == "QuantizeLinear"
        assert numpy_helper.to_array(weights[quantize.input[1]]).shape == ()  # per tensor
        zero = weights[quantize.input[2]]
        assert zero.data_type == TensorProto.INT8 and not numpy_helper.to_array(zero).any()
    manifest = json.loads((out / "amphora.json").read_text())
    q = manifest["quantization"]
    assert q["weights"] == "int8" and q["quantized_layers"] == len(nodes)
    assert f"{len(nodes)} weight tensors as int8" in amphora("inspect", str(out)).stdout
    assert q["calibration"]["files"] == 2 and q["calibration"]["frames"] == 100
    assert manifest["formats"] == {"onnx": "model.onnx"} and not (out / "model.ts").exists()
    weight_bytes = lambda m: sum(numpy_helper.to_array(i).nbytes for i in m.graph.initializer)
    smaller = weight_bytes(onnx.load(str(exported.dir / "model.onnx"))) / weight_bytes(model)
    assert smaller >= SMALLER[family], smaller

    feed = {k: v.numpy() for k, v in exported.example(48, seed=5).items()}
    fp32 = run_onnxruntime(exported.dir / "model.onnx", feed)
    ort_int8 = run_onnxruntime(out / "model.onnx", feed)
    ours = run_amphora(out, feed, tmp_path / "amphora")
    for name, want in ort_int8.items():
        scale = max(1.0, float(np.max(np.abs(want))))
        # The same quantized model in both runtimes: equal up to an activation landing on the
        # other side of a rounding step in one of them.
        assert np.mean(np.abs(ours[name] - want)) <= 1e-3 * scale, name
        # and near the float model, but really quantized
        error = float(np.max(np.abs(want - fp32[name])))
        assert 0 < error <= 0.25 * max(1.0, float(np.max(np.abs(fp32[name])))), (name, error)


def test_dynamic_int8_without_calibration(packages, tmp_path):
    exported = packages("hifigan")
    out = tmp_path / "dynamic"
    printed = amphora("quantize", str(exported.dir), str(out), "--int8").stdout
    assert "dynamic" in printed and "pass --calibrate" in printed
    model = onnx.load(str(out / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert any(n.op_type == "DynamicQuantizeLinear" for n in model.graph.node)
    feed = {k: v.numpy() for k, v in exported.example(40, seed=6).items()}
    ort_int8 = run_onnxruntime(out / "model.onnx", feed)
    ours = run_amphora(out, feed, tmp_path / "amphora")
    for name, want in ort_int8.items():
        assert np.mean(np.abs(ours[name] - want)) <= 1e-3 * max(1.0, np.max(np.abs(want)))


def test_keep_float_by_name(packages, tmp_path):
    exported = packages("hifigan")
    calibration = mels(tmp_path / "calibration", exported.n_mels)
    everything = tmp_path / "all"
    amphora("quantize", str(exported.dir), str(everything), "--int8", "--calibrate",
            str(calibration), *NO_BUDGET)
    nodes, _ = quantized_nodes(onnx.load(str(everything / "model.onnx")))
    first = nodes[0].name
    named = tmp_path / "named"
    amphora("quantize", str(exported.dir), str(named), "--int8", "--calibrate", str(calibration),
            "--keep-float", first, *NO_BUDGET)
    kept = json.loads((named / "amphora.json").read_text())["quantization"]["float_layers"]
    assert kept == [{"node": first, "why": "--keep-float"}]
    assert len(quantized_nodes(onnx.load(str(named / "model.onnx")))[0]) == len(nodes) - 1



def test_int8_streams_exactly_like_its_own_offline_output(packages, tmp_path):
    exported = packages("hifigan")
    out = tmp_path / "int8"
    amphora("quantize", str(exported.dir), str(out), "--int8", "--calibrate",
            str(mels(tmp_path / "calibration", exported.n_mels)), *NO_BUDGET)
    np.save(tmp_path / "mel.npy",
            np.random.default_rng(2).normal(size=(1, exported.n_mels, 70)).astype(np.float32) - 4)
    amphora("vocode", "--model", str(out), "--mel", str(tmp_path / "mel.npy"), "-o",
            str(tmp_path / "offline.npy"))
    for mode in (("--stream", "--chunk-frames", "16"), ("--chunked", "24")):
        amphora("vocode", "--model", str(out), "--mel", str(tmp_path / "mel.npy"), "-o",
                str(tmp_path / "piecewise.npy"), "--force", *mode)
        offline, piecewise = np.load(tmp_path / "offline.npy"), np.load(tmp_path / "piecewise.npy")
        assert offline.shape == piecewise.shape
        assert np.max(np.abs(offline - piecewise)) <= 1e-4, mode
    # Dynamic scales span the whole input: streaming is refused, saying why.
    dynamic = tmp_path / "dynamic"
    amphora("quantize", str(exported.dir), str(dynamic), "--int8")
    err = amphora("vocode", "--model", str(dynamic), "--mel", str(tmp_path / "mel.npy"), "-o",
                  str(tmp_path / "s.npy"), "--stream", ok=False).stderr
    assert "DynamicQuantizeLinear" in err


def test_the_reference_vocoder_stays_within_the_int8_bound(tmp_path):
    """Calibrated on the examples, a layer over the budget alone stays float, then the costliest
    layers go back to float until the calibration budget is met; measured on held-out
    sentences: log-mel L1 increase <= 0.03 and PESQ drop <= 0.1 against the float32 package."""
    source = export_package("vocoder", tmp_path / "reference", "--checkpoint",
                            str(ROOT / "models" / "hifigan-flite-v1-quarter"))
    out = tmp_path / "int8"
    proc = amphora("quantize", str(source), str(out), "--int8", "--calibrate",
                   str(ROOT / "examples"))
    q = json.loads((out / "amphora.json").read_text())["quantization"]
    reasons = [k["why"] for k in q["float_layers"]]
    assert any("costliest" in why for why in reasons), reasons
    assert all("costliest" in why or "over the budget alone" in why for why in reasons), reasons
    assert q["quantized_layers"] > len(q["float_layers"])
    assert q["calibration_log_mel_l1_increase"] <= q["log_mel_l1_increase_budget"] == 0.02
    assert "stays float" in proc.stderr and "quantized alone" in proc.stderr  # progress
    assert "kept float: " + q["float_layers"][0]["node"] in proc.stdout
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    proc = subprocess.run([sys.executable, "-m", "amphora_export.quantized_quality",
                           "--reference", str(source), "--quantized", str(out), "--sentences", "4",
                           "--amphora", str(amphora_bin()), "--json"],
                          capture_output=True, text=True, timeout=900, env=env)
    results = json.loads(proc.stdout)
    assert results["scheme"] == "int8"
    assert results["all"]["log_mel_l1_increase"] <= 0.03, results["all"]
    assert results["all"]["pesq_drop"] <= 0.1, results["all"]
    assert proc.returncode == 0, proc.stderr


def test_bad_requests_fail_clearly_and_write_nothing(packages, tmp_path):
    exported = packages("hifigan")
    source = exported.dir
    calibration = mels(tmp_path / "calibration", exported.n_mels)

    def refused(*args, says):
        target = tmp_path / "out"
        err = amphora("quantize", str(source), str(target), *args, ok=False).stderr
        assert says in err, err
        assert not target.exists()

    refused("--int8", "--fp16", says="--int8")
    refused("--int8", "--calibrate", str(tmp_path / "missing"), says="missing")
    (tmp_path / "empty").mkdir()
    refused("--int8", "--calibrate", str(tmp_path / "empty"), says="holds no .wav")
    (tmp_path / "empty.npy").write_bytes(b"")
    refused("--int8", "--calibrate", str(tmp_path / "empty.npy"), says="empty.npy")
    np.save(tmp_path / "wide.npy", np.zeros((exported.n_mels + 3, 20), np.float32))
    refused("--int8", "--calibrate", str(tmp_path / "wide.npy"), says="bins")
    write_pcm16(tmp_path / "other_rate.wav", np.zeros(8000, np.float32), 8000)
    refused("--int8", "--calibrate", str(tmp_path / "other_rate.wav"), says="8000 Hz")
    refused("--int8", "--calibrate", str(calibration), "--keep-float", "no_such_node",
            says="no node of that name")

    once = tmp_path / "once"
    amphora("quantize", str(source), str(once), "--int8", "--calibrate", str(calibration),
            *NO_BUDGET)
    err = amphora("quantize", str(once), str(tmp_path / "again"), "--int8", ok=False).stderr
    assert "already quantized" in err and not (tmp_path / "again").exists()


def test_the_default_vocoder_with_the_mels_magnitude_keeps_that_stage_float(tmp_path):
    """Exported as the demo exports it (--mel-magnitude), the STFT, the filterbank's inverse and
    the inverse STFT each exceed the budget alone and stay float at once; the generator is then
    quantized as without them."""
    source = export_package("vocoder", tmp_path / "reference", "--checkpoint",
                            str(ROOT / "models" / "hifigan-flite-v1-quarter"), "--mel-magnitude")
    out = tmp_path / "int8"
    amphora("quantize", str(source), str(out), "--int8", "--calibrate", str(ROOT / "examples"),
            "--calibration-frames", "256")  # a quarter of the default: this test is about order
    q = json.loads((out / "amphora.json").read_text())["quantization"]
    why = {layer["node"]: layer["why"] for layer in q["float_layers"]}
    stage = [node for node in why if not node.startswith("/module/generator/")]
    assert len(stage) == 3 and all("over the budget alone" in why[node] for node in stage), why
    assert q["quantized_layers"] >= 3 * len(q["float_layers"]), why
    assert q["calibration_log_mel_l1_increase"] <= q["log_mel_l1_increase_budget"]
