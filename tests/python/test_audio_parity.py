"""Parity of the C++ audio front end with PyTorch references written here.

- `amphora mel` against Amphion's extract_mel_features re-implemented with torch.stft and a
  slaney filterbank (written below, no librosa), for three model configurations, on flite speech
  and on noise. The reference runs in float64, the exact mathematics; Amphion itself runs it in
  float32, whose own rounding is also reported (asserted looser), so a reader sees both numbers.
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


def amphora_binary() -> Path:
    path = Path(os.environ.get("AMPHORA_BIN", ROOT / "build" / "amphora"))
    if not path.is_file():
        pytest.fail(f"amphora binary not found at {path}: build it (scripts/setup.sh) "
                    "or set AMPHORA_BIN")
    return path


def build_dir() -> Path:
    return amphora_binary().parent


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


def write_pcm16(path: Path, samples: np.ndarray, rate: int) -> np.ndarray:
    """Writes 16-bit PCM; returns the samples exactly as libsndfile will read them."""
    ints = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(ints.tobytes())
    return ints.astype(np.float32) / 32768.0


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
    run(amphora_binary(), "mel", "--wav", wav, "-o", out, *flags)
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
