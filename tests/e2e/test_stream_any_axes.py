"""Streaming and chunked mode whatever the exporter named the time axes: a vocoder's mel is
[batch, n_mels, frames] by contract, so its time axis is known without a name. Covered:
- every family's package with its input time axes renamed ("T", "time") or left unnamed and
  its output axes given arbitrary names, streamed in pushes of 1, 5, 16 and 37 frames and run
  chunked, against its own offline output;
- plain `torch.onnx.export` files with no manifest (the axis named "T" or left unnamed);
- a bare TorchScript file (no manifest, no ONNX graph): offline and chunked, its receptive
  field measured by running it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from e2e_util import amphora_bin
from exported_family import FAMILIES, package_cache

TOLERANCE = 1e-4
PUSH_SIZES = ("1", "5", "16", "37")
# What the exporter called the axes -> what each variant calls them ("" = unnamed).
AXIS_NAMES = {"T": {"frames": "T", "samples": "T_audio"},
              "time": {"frames": "time", "samples": "length"},
              "unnamed": {"frames": "", "samples": ""}}


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    return package_cache(tmp_path_factory.mktemp("axes_packages"), ("onnx",))


def rename_axes(model: onnx.ModelProto, names: dict, output_name: str) -> None:
    """Renames the symbolic dims of the graph's inputs (by `names`) and gives every symbolic
    output dim past the batch `output_name`; drops inner shape annotations that still carry
    the old names."""
    for value in model.graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in names:
                dim.dim_param = names[dim.dim_param]
                if not dim.dim_param:
                    dim.ClearField("dim_param")
    for value in model.graph.output:
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if axis > 0 and dim.HasField("dim_param"):
                dim.dim_param = output_name
    del model.graph.value_info[:]


def vocode(model: Path, mel: Path, out: Path, *extra, f0: Path | None = None):
    cmd = [str(amphora_bin()), "vocode", "--model", str(model), "--mel", str(mel), "-o",
           str(out), "--force", *map(str, extra)]
    if f0 is not None:
        cmd += ["--f0", str(f0)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def expect_stream_and_chunked_equal_offline(model: Path, mel: np.ndarray, work: Path,
                                            f0: np.ndarray | None = None, chunked_ok=True,
                                            stream=True, extra=()):
    np.save(work / "mel.npy", mel)
    f0_path = None
    if f0 is not None:
        f0_path = work / "f0.npy"
        np.save(f0_path, f0)
    done = vocode(model, work / "mel.npy", work / "offline.npy", *extra, f0=f0_path)
    assert done.returncode == 0, done.stderr
    offline = np.load(work / "offline.npy")
    if stream:
        for pushes in PUSH_SIZES:
            done = vocode(model, work / "mel.npy", work / "stream.npy", "--stream",
                          "--chunk-frames", pushes, *extra, f0=f0_path)
            assert done.returncode == 0, done.stderr
            streamed = np.load(work / "stream.npy")
            assert streamed.shape == offline.shape, pushes
            assert float(np.max(np.abs(streamed - offline))) <= TOLERANCE, pushes
    for chunk in (1, 16):
        done = vocode(model, work / "mel.npy", work / "chunked.npy", "--chunked", chunk, *extra,
                      f0=f0_path)
        if not chunked_ok:
            assert done.returncode != 0 and "chunked mode cannot be exact" in done.stderr
            return offline
        assert done.returncode == 0, done.stderr
        chunked = np.load(work / "chunked.npy")
        assert float(np.max(np.abs(chunked - offline))) <= TOLERANCE, chunk
    return offline


@pytest.mark.parametrize("variant", sorted(AXIS_NAMES))
@pytest.mark.parametrize("family", FAMILIES)
def test_renamed_axes_stream_exactly(tmp_path, packages, family, variant):
    exported = packages(family)
    package = tmp_path / "package"
    shutil.copytree(exported.dir, package)
    model = onnx.load(str(package / "model.onnx"))
    rename_axes(model, AXIS_NAMES[variant], f"out_{variant}_n")
    onnx.save(model, str(package / "model.onnx"))
    rng = np.random.default_rng(7)
    frames = 70
    mel = rng.normal(-4.0, 1.5, (exported.n_mels, frames)).astype(np.float32)
    f0 = None
    if family == "nsf_hifigan":
        f0 = rng.uniform(80, 300, frames).astype(np.float32)
    offline = expect_stream_and_chunked_equal_offline(
        package, mel, tmp_path, f0=f0, chunked_ok=family != "nsf_hifigan")
    assert offline.shape == (frames * exported.hop,)


def export_plain(exported, path: Path, axis: str | None) -> None:
    """torch.onnx.export as a user would call it: input "x", output "y", no manifest."""
    module = exported.spec.export_module(exported.generator, exported.config).eval()
    mel = torch.randn(1, exported.n_mels, 20)
    dynamic = {"x": {2: axis} if axis else [2], "y": {2: "anything"}}
    torch.onnx.export(module, (mel,), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes=dynamic, opset_version=17)


@pytest.mark.parametrize("axis", ["T", None])
@pytest.mark.parametrize("family", ["hifigan", "bigvgan", "melgan"])
def test_plain_torch_onnx_export_streams(tmp_path, packages, family, axis):
    exported = packages(family)
    path = tmp_path / f"{family}.onnx"
    export_plain(exported, path, axis)
    rng = np.random.default_rng(3)
    mel = rng.normal(-4.0, 1.5, (exported.n_mels, 45)).astype(np.float32)
    offline = expect_stream_and_chunked_equal_offline(path, mel, tmp_path)
    with torch.no_grad():
        module = exported.spec.export_module(exported.generator, exported.config).eval()
        expected = module(torch.from_numpy(mel)[None])[0].numpy().reshape(-1)
    assert float(np.max(np.abs(offline - expected[:offline.size]))) <= TOLERANCE


def test_bare_torchscript_vocodes_offline_and_chunked(tmp_path, packages):
    usage = subprocess.run([str(amphora_bin()), "run", "--help"], capture_output=True,
                           text=True, check=True).stdout
    if "built without LibTorch" in usage:
        pytest.skip("amphora was built without LibTorch")
    exported = packages("hifigan")
    module = exported.spec.export_module(exported.generator, exported.config).eval()
    path = tmp_path / "generator.ts"
    torch.jit.trace(module, torch.randn(1, exported.n_mels, 20)).save(str(path))
    rng = np.random.default_rng(4)
    mel = rng.normal(-4.0, 1.5, (exported.n_mels, 50)).astype(np.float32)
    offline = expect_stream_and_chunked_equal_offline(
        path, mel, tmp_path, stream=False, extra=("--backend", "torchscript"))
    with torch.no_grad():
        expected = module(torch.from_numpy(mel)[None])[0].numpy().reshape(-1)
    assert float(np.max(np.abs(offline - expected[:offline.size]))) <= TOLERANCE
    # The stateful stream needs a graph to analyse, and says so.
    np.save(tmp_path / "mel.npy", mel)
    done = vocode(path, tmp_path / "mel.npy", tmp_path / "s.npy", "--backend", "torchscript",
                  "--stream")
    assert done.returncode != 0 and "has none" in done.stderr, done.stderr
