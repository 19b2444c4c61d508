"""`amphora vocode` end to end: packages written by the exporter (tiny random-init configs, ONNX
only), vocoded by the C++ binary, checked against the PyTorch generators and against the
contract of `vocode` (lengths, spectral heads, NSF f0, bare ONNX, bad input)."""

from __future__ import annotations

import math
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from e2e_util import amphora_bin, run_onnxruntime, write_pcm16
from exported_family import FAMILIES, package_cache

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """Exports each family (ONNX only) on first use; later tests of the module reuse it."""
    return package_cache(tmp_path_factory.mktemp("vocode_packages"), ("onnx",))


def vocode(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(amphora_bin()), "vocode", "--threads", "1", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def vocode_ok(*args: str) -> subprocess.CompletedProcess:
    proc = vocode(*args)
    assert proc.returncode == 0, f"amphora vocode {' '.join(map(str, args))} failed:\n" \
                                 f"{proc.stdout}\n{proc.stderr}"
    return proc


def vocode_fails(*args: str, naming: tuple[str, ...]) -> str:
    """Runs a command that must fail; returns stderr after checking it names the problem."""
    proc = vocode(*args)
    assert proc.returncode != 0, f"expected failure, got success:\n{proc.stdout}"
    assert "Segmentation" not in proc.stderr and proc.returncode > 0, proc.stderr
    message = proc.stderr.lower()
    for word in naming:
        assert word.lower() in message, f"error message does not mention '{word}':\n{proc.stderr}"
    return proc.stderr


def speech_like(sample_rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A voiced-sounding test signal: harmonics of a gliding f0 plus a little noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate) + 7  # not a multiple of any hop: frames = floor(n / hop)
    t = np.arange(n) / sample_rate
    f0 = 140.0 + 40.0 * np.sin(2 * np.pi * 3.0 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    signal = sum(np.sin(k * phase) / k for k in range(1, 8))
    signal = 0.3 * signal / np.max(np.abs(signal)) + 0.01 * rng.standard_normal(n)
    return signal.astype(np.float32)


def write_wav16(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    write_pcm16(path, samples, sample_rate)
    return path


def read_wav16(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav_in:
        assert wav_in.getsampwidth() == 2 and wav_in.getnchannels() == 1
        data = np.frombuffer(wav_in.readframes(wav_in.getnframes()), dtype="<i2")
        return data.astype(np.float32) / 32768.0, wav_in.getframerate()


def random_mel(n_mels: int, frames: int, seed: int = 1) -> np.ndarray:
    """Log-mel-like values (about the range of natural log of clamped magnitudes)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_mels, frames)) - 4.0).astype(np.float32)


# --- wav -> mel -> wav, every family -----------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_wav_length_is_frames_times_hop(packages, family, tmp_path):
    pkg = packages(family)
    samples = speech_like(pkg.sample_rate, 0.25)
    wav_in = write_wav16(tmp_path / "in.wav", samples, pkg.sample_rate)
    frames = len(samples) // pkg.hop
    extra = []
    if family == "nsf_hifigan":
        np.save(tmp_path / "f0.npy", np.full(frames, 150.0, dtype=np.float32))
        extra = ["--f0", tmp_path / "f0.npy"]
    out = tmp_path / "out.wav"
    proc = vocode_ok("--model", pkg.dir, "--wav", wav_in, "-o", out, *extra)
    audio, rate = read_wav16(out)
    assert rate == pkg.sample_rate
    assert len(audio) == frames * pkg.hop
    assert np.any(audio != 0.0), "silent output from a random-init generator"
    assert "real-time factor" in proc.stdout


def test_round_trip_resamples_to_the_model_rate(packages, tmp_path):
    pkg = packages("hifigan")
    source_rate = 22050  # the package runs at 16 kHz
    samples = speech_like(source_rate, 0.3)
    wav_in = write_wav16(tmp_path / "in.wav", samples, source_rate)
    out = tmp_path / "out.wav"
    proc = vocode_ok("--model", pkg.dir, "--wav", wav_in, "-o", out)
    assert "resampling" in proc.stderr and str(source_rate) in proc.stderr
    audio, rate = read_wav16(out)
    assert rate == pkg.sample_rate
    resampled = len(samples) * pkg.sample_rate / source_rate
    assert len(audio) % pkg.hop == 0 and resampled - pkg.hop - 2 < len(audio) <= resampled + 2


# --- spectral heads: the C++ ISTFT must give PyTorch's waveform ----------------------------------

@pytest.mark.parametrize("family,batched", [("vocos", False), ("apnet", True)])
def test_spectral_head_matches_pytorch(packages, family, batched, tmp_path):
    import torch

    pkg = packages(family)
    assert pkg.manifest["head"]["type"] == "istft"
    frames = 45
    (mel,) = pkg.spec.example_inputs(pkg.config, frames, torch.Generator().manual_seed(7))
    want = pkg.reference_audio((mel,)).reshape(-1)
    # Amphion stores mels as [n_mels, T]; [1, n_mels, T] must work as well.
    mel_np = mel.numpy().astype(np.float32)
    np.save(tmp_path / "mel.npy", mel_np if batched else mel_np[0])
    out = tmp_path / "out.npy"
    vocode_ok("--model", pkg.dir, "--mel", tmp_path / "mel.npy", "-o", out)
    got = np.load(out).reshape(-1)
    assert got.shape == want.shape == (frames * pkg.hop,)
    assert np.max(np.abs(got - want)) <= TOLERANCE


@pytest.mark.parametrize("family", ["hifigan", "melgan"])
def test_waveform_head_mel_npy_matches_pytorch(packages, family, tmp_path):
    import torch

    pkg = packages(family)
    mel = random_mel(pkg.n_mels, 23)
    want = pkg.reference_audio((torch.from_numpy(mel)[None],)).reshape(-1)
    np.save(tmp_path / "mel.npy", mel)
    vocode_ok("--model", pkg.dir / "model.onnx", "--mel", tmp_path / "mel.npy",
              "-o", tmp_path / "out.npy")  # the .onnx alone: manifest from metadata_props
    got = np.load(tmp_path / "out.npy").reshape(-1)
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= TOLERANCE


def test_float64_mel_is_accepted_as_float32(packages, tmp_path):
    """numpy saves float64 by default; the vocoder converts instead of refusing."""
    pkg = packages("hifigan")
    mel = random_mel(pkg.n_mels, 17)
    np.save(tmp_path / "mel32.npy", mel.astype(np.float32))
    np.save(tmp_path / "mel64.npy", mel.astype(np.float64))
    vocode_ok("--model", pkg.dir, "--mel", tmp_path / "mel32.npy", "-o", tmp_path / "a.npy")
    vocode_ok("--model", pkg.dir, "--mel", tmp_path / "mel64.npy", "-o", tmp_path / "b.npy")
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


# --- NSF-HiFiGAN: f0 input, seeded source noise ---------------------------------------------------

def test_nsf_with_f0_is_seeded_and_reproducible(packages, tmp_path):
    pkg = packages("nsf_hifigan")
    frames = 30
    np.save(tmp_path / "mel.npy", random_mel(pkg.n_mels, frames))
    f0 = np.where(np.arange(frames) % 10 < 7, 120.0 + 4.0 * np.arange(frames), 0.0)
    np.save(tmp_path / "f0.npy", f0.astype(np.float32)[None])  # [1, T] layout
    np.save(tmp_path / "f0_up.npy", (f0 * 1.5).astype(np.float32))
    runs = {}
    for name, seed, f0_file in (("a", 3, "f0.npy"), ("b", 3, "f0.npy"), ("c", 4, "f0.npy"),
                                ("d", 3, "f0_up.npy")):
        vocode_ok("--model", pkg.dir, "--mel", tmp_path / "mel.npy", "--f0", tmp_path / f0_file,
                  "--seed", seed, "-o", tmp_path / f"{name}.npy")
        runs[name] = np.load(tmp_path / f"{name}.npy").reshape(-1)
    assert runs["a"].shape == (frames * pkg.hop,)
    assert np.all(np.isfinite(runs["a"]))
    np.testing.assert_array_equal(runs["a"], runs["b"])
    assert np.max(np.abs(runs["a"] - runs["c"])) > 1e-6, "--seed does not reach the source noise"
    assert np.max(np.abs(runs["a"] - runs["d"])) > 1e-4, "f0 does not reach the output"


def test_nsf_without_f0_fails(packages, tmp_path):
    pkg = packages("nsf_hifigan")
    np.save(tmp_path / "mel.npy", random_mel(pkg.n_mels, 12))
    vocode_fails("--model", pkg.dir, "--mel", tmp_path / "mel.npy", "-o", tmp_path / "o.npy",
                 naming=("f0",))
    assert not (tmp_path / "o.npy").exists()


def test_nsf_f0_of_wrong_length_fails(packages, tmp_path):
    pkg = packages("nsf_hifigan")
    np.save(tmp_path / "mel.npy", random_mel(pkg.n_mels, 12))
    np.save(tmp_path / "f0.npy", np.full(11, 150.0, dtype=np.float32))
    vocode_fails("--model", pkg.dir, "--mel", tmp_path / "mel.npy", "--f0",
                 tmp_path / "f0.npy", "-o", tmp_path / "o.npy", naming=("f0", "12"))


# --- a bare ONNX file: no manifest, the hop is measured from the graph ----------------------------

@pytest.fixture(scope="module")
def bare_onnx(packages, tmp_path_factory):
    import onnx

    pkg = packages("hifigan")
    model = onnx.load(str(pkg.dir / "model.onnx"))
    del model.metadata_props[:]
    path = tmp_path_factory.mktemp("bare") / "bare.onnx"
    onnx.save(model, str(path))
    return pkg, path


def test_bare_onnx_with_mel_measures_hop(bare_onnx, tmp_path):
    pkg, path = bare_onnx
    frames = 19
    mel = random_mel(pkg.n_mels, frames)
    np.save(tmp_path / "mel.npy", mel)
    vocode_ok("--model", path, "--mel", tmp_path / "mel.npy", "-o", tmp_path / "out.npy")
    got = np.load(tmp_path / "out.npy").reshape(-1)
    assert got.shape == (frames * pkg.hop,)  # the package's hop, found without its manifest
    want = run_onnxruntime(path, {"mel": mel[None]})["audio"].reshape(-1)
    assert np.max(np.abs(got - want[:frames * pkg.hop])) <= TOLERANCE


def test_bare_onnx_wav_output_needs_sample_rate(bare_onnx, tmp_path):
    pkg, path = bare_onnx
    np.save(tmp_path / "mel.npy", random_mel(pkg.n_mels, 10))
    vocode_fails("--model", path, "--mel", tmp_path / "mel.npy", "-o", tmp_path / "a.wav",
                 naming=("--sample-rate",))
    vocode_ok("--model", path, "--mel", tmp_path / "mel.npy", "-o", tmp_path / "b.wav",
              "--sample-rate", 12345)
    audio, rate = read_wav16(tmp_path / "b.wav")
    assert rate == 12345 and len(audio) == 10 * pkg.hop


def test_bare_onnx_refuses_wav_input(bare_onnx, tmp_path):
    pkg, path = bare_onnx
    wav_in = write_wav16(tmp_path / "in.wav", speech_like(pkg.sample_rate, 0.1), pkg.sample_rate)
    vocode_fails("--model", path, "--wav", wav_in, "-o", tmp_path / "o.npy", naming=("--mel",))


# --- bad input: a clear message and a non-zero exit, never a crash -------------------------------

def _write_bad_input(kind: str, directory: Path, n_mels: int, sample_rate: int, hop: int) -> Path:
    if kind == "missing_wav":
        return directory / "does_not_exist.wav"
    if kind == "missing_mel":
        return directory / "does_not_exist.npy"
    if kind in ("empty_wav", "empty_mel"):
        path = directory / ("empty.wav" if kind == "empty_wav" else "empty.npy")
        path.write_bytes(b"")
        return path
    if kind == "garbage_wav":
        path = directory / "garbage.wav"
        path.write_bytes(b"RIFF this is not a wave file at all" * 4)
        return path
    if kind == "garbage_mel":
        path = directory / "garbage.npy"
        path.write_bytes(b"\x93NUMPY\x01\x00{'descr': broken")
        return path
    if kind == "wav_no_samples":
        return write_wav16(directory / "nosamples.wav", np.zeros(0, np.float32), sample_rate)
    if kind == "wav_shorter_than_hop":
        return write_wav16(directory / "short.wav", speech_like(sample_rate, 0)[:hop - 1],
                           sample_rate)
    mel = random_mel(n_mels, 12)
    if kind == "wrong_bins":
        mel = random_mel(n_mels + 3, 12)
    elif kind == "nan":
        mel[2, 5] = math.nan
    elif kind == "inf":
        mel[0, 11] = -math.inf
    elif kind == "zero_frames":
        mel = np.zeros((n_mels, 0), np.float32)
    path = directory / f"{kind}.npy"
    np.save(path, mel)
    return path


BAD_INPUTS = {
    # kind: (flag, words the error message must contain; "{path}" is the input's path)
    "missing_wav": ("--wav", ("{path}",)),
    "missing_mel": ("--mel", ("{path}",)),
    "empty_wav": ("--wav", ("{path}",)),
    "empty_mel": ("--mel", ("{path}",)),
    "garbage_wav": ("--wav", ("{path}",)),
    "garbage_mel": ("--mel", ("{path}",)),
    "wav_no_samples": ("--wav", ("{path}",)),
    "wav_shorter_than_hop": ("--wav", ("frame",)),
    "wrong_bins": ("--mel", ("bins", "{n_mels}")),
    "nan": ("--mel", ("nan", "frame 5")),
    "inf": ("--mel", ("inf", "frame 11")),
    "zero_frames": ("--mel", ("frame",)),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_fails_with_a_message(packages, kind, tmp_path):
    pkg = packages("hifigan")
    path = _write_bad_input(kind, tmp_path, pkg.n_mels, pkg.sample_rate, pkg.hop)
    flag, words = BAD_INPUTS[kind]
    naming = tuple(w.format(path=path.name, n_mels=pkg.n_mels) for w in words)
    out = tmp_path / "out.wav"
    vocode_fails("--model", pkg.dir, flag, path, "-o", out, naming=naming)
    assert not out.exists(), "a failed run left an output file behind"


def test_missing_model_fails(tmp_path):
    np.save(tmp_path / "mel.npy", random_mel(20, 8))
    vocode_fails("--model", tmp_path / "no_such_package", "--mel", tmp_path / "mel.npy",
                 "-o", tmp_path / "o.npy", naming=("no_such_package",))


def test_existing_output_needs_force(packages, tmp_path):
    pkg = packages("hifigan")
    np.save(tmp_path / "mel.npy", random_mel(pkg.n_mels, 9))
    out = tmp_path / "out.npy"
    out.write_bytes(b"precious")
    vocode_fails("--model", pkg.dir, "--mel", tmp_path / "mel.npy", "-o", out,
                 naming=(out.name, "--force"))
    assert out.read_bytes() == b"precious"
    vocode_ok("--model", pkg.dir, "--mel", tmp_path / "mel.npy", "-o", out, "--force")
    assert np.load(out).size == 9 * pkg.hop


def test_output_extension_must_be_wav_or_npy(packages, tmp_path):
    pkg = packages("hifigan")
    np.save(tmp_path / "mel.npy", random_mel(pkg.n_mels, 9))
    vocode_fails("--model", pkg.dir, "--mel", tmp_path / "mel.npy", "-o", tmp_path / "out.mp3",
                 naming=("out.mp3", ".wav"))


def test_wav_and_mel_together_fail(packages, tmp_path):
    pkg = packages("hifigan")
    np.save(tmp_path / "mel.npy", random_mel(pkg.n_mels, 9))
    wav_in = write_wav16(tmp_path / "in.wav", speech_like(pkg.sample_rate, 0.1), pkg.sample_rate)
    proc = vocode("--model", pkg.dir, "--wav", wav_in, "--mel", tmp_path / "mel.npy",
                  "-o", tmp_path / "o.npy")
    assert proc.returncode != 0
    assert "--mel" in proc.stderr or "--wav" in proc.stderr, proc.stderr
