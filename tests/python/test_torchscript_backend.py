"""`--backend torchscript` end to end: every family exported small and random-init with
formats onnx,torchscript, run by amphora's LibTorch backend and by its native engine, and
compared with the PyTorch module it was exported from. Also the errors: a file that
is not a TorchScript archive, one from an incompatible PyTorch version, inputs that do not match.

Skipped (with the reason) only when the binary was built without LibTorch; then the one test
that checks the flag fails clearly runs instead."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from e2e_util import amphora_bin, run_amphora
from exported_family import FAMILIES, package_cache

TOLERANCE = 1e-4
WITHOUT_LIBTORCH = "built without LibTorch"


def libtorch_in_binary() -> bool:
    proc = subprocess.run([str(amphora_bin()), "run", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "--backend" in proc.stdout, proc.stdout + proc.stderr
    return WITHOUT_LIBTORCH not in proc.stdout


@pytest.fixture(scope="module")
def libtorch():
    if not libtorch_in_binary():
        pytest.skip(f"amphora was {WITHOUT_LIBTORCH} (AMPHORA_WITH_TORCHSCRIPT=OFF)")


@pytest.fixture(scope="module")
def packages(libtorch, tmp_path_factory):
    return package_cache(tmp_path_factory.mktemp("torchscript_packages"), ("onnx", "torchscript"))


def amphora(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(amphora_bin()), *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def amphora_ok(*args) -> subprocess.CompletedProcess:
    proc = amphora(*args)
    assert proc.returncode == 0, f"amphora {' '.join(map(str, args))}:\n{proc.stdout}{proc.stderr}"
    return proc


def amphora_fails(*args, naming: tuple) -> str:
    proc = amphora(*args)
    assert proc.returncode == 1, f"expected exit 1, got {proc.returncode}:\n{proc.stdout}"
    assert len(proc.stderr.strip().splitlines()) == 1, "one line, not LibTorch's backtrace:\n" \
                                                      + proc.stderr
    for word in naming:
        assert str(word) in proc.stderr, f"error does not mention '{word}':\n{proc.stderr}"
    return proc.stderr


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


# --- parity: TorchScript backend vs native engine vs PyTorch, every family --------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_run_matches_native_and_pytorch(packages, family, tmp_path):
    pkg = packages(family)
    assert (pkg.dir / "model.ts").exists() and pkg.manifest["formats"]["torchscript"] == "model.ts"
    for frames, seed in ((37, 3), (8, 4)):  # two lengths: one loaded model, varying inputs
        inputs = pkg.example(frames, seed)
        want = pkg.pytorch(inputs)
        feeds = {name: t.numpy() for name, t in inputs.items()}
        script = run_amphora(pkg.dir, feeds, tmp_path / f"ts{frames}", "--threads", "1",
                             "--backend", "torchscript")
        native = run_amphora(pkg.dir, feeds, tmp_path / f"native{frames}", "--threads", "1")
        assert set(script) == set(want), (sorted(script), sorted(want))
        for name, expected in want.items():
            assert max_abs(script[name], expected) <= TOLERANCE, f"{name} vs PyTorch"
            assert max_abs(script[name], native[name]) <= TOLERANCE, f"{name} vs native"


def write_mel(path: Path, n_mels: int, frames: int, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    np.save(path, (rng.standard_normal((n_mels, frames)) - 4.0).astype(np.float32))
    return path


@pytest.mark.parametrize("family", FAMILIES)
def test_vocode_matches_native_and_pytorch(packages, family, tmp_path):
    import torch

    pkg = packages(family)
    frames = 29
    mel = write_mel(tmp_path / "mel.npy", pkg.n_mels, frames)
    extra = []
    if family == "nsf_hifigan":
        f0 = 110.0 + 3.0 * np.arange(frames, dtype=np.float32)
        np.save(tmp_path / "f0.npy", f0)
        extra = ["--f0", tmp_path / "f0.npy", "--seed", 5]
    outputs = {}
    for backend in ("torchscript", "native"):
        out = tmp_path / f"{backend}.npy"
        amphora_ok("vocode", "--model", pkg.dir, "--mel", mel, "-o", out, "--threads", 1,
                   "--backend", backend, *extra)
        outputs[backend] = np.load(out).reshape(-1)
    assert outputs["torchscript"].shape == (frames * pkg.hop,)
    assert max_abs(outputs["torchscript"], outputs["native"]) <= TOLERANCE
    if family != "nsf_hifigan":  # its source noise is drawn in C++ (seeded), not by PyTorch
        with torch.no_grad():
            want = pkg.spec.reference_audio(pkg.generator, pkg.config,
                                            (torch.from_numpy(np.load(mel))[None],))
        assert max_abs(outputs["torchscript"], want.numpy().reshape(-1)) <= TOLERANCE


@pytest.mark.parametrize("family", ["hifigan", "vocos"])
def test_chunked_mode_runs_on_the_torchscript_backend(packages, family, tmp_path):
    """Chunked mode calls Model::run on chunks of varying length (with context)."""
    pkg = packages(family)
    mel = write_mel(tmp_path / "mel.npy", pkg.n_mels, 53)
    outputs = {}
    for mode, extra in (("offline", []), ("chunked", ["--chunked", 16])):
        out = tmp_path / f"{mode}.npy"
        amphora_ok("vocode", "--model", pkg.dir, "--mel", mel, "-o", out, "--threads", 1,
                   "--backend", "torchscript", *extra)
        outputs[mode] = np.load(out).reshape(-1)
    assert outputs["chunked"].shape == (53 * pkg.hop,)
    assert max_abs(outputs["chunked"], outputs["offline"]) <= TOLERANCE


def test_bare_ts_file_with_and_without_manifest(packages, tmp_path):
    """model.ts inside its package reads the amphora.json beside it; copied out alone it is a
    mel -> audio model whose n_mels comes from its first convolution and hop from a probe."""
    pkg = packages("hifigan")
    mel = write_mel(tmp_path / "mel.npy", pkg.n_mels, 21)
    amphora_ok("vocode", "--model", pkg.dir, "--mel", mel, "-o", tmp_path / "pkg.npy",
               "--backend", "torchscript")
    bare = tmp_path / "alone" / "generator.pt"
    bare.parent.mkdir()
    bare.write_bytes((pkg.dir / "model.ts").read_bytes())
    for model in (pkg.dir / "model.ts", bare):
        out = tmp_path / f"{model.parent.name}.wav.npy"
        amphora_ok("vocode", "--model", model, "--mel", mel, "-o", out, "--backend", "torchscript")
        np.testing.assert_array_equal(np.load(out), np.load(tmp_path / "pkg.npy"))
    proc = amphora_ok("run", bare, "--backend", "torchscript", "-i", _batched(mel),
                      "-o", tmp_path / "run")
    assert "audio" in proc.stdout and "torchscript backend" in proc.stdout
    # A wav needs a rate the bare file does not carry.
    amphora_fails("vocode", "--model", bare, "--mel", mel, "-o", tmp_path / "x.wav",
                  "--backend", "torchscript", naming=("--sample-rate",))
    amphora_ok("vocode", "--model", bare, "--mel", mel, "-o", tmp_path / "x.wav",
               "--backend", "torchscript", "--sample-rate", pkg.manifest["sample_rate"])


def _batched(mel: Path) -> Path:
    out = mel.with_name("mel_batched.npy")
    np.save(out, np.load(mel)[None])
    return out


def test_bench_runs_the_torchscript_backend(packages):
    pkg = packages("hifigan")
    proc = amphora_ok("bench", pkg.dir, "--backend", "torchscript", "--frames", 16,
                      "--threads", 1, "--warmup", 1, "--runs", 2)
    assert "ms" in proc.stdout


# --- errors --------------------------------------------------------------------------------------

def test_file_that_is_not_a_torchscript_archive(packages, tmp_path):
    pkg = packages("hifigan")
    mel = _batched(write_mel(tmp_path / "mel.npy", pkg.n_mels, 9))
    notes = tmp_path / "notes.ts"
    notes.write_text("not a zip archive\n")
    amphora_fails("run", notes, "--backend", "torchscript", "-i", mel, "-o", tmp_path,
                  naming=(notes, "not a TorchScript archive"))
    amphora_fails("run", pkg.dir / "model.onnx", "--backend", "torchscript", "-i", mel,
                  "-o", tmp_path, naming=("model.onnx", "--backend native"))


def test_archive_from_an_incompatible_pytorch(packages, tmp_path):
    """The archive's version record raised past what LibTorch 1.13 reads (a newer PyTorch)."""
    pkg = packages("hifigan")
    future = tmp_path / "future" / "model.ts"
    future.parent.mkdir()
    with zipfile.ZipFile(pkg.dir / "model.ts") as src, zipfile.ZipFile(future, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, b"99\n" if info.filename.endswith("/version") else data)
    mel = write_mel(tmp_path / "mel.npy", pkg.n_mels, 9)
    amphora_fails("vocode", "--model", future, "--mel", mel, "-o", tmp_path / "o.npy",
                  "--backend", "torchscript", naming=(future, "PyTorch version", "99"))
    assert not (tmp_path / "o.npy").exists()


def test_inputs_that_do_not_match(packages, tmp_path):
    pkg = packages("nsf_hifigan")
    inputs = {name: t.numpy() for name, t in pkg.example(12, 0).items()}
    files = {}
    for name, value in inputs.items():
        files[name] = tmp_path / f"{name}.npy"
        np.save(files[name], value)
    wrong_mels = tmp_path / "wrong_mels.npy"
    np.save(wrong_mels, np.zeros((1, pkg.n_mels + 3, 12), np.float32))
    base = ["run", pkg.dir, "--backend", "torchscript", "-o", tmp_path / "out"]
    amphora_fails(*base, *[f"--input={n}={p}" for n, p in files.items() if n != "f0"],
                  naming=("missing input 'f0'",))
    amphora_fails(*base, *[f"--input={n}={wrong_mels if n == 'mel' else p}"
                           for n, p in files.items()],
                  naming=("input 'mel'", f"dim 1 must be {pkg.n_mels}"))
    amphora_fails(*base, *[f"--input={n}={p}" for n, p in files.items()],
                  f"--input=pitch={files['f0']}", naming=("unknown input 'pitch'",))


def test_without_libtorch_the_flag_fails_clearly(tmp_path):
    if libtorch_in_binary():
        pytest.skip("amphora was built with LibTorch: the backend itself is tested above")
    mel = tmp_path / "mel.npy"
    np.save(mel, np.zeros((1, 80, 8), np.float32))
    amphora_fails("run", tmp_path / "model.ts", "--backend", "torchscript", "-i", mel,
                  "-o", tmp_path, naming=(WITHOUT_LIBTORCH,))
