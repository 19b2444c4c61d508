"""Acoustic models (FastSpeech2, VITS) exported in Python, run in amphora's engine: outputs against
ONNX Runtime (model.onnx) and PyTorch (model.ts) on the same inputs, at 1, 7 and 50 tokens and a
padded batch; `amphora synth` end to end (FastSpeech2 through a vocoder package, VITS alone);
bad input refused naming what is wrong, with no output file."""
import json
import subprocess

import numpy as np
import pytest
import torch

from e2e_util import ROOT, amphora_bin, export_package, run_amphora, run_onnxruntime

TOLERANCE = {"fastspeech2": 1e-4, "vits": 1e-3}  # mel; waveform after the flows


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("acoustic")
    out = {}
    for family in ("fastspeech2", "vits"):
        out[family] = export_package("acoustic", root / family, "--family", family,
                                     "--random-init", "--seed", "3",
                                     formats="onnx,torchscript")
    # The small random-init vocoder shares the small acoustic defaults' mel settings.
    out["vocoder"] = export_package("vocoder", root / "hifigan", "--family", "hifigan",
                                    "--random-init", "--seed", "0")
    return out


def manifest(package):
    return json.loads((package / "amphora.json").read_text())


def model_inputs(package, lengths, seed=0):
    """Random phone ids padded to the longest row, controls near 1, per the manifest's inputs."""
    m = manifest(package)
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), max(lengths)), np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(1, m["phones"]["count"], n)
    values = {"phone_ids": ids, "phone_lengths": np.array(lengths, np.int64),
              "seed": np.arange(len(lengths), dtype=np.int64) + 11}
    for spec in m["inputs"]:
        if spec["dtype"] == "float32":
            values[spec["name"]] = np.array([rng.uniform(0.9, 1.1)], np.float32)
    return {spec["name"]: values[spec["name"]] for spec in m["inputs"]}


@pytest.mark.parametrize("family", ["fastspeech2", "vits"])
@pytest.mark.parametrize("lengths", [[1], [7], [50], [50, 7]], ids=["1", "7", "50", "batch"])
def test_engine_matches_onnxruntime_and_pytorch(packages, family, lengths, tmp_path):
    package = packages[family]
    inputs = model_inputs(package, lengths)
    ours = run_amphora(package, inputs, tmp_path)
    theirs = run_onnxruntime(package / "model.onnx", inputs)
    scripted = torch.jit.load(str(package / "model.ts"))
    with torch.no_grad():
        torch_out = scripted(*[torch.from_numpy(v) for v in inputs.values()])
    names = [o["name"] for o in manifest(package)["outputs"]]
    torch_out = dict(zip(names, [t.numpy() for t in torch_out]))
    assert set(ours) == set(names)
    for name in names:
        for reference in (theirs[name], torch_out[name]):
            assert ours[name].shape == reference.shape, name
            if ours[name].dtype.kind == "i":
                np.testing.assert_array_equal(ours[name], reference, err_msg=name)
            else:
                assert np.abs(ours[name] - reference).max() <= TOLERANCE[family], name
    assert ours["durations"][0, :lengths[0]].sum() > 0  # it speaks


def synth(*args):
    return subprocess.run([str(amphora_bin()), "synth", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_synth_fastspeech2_through_a_vocoder_and_vits(packages, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("3, 14 25\n7 9 40 12\n")
    mel_npy = tmp_path / "mel.npy"
    proc = synth("--model", packages["fastspeech2"], "--tokens", ids, "-o", mel_npy)
    assert proc.returncode == 0, proc.stderr
    # The mel equals the engine's run of the same ids with the controls at 1.
    inputs = {"phone_ids": np.array([[3, 14, 25, 7, 9, 40, 12]], np.int64),
              "phone_lengths": np.array([7], np.int64)}
    for name in ("duration_control", "pitch_control", "energy_control"):
        inputs[name] = np.ones(1, np.float32)
    expected = run_amphora(packages["fastspeech2"], inputs, tmp_path / "run")["mel"][0]
    np.testing.assert_array_equal(np.load(mel_npy), expected)

    wav = tmp_path / "fs2.wav"
    proc = synth("--model", packages["fastspeech2"], "--tokens", ids, "--vocoder",
                 packages["vocoder"], "-o", wav)
    assert proc.returncode == 0, proc.stderr
    hop = manifest(packages["fastspeech2"])["hop_length"]
    assert f"-> {expected.shape[1]} frames" in proc.stdout
    assert wav.stat().st_size == 44 + 2 * expected.shape[1] * hop  # pcm16 header + samples

    wav = tmp_path / "vits.wav"
    proc = synth("--model", packages["vits"], "--tokens", ids, "--seed", "5", "-o", wav)
    assert proc.returncode == 0, proc.stderr
    first = wav.read_bytes()
    assert len(first) > 44
    proc = synth("--model", packages["vits"], "--tokens", ids, "--seed", "5", "-o", wav, "--force")
    assert wav.read_bytes() == first  # same seed, same audio


@pytest.mark.parametrize("case, tokens, extra, message", [
    ("id out of range", "1 2 999", [], "phone id #2 is 999"),
    ("not an integer", "1 two 3", [], "'two' (id #1) is not an integer"),
    ("empty", "", [], "no phone ids"),
    ("speaker", "1 2 3", ["--speaker", "4"], "speaker 4 is out of range"),
    ("NaN control", "1 2 3", ["--length-scale", "nan"], "duration scale is nan"),
    ("mel without vocoder", "1 2 3", [], "give --vocoder"),
    ("vocoder mel differs", "1 2 3", ["--vocoder", "BENCH_V3"], "does not match"),
    ("a vocoder as the model", "1 2 3", ["--model", "VOCODER"], "not an acoustic model"),
])
def test_bad_input_fails_clearly(packages, tmp_path, case, tokens, extra, message):
    ids = tmp_path / "ids.txt"
    ids.write_text(tokens)
    # A mel to .npy needs no vocoder; only the vocoder cases write a wav.
    out = tmp_path / ("out.wav" if "vocoder" in case else "out.npy")
    if "BENCH_V3" in extra:
        # A vocoder package with other mel settings (22.05 kHz, 80 mels).
        other = export_package("vocoder", tmp_path / "v3", "--family", "hifigan", "--random-init",
                               "--config", str(ROOT / "bench" / "configs" / "hifigan_v3.json"))
        extra = [str(other) if e == "BENCH_V3" else e for e in extra]
    extra = [str(packages["vocoder"]) if e == "VOCODER" else e for e in extra]
    model = [] if "--model" in extra else ["--model", packages["fastspeech2"]]
    proc = synth(*model, "--tokens", ids, "-o", out, *extra)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert not out.exists()


def test_vocode_refuses_an_acoustic_package(packages, tmp_path):
    mel = tmp_path / "mel.npy"
    np.save(mel, np.zeros((20, 10), np.float32))
    proc = subprocess.run([str(amphora_bin()), "vocode", "--model", str(packages["fastspeech2"]),
                           "--mel", str(mel), "-o", str(tmp_path / "x.wav")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "not a vocoder" in proc.stderr and "amphora synth" in proc.stderr


@pytest.mark.parametrize("family", ["fastspeech2", "vits"])
def test_synth_through_the_torchscript_backend_matches_the_engine(packages, family, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("5 17 3 42 8")
    outs = {}
    for backend in ("native", "torchscript"):
        outs[backend] = tmp_path / f"{backend}.npy"
        proc = synth("--model", packages[family], "--tokens", ids, "--backend", backend, "-o",
                     outs[backend])
        assert proc.returncode == 0, proc.stderr
    native, scripted = np.load(outs["native"]), np.load(outs["torchscript"])
    assert native.shape == scripted.shape
    assert np.abs(native - scripted).max() <= TOLERANCE[family]
