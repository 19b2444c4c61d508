"""The reference vocoder conversion (amphora_export.reference_model) and the quality script's
metrics and Griffin-Lim baseline (amphora_export.quality), which the reference model's quality
numbers (models/*/README.md) rest on."""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest
import torch

from amphora_export import quality, reference_model
from e2e_util import amphora_bin

MEL = {"sample_rate": 22050, "n_fft": 1024, "win_length": 1024, "hop_length": 256, "n_mels": 80,
       "fmin": 0.0, "fmax": 8000.0, "norm": None}


def voiced(seconds: float, rate: int = 22050, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(f0 + 30 * np.sin(2 * np.pi * 2 * t)) / rate
    signal = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(np.pi * t))
    return (0.2 * signal + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


# --- conversion ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    try:
        reference_model.find_source()
    except Exception as e:  # noqa: BLE001 - the message says how to install it
        pytest.fail(f"pretrained weights not installed (scripts/setup.sh installs them): {e}")
    return reference_model.convert(tmp_path_factory.mktemp("reference") / "hifigan-v1")


def test_conversion_writes_an_amphion_release(converted):
    folder = converted.parent
    assert converted.name == f"{reference_model.STEP}.pt"
    config = json.loads((folder / "args.json").read_text())
    assert config["model"]["generator"] == "hifigan"
    assert config["preprocess"]["sample_rate"] == 22050 and config["preprocess"]["n_mel"] == 80
    saved = torch.load(converted, map_location="cpu")
    assert set(saved) == {"generator_state_dict", "step"}
    state = saved["generator_state_dict"]
    assert "conv_pre.weight_g" in state and "conv_pre.weight_v" in state  # weight norm kept
    assert "ups.3.weight_v" in state and "resblocks.11.convs2.2.bias" in state
    stamp = json.loads((folder / "source.json").read_text())
    assert stamp["license"].startswith("MIT") and len(stamp["source_sha256"]) == 64


def test_converted_release_loads_strictly_through_the_exporter(converted):
    from amphora_export.progress import Progress
    from amphora_export.sources import load_source

    source, generator = load_source(None, str(converted.parent), None, None, [], False, 0,
                                    Progress(1, quiet=True))
    assert source.spec.name == "hifigan"
    assert source.checkpoint.weights_file == converted
    mel = quality.amphion_mel(voiced(0.3), source.spec.mel_settings(source.config))
    with torch.no_grad():
        audio = generator(mel[None])
    assert audio.shape == (1, 1, mel.shape[1] * 256)
    # A trained vocoder gives back speech-level audio from a speech mel, not silence or clipping.
    rms = float(audio.pow(2).mean().sqrt())
    assert 0.01 < rms < 0.5


def test_conversion_is_idempotent_and_repairs_a_damaged_file(converted):
    before = converted.stat().st_mtime_ns
    assert reference_model.convert(converted.parent) == converted
    assert converted.stat().st_mtime_ns == before  # same source: nothing rewritten
    converted.write_bytes(b"truncated")
    reference_model.convert(converted.parent)
    assert "generator_state_dict" in torch.load(converted, map_location="cpu")


# --- metrics: the same numbers as `amphora compare` ---------------------------------------------

def test_metrics_are_zero_for_identical_signals():
    x = voiced(0.4)
    assert quality.log_mel_l1(x, x, MEL) == 0.0
    assert quality.mr_stft_distance(x, x)["distance"] == 0.0


def test_metrics_match_amphora_compare(tmp_path):
    reference = voiced(0.5, seed=1)
    test = (reference + 0.02 * np.random.default_rng(2).standard_normal(len(reference))
            ).astype(np.float32)[:-100]
    np.save(tmp_path / "a.npy", reference)
    np.save(tmp_path / "b.npy", test)
    proc = subprocess.run(
        [str(amphora_bin()), "compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
         "--json", "--sample-rate", "22050", "--n-fft", "1024", "--hop-length", "256",
         "--n-mels", "80", "--fmax", "8000"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    native = json.loads(proc.stdout)
    ours = quality.measure(reference, test, MEL)
    assert math.isclose(ours["log_mel_l1"], native["log_mel_l1"], rel_tol=1e-4)
    for key in ("distance", "spectral_convergence", "log_magnitude_l1"):
        assert math.isclose(ours["mr_stft"][key], native["mr_stft"][key], rel_tol=1e-4), key


# --- the Griffin-Lim baseline and the resampler ---------------------------------------------------

def test_griffin_lim_iterations_approach_the_input():
    x = voiced(0.6)
    mel = quality.amphion_mel(x, MEL)
    start = quality.griffin_lim(mel, MEL, iterations=0)
    classic = quality.griffin_lim(mel, MEL, momentum=0.0)
    fast = quality.griffin_lim(mel, MEL, momentum=0.99)
    assert len(classic) == len(fast) == mel.shape[1] * MEL["hop_length"]
    l1 = [quality.log_mel_l1(x, y, MEL) for y in (start, classic, fast)]
    assert l1[1] < 0.8 * l1[0] and l1[2] < 0.8 * l1[0], l1


def test_fft_resample_keeps_duration_and_pitch():
    rate_in, rate_out, hz = 16000, 22050, 440.0
    x = np.sin(2 * np.pi * hz * np.arange(rate_in) / rate_in).astype(np.float32)
    y = quality.fft_resample(x, rate_in, rate_out)
    assert len(y) == rate_out
    peak = np.argmax(np.abs(np.fft.rfft(y))) * rate_out / len(y)
    assert abs(peak - hz) < 1.0
    assert abs(float(np.max(np.abs(y[100:-100]))) - 1.0) < 0.01
