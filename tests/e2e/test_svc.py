"""VITS-SVC exported in Python, run in amphora's engine: outputs against ONNX Runtime (model.onnx)
and PyTorch (model.ts) on the same inputs at 1, 16 and 100 frames and a padded batch; inputs
of different frame counts refused naming the input, with no output file. `amphora svc` end to
end: the same audio as ONNX Runtime, the same seed giving the same audio, bad input refused
naming what is wrong with no output file, and svc/synth pointing to each other."""
import json
import subprocess

import numpy as np
import pytest
import torch

from e2e_util import amphora_bin, run_amphora, run_onnxruntime

TOLERANCE = 1e-3  # waveform after the flows


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The family's small default config with trained-looking weights: every parameter
    Amphion initialises to zero (the couplings' output convs) made non-zero, so the flows do
    something; weight_g moved off ||weight_v|| so that folding weight norm matters."""
    from amphora_export.acoustic import get_family
    from amphora_export.acoustic_export import AcousticExportOptions, export_acoustic

    spec = get_family("vits_svc")
    root = tmp_path_factory.mktemp("svc")
    torch.manual_seed(3)
    state = spec.build(spec.default_config()).state_dict()
    noise = torch.Generator().manual_seed(4)
    for key, value in state.items():
        if value.is_floating_point() and not bool(value.any()):
            state[key] = 0.05 * torch.randn(value.shape, generator=noise)
        elif key.endswith("weight_g"):
            state[key] = value * (0.5 + torch.rand(value.shape, generator=noise))
    (root / "exp").mkdir()
    torch.save(state, root / "exp" / "model.pt")
    (root / "exp" / "args.json").write_text(json.dumps(spec.default_config()))
    manifest = export_acoustic(AcousticExportOptions(
        output=str(root / "pkg"), checkpoint=str(root / "exp" / "model.pt"), quiet=True))
    return root / "pkg", manifest


def model_inputs(manifest, lengths, seed=0):
    """Per the manifest: content features, f0 (a fifth unvoiced), energy, lengths, singer,
    seed, noise scale; zeros past each row's length."""
    rng = np.random.default_rng(seed)
    batch, frames = len(lengths), max(lengths)
    valid = (np.arange(frames)[None, :] < np.array(lengths)[:, None]).astype(np.float32)
    values = {}
    for feature in manifest["content"]["features"]:
        values[feature["input"]] = (rng.standard_normal((batch, frames, feature["dim"]))
                                    .astype(np.float32) * valid[..., None])
    f0 = rng.uniform(80, 800, (batch, frames)) * (rng.uniform(size=(batch, frames)) > 0.2)
    values["f0"] = (f0 * valid).astype(np.float32)
    values["energy"] = (np.exp(rng.uniform(-10, 1, (batch, frames))) * valid).astype(np.float32)
    values["frame_lengths"] = np.array(lengths, np.int64)
    values["speaker_id"] = np.arange(batch, dtype=np.int64) % manifest["speakers"]["count"]
    values["seed"] = np.arange(batch, dtype=np.int64) + 11
    values["noise_scale"] = np.array([0.667], np.float32)
    return {spec["name"]: values[spec["name"]] for spec in manifest["inputs"]}


@pytest.mark.parametrize("lengths", [[1], [16], [100], [100, 16]],
                         ids=["1", "16", "100", "batch"])
def test_engine_matches_onnxruntime_and_pytorch(package, lengths, tmp_path):
    directory, manifest = package
    inputs = model_inputs(manifest, lengths)
    ours = run_amphora(directory, inputs, tmp_path)
    theirs = run_onnxruntime(directory / "model.onnx", inputs)
    scripted = torch.jit.load(str(directory / "model.ts"))
    with torch.no_grad():
        torch_out = scripted(*[torch.from_numpy(v) for v in inputs.values()])
    names = [o["name"] for o in manifest["outputs"]]
    torch_out = dict(zip(names, [t.numpy() for t in torch_out]))
    assert set(ours) == set(names) == {"audio", "audio_lengths"}
    for reference in (theirs, torch_out):
        assert ours["audio"].shape == reference["audio"].shape == (len(lengths), 1,
                                                                   max(lengths) * 32)
        np.testing.assert_array_equal(ours["audio_lengths"], reference["audio_lengths"])
        assert np.abs(ours["audio"] - reference["audio"]).max() <= TOLERANCE
    assert np.abs(ours["audio"][0]).max() > 1e-3  # it sings


@pytest.mark.parametrize("name", ["f0", "contentvec_feat", "energy"])
def test_frame_counts_must_agree(package, tmp_path, name):
    directory, manifest = package
    inputs = model_inputs(manifest, [30])
    inputs[name] = np.ascontiguousarray(inputs[name][:, :1])
    args = [str(amphora_bin()), "run", str(directory)]
    for key, value in inputs.items():
        np.save(tmp_path / f"{key}.npy", value)
        args += ["--input", f"{key}={tmp_path / f'{key}.npy'}"]
    proc = subprocess.run(args + ["--output-dir", str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert f"input '{name}'" in proc.stderr and "'frames'" in proc.stderr
    assert not list((tmp_path / "out").glob("*.npy"))


# `amphora svc`: one row of source features from files, through AcousticModel::convert.

def svc(*args):
    return subprocess.run([str(amphora_bin()), "svc", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def source_files(manifest, arrays, tmp_path):
    """Writes one source's arrays ({feature name or "f0"/"energy": array}) as .npy files;
    returns the --content/--f0/--energy arguments naming them."""
    args = []
    for name, value in arrays.items():
        path = tmp_path / f"src_{name}.npy"
        np.save(path, value)
        args += [f"--{name}", path] if name in ("f0", "energy") else ["--content",
                                                                      f"{name}={path}"]
    return args


def one_source(manifest, frames, seed=0):
    """The arrays of one source as a user has them: each content feature [frames, dim], f0 and
    energy [frames]; and the model inputs they make (batch of one) for the same run."""
    inputs = model_inputs(manifest, [frames], seed)
    arrays = {f["name"]: inputs[f["input"]][0] for f in manifest["content"]["features"]}
    arrays.update(f0=inputs["f0"][0], energy=inputs["energy"][0])
    return arrays, inputs


def test_svc_matches_onnxruntime_and_the_engine(package, tmp_path):
    directory, manifest = package
    arrays, inputs = one_source(manifest, 40)
    inputs.update(speaker_id=np.array([2], np.int64), seed=np.array([7], np.int64),
                  noise_scale=np.array([0.5], np.float32))
    out = tmp_path / "out.npy"
    proc = svc("--model", directory, *source_files(manifest, arrays, tmp_path), "--speaker", 2,
               "--seed", 7, "--noise-scale", 0.5, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "40 frames -> 1280 samples" in proc.stdout
    ours = np.load(out)
    theirs = run_onnxruntime(directory / "model.onnx", inputs)["audio"][0, 0]
    assert ours.shape == theirs.shape == (40 * manifest["hop_length"],)
    assert np.abs(ours - theirs).max() <= TOLERANCE
    # Every input reached the graph as `amphora run` feeds it: the same engine, the same audio.
    np.testing.assert_array_equal(ours, run_amphora(directory, inputs, tmp_path / "run")
                                  ["audio"][0, 0])
    assert np.abs(ours).max() > 1e-3  # it sings


def test_svc_same_seed_same_audio(package, tmp_path):
    directory, manifest = package
    args = ["--model", directory, *source_files(manifest, one_source(manifest, 25)[0], tmp_path)]
    wav = tmp_path / "out.wav"
    runs = []
    for seed in (5, 5, 6):
        proc = svc(*args, "--seed", seed, "-o", wav, "--force")
        assert proc.returncode == 0, proc.stderr
        runs.append(wav.read_bytes())
    assert len(runs[0]) == 44 + 2 * 25 * manifest["hop_length"]  # pcm16 header + samples
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]  # the seed is the prior noise's


def test_svc_through_the_torchscript_backend_matches_the_engine(package, tmp_path):
    directory, manifest = package
    args = ["--model", directory, *source_files(manifest, one_source(manifest, 20)[0], tmp_path)]
    outs = {}
    for backend in ("native", "torchscript"):
        outs[backend] = tmp_path / f"{backend}.npy"
        proc = svc(*args, "--backend", backend, "-o", outs[backend])
        assert proc.returncode == 0, proc.stderr
    native, scripted = np.load(outs["native"]), np.load(outs["torchscript"])
    assert native.shape == scripted.shape
    assert np.abs(native - scripted).max() <= TOLERANCE


def test_svc_help_explains_each_flag():
    proc = svc("--help")
    assert proc.returncode == 0
    for flag in ("--model", "--content", "--f0", "--energy", "--speaker", "--noise-scale",
                 "--seed", "--backend", "--output"):
        assert flag in proc.stdout, flag


def short(value, frames=29):
    return np.ascontiguousarray(value[:frames])


@pytest.mark.parametrize("case, edit, extra, message", [
    ("missing feature", lambda a: a.pop("contentvec"), [],
     "content feature 'contentvec' (contentvec_feat) is missing"),
    ("unknown feature", lambda a: a.update(hubert=a["whisper"]), [],
     "content feature 'hubert' is not one of the model's: whisper, contentvec"),
    ("dim", lambda a: a.update(whisper=np.zeros((30, 5), np.float32)), [],
     "content feature 'whisper' (whisper_feat) is float32 [30, 5]: the model takes float32 "
     "[frames, 24]"),
    ("feature frames", lambda a: a.update(contentvec=short(a["contentvec"])), [],
     "content feature 'contentvec' (contentvec_feat) has 29 frames but content feature "
     "'whisper' (whisper_feat) has 30"),
    ("f0 frames", lambda a: a.update(f0=short(a["f0"])), [], "f0 has 29 frames"),
    ("energy frames", lambda a: a.update(energy=short(a["energy"])), [], "energy has 29 frames"),
    ("empty", lambda a: a.update({k: short(v, 0) for k, v in a.items()}), [], "has no frames"),
    ("NaN f0", lambda a: a["f0"].__setitem__(3, np.nan), [], "f0 at frame 3 is nan"),
    ("negative f0", lambda a: a["f0"].__setitem__(3, -100), [], "f0 at frame 3 is -100"),
    ("no energy", lambda a: a.pop("energy"), [], "the model needs energy"),
    ("speaker", lambda a: None, ["--speaker", "4"], "speaker 4 is out of range"),
    ("NaN noise", lambda a: None, ["--noise-scale", "nan"], "noise_scale is nan"),
])
def test_svc_bad_input_fails_clearly(package, tmp_path, case, edit, extra, message):
    directory, manifest = package
    arrays = one_source(manifest, 30)[0]
    edit(arrays)
    out = tmp_path / "out.wav"
    proc = svc("--model", directory, *source_files(manifest, arrays, tmp_path), *extra, "-o", out)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert not out.exists()


def test_svc_and_synth_point_to_each_other(package, tmp_path):
    directory, manifest = package
    # The same graph described as a TTS package: refused from its manifest, before any input.
    tts = tmp_path / "tts"
    tts.mkdir()
    (tts / "model.onnx").symlink_to(directory / "model.onnx")
    described = dict(manifest, task="tts", phones={"count": 10})
    (tts / "amphora.json").write_text(json.dumps(described))
    out = tmp_path / "out.wav"
    arrays = one_source(manifest, 10)[0]
    proc = svc("--model", tts, *source_files(manifest, arrays, tmp_path), "-o", out)
    assert proc.returncode != 0
    assert "is a TTS model" in proc.stderr and "amphora synth" in proc.stderr, proc.stderr
    assert not out.exists()

    ids = tmp_path / "ids.txt"
    ids.write_text("1 2 3")
    proc = subprocess.run([str(amphora_bin()), "synth", "--model", str(directory), "--tokens",
                           str(ids), "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "singing voice conversion model" in proc.stderr and "amphora svc" in proc.stderr, \
        proc.stderr
    assert not out.exists()
