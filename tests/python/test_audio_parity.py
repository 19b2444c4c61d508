"""Parity of the C++ audio front end with PyTorch references written here.

- `amphora mel` against Amphion's extract_mel_features re-implemented with torch.stft and a
  slaney filterbank (written below, no librosa), for three model configurations, on flite speech
  and on noise. The reference runs in float64, the exact mathematics; Amphion itself runs it in
  float32, whose own rounding (up to ~1e-3 in quiet bins of speech) is printed beside ours.
- The C++ ISTFT (torch.istft semantics and the Vocos/APNet "same"-padding variant) against
  torch.istft and a Vocos-style irfft + fold, through the test_audio_istft_parity executable.

The amphora binary is <repo>/build/amphora or $AMPHORA_BIN; a missing binary fails the tests.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from e2e_util import amphora_bin, write_pcm16

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-4

MEL_CONFIGS = {
    # name: sample_rate, n_fft, win, hop, n_mels, fmin, fmax, (mean, std) or None
    "hifigan_22k": dict(sample_rate=22050, n_fft=1024, win_length=1024, hop_length=256,
                        n_mels=80, fmin=0, fmax=8000, norm=None),
    "amphion_24k": dict(sample_rate=24000, n_fft=1024, win_length=1024, hop_length=256,
                        n_mels=100, fmin=0, fmax=12000, norm=None),
    "vocos_24k": dict(sample_rate=24000, n_fft=1920, win_length=1920, hop_length=480,
                      n_mels=128, fmin=0, fmax=12000,
                      norm={"mean": -4.92, "std": math.sqrt(8.14)}),
}


def build_dir() -> Path:
    return amphora_bin().parent


def run(*args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n"
                             f"{result.stderr}")
    return result


# ---------------------------------------------------------------- reference implementation

def hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log_region = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_region, linear)


def mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3)
    log_region = 1000.0 * np.exp((math.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_region, linear)


def slaney_filterbank(sample_rate, n_fft, n_mels, fmin, fmax) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax): slaney scale and norm, float32."""
    fft_freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    rising = (fft_freqs[None, :] - edges[:-2, None]) / widths[:-1, None]
    falling = (edges[2:, None] - fft_freqs[None, :]) / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def amphion_mel(samples: np.ndarray, cfg: dict, dtype=torch.float64) -> np.ndarray:
    """Amphion's extract_mel_features (utils/mel.py), on torch, in `dtype`."""
    n_fft, hop, win = cfg["n_fft"], cfg["hop_length"], cfg["win_length"]
    y = torch.from_numpy(samples).to(dtype)[None, None, :]
    pad = int((n_fft - hop) / 2)
    y = F.pad(y, (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(y, n_fft, hop_length=hop, win_length=win,
                      window=torch.hann_window(win, dtype=dtype), center=False,
                      normalized=False, onesided=True, return_complex=True)
    spec = torch.view_as_real(spec)
    magnitude = torch.sqrt(spec.pow(2).sum(-1) + 1e-9)
    basis = torch.from_numpy(slaney_filterbank(cfg["sample_rate"], n_fft, cfg["n_mels"],
                                               cfg["fmin"], cfg["fmax"])).to(dtype)
    mel = torch.log(torch.clamp(torch.matmul(basis, magnitude), min=1e-5))
    if cfg["norm"]:
        mel = (mel - cfg["norm"]["mean"]) / cfg["norm"]["std"]
    return mel[0].numpy()


# ---------------------------------------------------------------- signals

def fft_resample(x: np.ndarray, new_length: int) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    out = np.zeros(new_length // 2 + 1, dtype=complex)
    keep = min(len(out), len(spectrum))
    out[:keep] = spectrum[:keep]
    return np.fft.irfft(out, new_length) * (new_length / len(x))


def write_float_wav(path: Path, samples: np.ndarray, rate: int) -> np.ndarray:
    """Writes an IEEE-float wav (format tag 3); returns the float32 samples."""
    data = samples.astype("<f4")
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", data.nbytes) + data.tobytes()
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return data.astype(np.float32)


@pytest.fixture(scope="module")
def flite_speech(tmp_path_factory) -> tuple[np.ndarray, int]:
    if shutil.which("flite") is None:
        pytest.fail("flite is not installed (Debian package flite); it makes the speech signal")
    path = tmp_path_factory.mktemp("speech") / "flite.wav"
    run("flite", "-t", "Amphion vocoders need exact mel features, seven times over.", "-o", path)
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2") / 32768.0
        return samples, w.getframerate()


def make_signal(kind: str, flite_speech, rate: int, folder: Path) -> tuple[Path, np.ndarray]:
    if kind == "speech":
        speech, speech_rate = flite_speech
        resampled = fft_resample(speech, round(len(speech) * rate / speech_rate))
        path = folder / f"speech_{rate}.wav"
        return path, write_pcm16(path, 0.9 * resampled / np.abs(resampled).max(), rate)
    rng = np.random.default_rng(rate)
    noise = rng.standard_normal(rate * 2 + 123) * 0.1  # 2 s plus a partial frame
    path = folder / f"noise_{rate}.wav"
    return path, write_float_wav(path, noise, rate)


# ---------------------------------------------------------------- mel parity

@pytest.mark.parametrize("kind", ["speech", "noise"])
@pytest.mark.parametrize("name", list(MEL_CONFIGS))
def test_mel_matches_amphion_reference(name, kind, flite_speech, tmp_path):
    cfg = MEL_CONFIGS[name]
    wav, samples = make_signal(kind, flite_speech, cfg["sample_rate"], tmp_path)
    out = tmp_path / "mel.npy"
    flags = ["--sample-rate", cfg["sample_rate"], "--n-fft", cfg["n_fft"],
             "--win-length", cfg["win_length"], "--hop-length", cfg["hop_length"],
             "--n-mels", cfg["n_mels"], "--fmin", cfg["fmin"], "--fmax", cfg["fmax"]]
    if cfg["norm"]:
        flags += ["--norm-mean", cfg["norm"]["mean"], "--norm-std", cfg["norm"]["std"]]
    run(amphora_bin(), "mel", "--wav", wav, "-o", out, *flags)
    ours = np.load(out)
    reference = amphion_mel(samples, cfg)
    assert ours.dtype == np.float32
    assert ours.shape == (cfg["n_mels"], len(samples) // cfg["hop_length"])
    assert ours.shape == reference.shape
    err = np.abs(ours - reference).max()
    float32_err = np.abs(amphion_mel(samples, cfg, torch.float32) - reference).max()
    print(f"{name}/{kind}: max |C++ - float64 ref| = {err:.2e}; "
          f"Amphion's own float32 rounding = {float32_err:.2e}")
    assert err <= TOLERANCE


def package(folder: Path, cfg: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    mel = {k: cfg[k] for k in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels",
                               "fmin", "fmax")}
    mel.update(center=False, log="natural", clamp_min=1e-5, norm=cfg["norm"])
    manifest = {"schema_version": 1, "family": "vocos", "task": "vocoder",
                "sample_rate": cfg["sample_rate"], "hop_length": cfg["hop_length"],
                "n_mels": cfg["n_mels"], "mel": mel}
    (folder / "amphora.json").write_text(json.dumps(manifest))
    return folder


def test_mel_reads_the_package_manifest_and_resamples(flite_speech, tmp_path):
    """--model PKG: settings from amphora.json; an 8 kHz wav is resampled to the model rate."""
    cfg = MEL_CONFIGS["vocos_24k"]
    pkg = package(tmp_path / "pkg", cfg)
    wav, samples = make_signal("noise", flite_speech, cfg["sample_rate"], tmp_path)
    out = tmp_path / "mel.npy"
    run(amphora_bin(), "mel", "--wav", wav, "--model", pkg, "-o", out)
    assert np.abs(np.load(out) - amphion_mel(samples, cfg)).max() <= TOLERANCE

    speech, rate = flite_speech
    low_rate = tmp_path / "low_rate.wav"
    write_pcm16(low_rate, speech, rate)
    result = run(amphora_bin(), "mel", "--wav", low_rate, "--model", pkg, "-o",
                 tmp_path / "resampled.npy")
    assert f"from {rate} Hz to 24000 Hz" in result.stderr
    mel = np.load(tmp_path / "resampled.npy")
    assert mel.shape == (128, round(len(speech) * 24000 / rate) // 480)


def test_mel_and_compare_refuse_bad_input(flite_speech, tmp_path):
    binary = amphora_bin()
    wav, _ = make_signal("noise", flite_speech, 22050, tmp_path)
    out = tmp_path / "exists.npy"
    out.write_bytes(b"keep me")
    refused = run(binary, "mel", "--wav", wav, "-o", out, check=False)
    assert refused.returncode != 0 and "--force" in refused.stderr
    assert out.read_bytes() == b"keep me"
    run(binary, "mel", "--wav", wav, "-o", out, "--force")
    assert np.load(out).shape[0] == 80

    empty = tmp_path / "empty.wav"
    write_pcm16(empty, np.zeros(0), 22050)
    for bad, message in [(tmp_path / "missing.wav", "missing.wav"), (empty, "empty.wav")]:
        result = run(binary, "mel", "--wav", bad, "-o", tmp_path / "m.npy", check=False)
        assert result.returncode != 0 and message in result.stderr, result.stderr
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "amphora.json").write_text('{"mel": {"sample_rate": 22050}}')
    result = run(binary, "mel", "--wav", wav, "--model", tmp_path / "broken", "-o",
                 tmp_path / "m.npy", check=False)
    assert result.returncode != 0 and "n_fft" in result.stderr, result.stderr
    result = run(binary, "compare", wav, tmp_path / "missing.npy", check=False)
    assert result.returncode != 0 and "missing.npy" in result.stderr


def test_compare_reports_known_distances(flite_speech, tmp_path):
    binary = amphora_bin()
    wav, samples = make_signal("noise", flite_speech, 22050, tmp_path)
    same = json.loads(run(binary, "compare", wav, wav, "--json").stdout)
    assert same["identical"] and same["max_abs"] == 0 and same["snr_db"] is None
    assert same["log_mel_l1"] == 0 and same["mr_stft"]["distance"] == 0

    half = tmp_path / "half.npy"
    np.save(half, (samples[:-1000] * 0.5)[None, None, :])  # a vocoder-shaped, shorter output
    result = json.loads(run(binary, "compare", wav, half, "--json").stdout)
    assert result["a"]["samples"] == len(samples)
    assert result["b"]["samples"] == len(samples) - 1000
    assert result["compared_samples"] == len(samples) - 1000
    assert result["max_abs"] == pytest.approx(np.abs(samples[:-1000] * 0.5).max(), rel=1e-5)
    assert result["snr_db"] == pytest.approx(20 * math.log10(2), abs=1e-3)
    assert result["log_mel_l1"] == pytest.approx(math.log(2), abs=1e-3)
    assert result["mr_stft"]["spectral_convergence"] == pytest.approx(0.5, abs=1e-3)
    text = run(binary, "compare", wav, half).stdout
    assert "lengths differ" in text and "SNR" in text and "MR-STFT" in text


# ---------------------------------------------------------------- ISTFT parity

def vocos_istft(spec: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    """Vocos/APNet ISTFT with padding="same": irfft, window, fold, envelope, trim."""
    pad = (win - hop) // 2
    window = torch.hann_window(win, dtype=torch.float64)
    frames = spec.shape[-1]
    ifft = torch.fft.irfft(spec[None], n_fft, dim=1, norm="backward") * window[None, :, None]
    size = (frames - 1) * hop + win
    y = F.fold(ifft, output_size=(1, size), kernel_size=(1, win), stride=(1, hop))
    y = y[0, 0, 0, pad:-pad]
    square = window.square().expand(1, frames, -1).transpose(1, 2)
    envelope = F.fold(square, output_size=(1, size), kernel_size=(1, win), stride=(1, hop))
    envelope = envelope.squeeze()[pad:-pad]
    assert (envelope > 1e-11).all()
    return y / envelope


ISTFT_CASES = [
    # name, n_fft, hop, win, padding, frames, length
    ("hifigan_center", 1024, 256, 1024, "center", 40, None),
    ("short_window", 1024, 256, 800, "center", 33, None),
    ("with_length", 512, 128, 512, "center", 50, 50 * 128 + 37),
    ("vocos_same", 1920, 480, 1920, "same", 30, None),
    ("apnet_same", 1024, 256, 1024, "same", 41, None),
    ("not_invertible", 512, 128, 256, "none", 10, None),  # Hann starts at 0: envelope is 0
]


def torch_istft(spec, n_fft, hop, win, padding, length):
    if padding == "same":
        return vocos_istft(spec, n_fft, hop, win)
    return torch.istft(spec, n_fft, hop_length=hop, win_length=win,
                       window=torch.hann_window(win, dtype=torch.float64),
                       center=(padding == "center"), length=length)


def test_istft_matches_torch(tmp_path):
    executable = build_dir() / "test_audio_istft_parity"
    if not executable.is_file():
        pytest.fail(f"{executable} not found: build the test_audio_istft_parity target")
    rng = np.random.default_rng(0)
    listing = []
    for name, n_fft, hop, win, padding, frames, length in ISTFT_CASES:
        bins = n_fft // 2 + 1
        np.save(tmp_path / f"{name}.real.npy", rng.standard_normal((bins, frames), np.float32))
        np.save(tmp_path / f"{name}.imag.npy", rng.standard_normal((bins, frames), np.float32))
        listing.append(dict(name=name, n_fft=n_fft, hop_length=hop, win_length=win,
                            padding=padding, length=length))
    (tmp_path / "cases.json").write_text(json.dumps(listing))
    env = dict(os.environ, AMPHORA_ISTFT_CASES=str(tmp_path))
    result = subprocess.run([str(executable), "--gtest_also_run_disabled_tests",
                             "--gtest_filter=IstftParity.DISABLED_CasesFromPython"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr

    for name, n_fft, hop, win, padding, frames, length in ISTFT_CASES:
        spec = torch.complex(torch.from_numpy(np.load(tmp_path / f"{name}.real.npy")),
                             torch.from_numpy(np.load(tmp_path / f"{name}.imag.npy")))
        spec = spec.to(torch.complex128)
        try:
            expected = torch_istft(spec, n_fft, hop, win, padding, length).numpy()
        except RuntimeError as torch_error:
            assert (tmp_path / f"{name}.error.txt").is_file(), f"{name}: torch refused " \
                f"({torch_error}) but amphora did not"
            assert "envelope" in (tmp_path / f"{name}.error.txt").read_text()
            continue
        assert not (tmp_path / f"{name}.error.txt").is_file(), \
            (tmp_path / f"{name}.error.txt").read_text()
        ours = np.load(tmp_path / f"{name}.out.npy")
        assert ours.shape == expected.shape, name
        err = np.abs(ours - expected).max()
        print(f"ISTFT {name}: {len(ours)} samples, max |C++ - torch| = {err:.2e}")
        assert err <= TOLERANCE, name
    assert (tmp_path / "not_invertible.error.txt").is_file()
