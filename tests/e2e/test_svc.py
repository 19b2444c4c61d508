"""VITS-SVC exported in Python, run in amphora's engine: outputs against ONNX Runtime (model.onnx)
and PyTorch (model.ts) on the same inputs at 1, 16 and 100 frames and a padded batch; inputs
of different frame counts refused naming the input, with no output file."""
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
