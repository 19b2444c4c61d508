"""`amphora optimize` and `amphora quantize --fp16`: what they write is standard ONNX that the
ONNX checker accepts and ONNX Runtime runs with the input model's results; optimize leaves no
more nodes than onnxsim on every vocoder family, exported raw by torch.onnx (weight norm and
shape arithmetic left in the graph); fp16 halves the file, and amphora runs and streams it."""
import re
import subprocess
import time

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from amphora_export.vocoders import FAMILIES
from e2e_util import ROOT, amphora_bin, run_amphora, run_onnxruntime
from exported_family import example_feed as feeds, package_cache, raw_export


def amphora(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(amphora_bin()), *args], capture_output=True, text=True, timeout=600)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc


def assert_close(have: dict, want: dict, relative: float):
    for name, w in want.items():
        assert have[name].shape == w.shape, name
        scale = max(1.0, float(np.max(np.abs(w))))
        assert float(np.max(np.abs(have[name] - w))) <= relative * scale, name


def paired_time_ratio(ours, theirs, feed: dict, pairs: int = 31) -> float:
    """Median over alternating runs of (our file's time / their file's time) in ONNX Runtime, one
    thread: each pair runs back to back, so a shared machine's load slows both alike."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = [ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                for path in (ours, theirs)]
    for session in sessions:
        session.run(None, feed)
    ratios = []
    for _ in range(pairs):
        times = []
        for session in sessions:
            start = time.perf_counter()
            session.run(None, feed)
            times.append(time.perf_counter() - start)
        ratios.append(times[0] / times[1])
    return float(np.median(ratios))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_optimize_is_standard_exact_and_no_larger_than_onnxsim(tmp_path, family):
    import onnxsim

    raw = tmp_path / "raw.onnx"
    spec, cfg = raw_export(family, raw)
    out = tmp_path / "optimized.onnx"
    printed = amphora("optimize", str(raw), str(out)).stdout
    before, after = map(int, re.search(r"nodes: (\d+) -> (\d+)", printed).groups())
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert {n.domain for n in model.graph.node} <= {"", "ai.onnx"}
    assert len(model.graph.node) == after < before
    for frames in (24, 41):
        feed = feeds(spec, cfg, frames)
        assert_close(run_onnxruntime(out, feed), run_onnxruntime(raw, feed), 1e-5)

    simplified, valid = onnxsim.simplify(onnx.load(str(raw)))
    assert valid
    simplified_path = tmp_path / "onnxsim.onnx"
    onnx.save(simplified, str(simplified_path))
    assert after <= len(simplified.graph.node), (after, len(simplified.graph.node))
    # ONNX Runtime runs amphora's file at least as fast as onnxsim's (15 % for noise).
    ratio = paired_time_ratio(out, simplified_path, feeds(spec, cfg, 256))
    assert ratio <= 1.15, ratio


def test_optimize_folds_what_exporters_leave_behind(tmp_path):
    """Identity, weight norm, zero Pad, BatchNorm, Dropout, Shape/Size arithmetic and a MatMul
    with its bias, in one graph: what remains is a Conv, a ReduceMean, a Gemm and a Mul."""
    rng = np.random.default_rng(0)
    const = lambda name, a: numpy_helper.from_array(np.asarray(a, np.float32), name)
    inits = [const("v", rng.normal(size=(8, 4, 3))), const("g", rng.normal(size=(8, 1, 1))),
             const("b", rng.normal(size=8)), const("scale", rng.uniform(0.5, 2, 8)),
             const("beta", rng.normal(size=8)), const("mean", rng.normal(size=8)),
             const("var", rng.uniform(0.5, 2, 8)), const("w2", rng.normal(size=(8, 5))),
             const("b2", rng.normal(size=5)),
             numpy_helper.from_array(np.array([0, 0, 2, 0, 0, 1], np.int64), "pads")]
    nodes = [
        helper.make_node("Identity", ["x"], ["x1"]),
        helper.make_node("Pad", ["x1", "pads"], ["p"]),
        helper.make_node("ReduceL2", ["v"], ["norm"], axes=[1, 2], keepdims=1),
        helper.make_node("Div", ["v", "norm"], ["direction"]),
        helper.make_node("Mul", ["direction", "g"], ["w"]),
        helper.make_node("Conv", ["p", "w", "b"], ["c"]),
        helper.make_node("BatchNormalization", ["c", "scale", "beta", "mean", "var"], ["bn"]),
        helper.make_node("Dropout", ["bn"], ["d"]),
        helper.make_node("ReduceMean", ["d"], ["m"], axes=[2], keepdims=0),
        helper.make_node("MatMul", ["m", "w2"], ["mm"]),
        helper.make_node("Add", ["mm", "b2"], ["y0"]),
        helper.make_node("Size", ["m"], ["size"]),
        helper.make_node("Cast", ["size"], ["size_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["y0", "size_f"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "leftovers", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    raw = tmp_path / "leftovers.onnx"
    onnx.save(model, str(raw))
    out = tmp_path / "optimized.onnx"
    amphora("optimize", str(raw), str(out))
    optimized = onnx.load(str(out))
    onnx.checker.check_model(optimized, full_check=True)
    assert sorted(n.op_type for n in optimized.graph.node) == ["Conv", "Gemm", "Mul", "ReduceMean"]
    feed = {"x": rng.normal(size=(2, 4, 16)).astype(np.float32)}
    assert_close(run_onnxruntime(out, feed), run_onnxruntime(raw, feed), 1e-5)
    assert_close(run_amphora(out, feed, tmp_path / "amphora"), run_onnxruntime(raw, feed), 1e-5)


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    return package_cache(tmp_path_factory.mktemp("optimize_packages"), ("onnx", "torchscript"))


def test_a_package_keeps_its_manifest_and_runs(packages, tmp_path):
    exported = packages("hifigan")
    source = exported.dir
    out = tmp_path / "optimized"
    amphora("optimize", str(source), str(out))
    manifest = __import__("json").loads((out / "amphora.json").read_text())
    original = __import__("json").loads((source / "amphora.json").read_text())
    assert manifest["optimized"]["nodes_after"] <= manifest["optimized"]["nodes_before"]
    assert {k: v for k, v in manifest.items() if k != "optimized"} == original
    assert (out / "model.ts").exists()  # the other formats are unchanged, so they come along
    mel = np.random.default_rng(1).normal(size=(1, exported.n_mels, 40)).astype(np.float32) - 4
    np.save(tmp_path / "mel.npy", mel)
    for model, name in ((source, "a"), (out, "b")):
        amphora("vocode", "--model", str(model), "--mel", str(tmp_path / "mel.npy"),
                "-o", str(tmp_path / f"{name}.npy"))
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert np.max(np.abs(a - b)) <= 1e-4


@pytest.mark.parametrize("family", ["hifigan", "vocos"])
def test_fp16_halves_the_file_and_both_runtimes_run_it(packages, tmp_path, family):
    source = packages(family).dir
    out = tmp_path / "fp16"
    printed = amphora("quantize", str(source), str(out), "--fp16").stdout
    assert "stored as float16" in printed
    # The weights take half the bytes (these test models are small enough for names and
    # metadata to matter in the file; the shipped vocoder's file is 1.96x smaller).
    weight_bytes = lambda path: sum(len(numpy_helper.to_array(i).tobytes())
                                    for i in onnx.load(str(path)).graph.initializer)
    fp32_bytes, fp16_bytes = weight_bytes(source / "model.onnx"), weight_bytes(out / "model.onnx")
    assert fp32_bytes / fp16_bytes >= 1.9, (fp32_bytes, fp16_bytes)
    assert (out / "model.onnx").stat().st_size < (source / "model.onnx").stat().st_size
    manifest = __import__("json").loads((out / "amphora.json").read_text())
    assert manifest["quantization"]["weights"] == "float16"
    assert manifest["formats"] == {"onnx": "model.onnx"} and not (out / "model.ts").exists()
    model = onnx.load(str(out / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert any(i.data_type == TensorProto.FLOAT16 for i in model.graph.initializer)

    exported = packages(family)
    feed = {k: v.numpy() for k, v in exported.example(48, seed=3).items()}
    fp32 = run_onnxruntime(source / "model.onnx", feed)
    ort_fp16 = run_onnxruntime(out / "model.onnx", feed)
    ours = run_amphora(out, feed, tmp_path / "amphora")
    assert_close(ours, ort_fp16, 1e-4)   # the same model in both runtimes
    assert_close(ort_fp16, fp32, 2e-2)   # and near the float32 one
    assert any(np.max(np.abs(ort_fp16[k] - fp32[k])) > 0 for k in fp32)  # but really rounded


def test_fp16_streams_exactly_like_its_own_offline_output(packages, tmp_path):
    exported = packages("hifigan")
    out = tmp_path / "fp16"
    amphora("quantize", str(exported.dir), str(out), "--fp16")
    mel = np.random.default_rng(2).normal(size=(1, exported.n_mels, 70)).astype(np.float32) - 4
    np.save(tmp_path / "mel.npy", mel)
    amphora("vocode", "--model", str(out), "--mel", str(tmp_path / "mel.npy"), "-o",
            str(tmp_path / "offline.npy"))
    amphora("vocode", "--model", str(out), "--mel", str(tmp_path / "mel.npy"), "-o",
            str(tmp_path / "stream.npy"), "--stream", "--chunk-frames", "16")
    offline, stream = np.load(tmp_path / "offline.npy"), np.load(tmp_path / "stream.npy")
    assert offline.shape == stream.shape
    assert np.max(np.abs(offline - stream)) <= 1e-5


def test_bad_requests_fail_clearly_and_write_nothing(packages, tmp_path):
    source = packages("hifigan").dir
    once = tmp_path / "once"
    amphora("quantize", str(source), str(once), "--fp16")
    again = tmp_path / "again"
    err = amphora("quantize", str(once), str(again), "--fp16", ok=False).stderr
    assert "already quantized" in err and not again.exists()
    err = amphora("quantize", str(source), str(tmp_path / "x"), ok=False).stderr
    assert "--fp16" in err and not (tmp_path / "x").exists()
    err = amphora("optimize", str(tmp_path / "missing.onnx"), str(tmp_path / "o.onnx"),
                  ok=False).stderr
    assert "missing.onnx" in err and not (tmp_path / "o.onnx").exists()
    (tmp_path / "file.onnx").write_bytes(b"")
    err = amphora("optimize", str(source), str(tmp_path / "file.onnx"), ok=False).stderr
    assert "must be a directory" in err
    err = amphora("optimize", str(source), str(once), ok=False).stderr
    assert "--force" in err
    assert "quantization" in (once / "amphora.json").read_text()  # untouched
    # A model with nothing to store as float16 or int8: a lone Relu.
    relu = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])]),
        opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(relu, str(tmp_path / "relu.onnx"))
    for scheme in ("--fp16", "--int8"):
        err = amphora("quantize", str(tmp_path / "relu.onnx"), str(tmp_path / "r.onnx"), scheme,
                      ok=False).stderr
        assert "nothing to quantize" in err and not (tmp_path / "r.onnx").exists()


def test_quantized_quality_measures_and_records_fp16(packages, tmp_path):
    """The quality command runs both packages on held-out speech and records its figures; fp16
    stays within its bound (log-mel L1 increase <= 0.001)."""
    import json
    import os
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    source = packages("hifigan").dir
    out = tmp_path / "fp16"
    amphora("quantize", str(source), str(out), "--fp16")
    proc = subprocess.run([sys.executable, "-m", "amphora_export.quantized_quality",
                           "--reference", str(source), "--quantized", str(out), "--sentences", "1",
                           "--amphora", str(amphora_bin()), "--record", "--json"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results["scheme"] == "float16" and results["within_bounds"]
    assert results["all"]["utterances"] == 3  # two examples and one held-out sentence
    assert abs(results["all"]["log_mel_l1_increase"]) <= 0.001
    recorded = json.loads((out / "amphora.json").read_text())["quantization"]["quality"]
    assert recorded["utterances"] == 3 and recorded["within_bounds"]
    # The float32 package itself is not a quantized copy: refused, naming the field.
    proc = subprocess.run([sys.executable, "-m", "amphora_export.quantized_quality",
                           "--reference", str(source), "--quantized", str(source)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 1 and "quantization.weights" in proc.stderr
