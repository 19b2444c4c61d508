"""Every checkpoint form Amphion produces loads to the same generator; bad ones are refused."""

from __future__ import annotations

import os
import time

import pytest
import torch
from conftest import amphion_generator_state, default_config, write_json

from amphora_export import checkpoint as ckpt
from amphora_export.errors import ExportError
from amphora_export.progress import Progress
from amphora_export.sources import load_source


@pytest.fixture(scope="module")
def config():
    return default_config("hifigan")


@pytest.fixture(scope="module")
def state(config):
    return amphion_generator_state("hifigan", config, seed=3)


def _load(path, config_path=None, family="hifigan"):
    source, generator = load_source(family, str(path), config_path, None, [], False, 0,
                                    Progress(1, quiet=True))
    return source, generator


def _assert_same_weights(generator, state):
    loaded = generator.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize("wrapper", ["generator_state_dict", "generator", "state_dict", "model"])
def test_single_file_wrappers(tmp_path, config, state, wrapper):
    torch.save({wrapper: state, "optimizer": {"lr": 1e-4}}, tmp_path / "g.pt")
    write_json(tmp_path / "args.json", config)
    source, generator = _load(tmp_path / "g.pt")
    _assert_same_weights(generator, state)
    assert source.checkpoint.sha256 == ckpt.sha256_of(tmp_path / "g.pt")
    assert any(wrapper in note for note in source.notes)


def test_bare_state_dict_with_module_prefix_and_pth(tmp_path, config, state):
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "g.pth")
    write_json(tmp_path / "exp_config.json", config)
    source, generator = _load(tmp_path / "g.pth")
    _assert_same_weights(generator, state)
    assert source.config_path == tmp_path / "exp_config.json"
    assert any("module." in note for note in source.notes)


def test_parametrized_weight_norm_keys_map_to_legacy(tmp_path, config, state):
    renamed = {}
    for key, value in state.items():
        if key.endswith(".weight_g"):
            key = key[:-len(".weight_g")] + ".parametrizations.weight.original0"
        elif key.endswith(".weight_v"):
            key = key[:-len(".weight_v")] + ".parametrizations.weight.original1"
        renamed[key] = value
    torch.save({"generator_state_dict": renamed}, tmp_path / "g.pt")
    _, generator = _load(tmp_path / "g.pt", write_json(tmp_path / "c.json", config))
    _assert_same_weights(generator, state)


def _accelerate_save(exp, name, tensors, safetensors=False):
    folder = exp / "checkpoint" / name
    folder.mkdir(parents=True)
    if safetensors:
        import safetensors.torch

        safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()},
                                    str(folder / "model.safetensors"))
    else:
        torch.save(tensors, folder / "pytorch_model.bin")
    # Discriminators are saved beside the generator as model 1; they must be ignored.
    torch.save({"conv.weight": torch.zeros(1)}, folder / "pytorch_model_1.bin")
    return folder


@pytest.mark.parametrize("safetensors", [False, True])
def test_accelerate_folder_picks_newest_step(tmp_path, config, state, safetensors):
    exp = tmp_path / "exp"
    older = {k: torch.zeros_like(v) for k, v in state.items()}
    # The older save gets the newer mtime: the step number, not the file time, must decide.
    _accelerate_save(exp, "epoch-0009_step-0000900_loss-1.000000", state, safetensors)
    time.sleep(0.01)
    _accelerate_save(exp, "epoch-0001_step-0000100_loss-3.000000", older, safetensors)
    write_json(exp / "args.json", config)
    for given in (exp, exp / "checkpoint"):
        source, generator = _load(given)
        _assert_same_weights(generator, state)
        assert "step-0000900" in str(source.checkpoint.weights_file)
        assert source.config_path == exp / "args.json"
    # Pointing at one save directly also finds <exp>/args.json two levels up.
    direct = exp / "checkpoint" / "epoch-0001_step-0000100_loss-3.000000"
    _, generator = _load(direct)
    assert float(generator.state_dict()["conv_pre.bias"].abs().sum()) == 0.0


def test_release_folder_with_numbered_checkpoint(hifigan_release):
    source, generator = _load(hifigan_release)
    assert source.checkpoint.weights_file.name == "400.pt"
    assert source.config_path.name == "args.json"


def test_missing_unexpected_and_misshapen_keys_are_all_listed(tmp_path, config, state):
    broken = dict(state)
    del broken["conv_pre.bias"]
    broken["extra.weight"] = torch.zeros(3)
    broken["conv_post.weight_v"] = torch.zeros(1, 2, 3)
    torch.save({"generator_state_dict": broken}, tmp_path / "g.pt")
    write_json(tmp_path / "args.json", config)
    with pytest.raises(ExportError) as error:
        _load(tmp_path / "g.pt")
    message = str(error.value)
    assert "missing key(s): conv_pre.bias" in message
    assert "unexpected key(s): extra.weight" in message
    assert "conv_post.weight_v (checkpoint [1, 2, 3], model [1, 4, 7])" in message


def test_nan_and_inf_weights_are_refused(tmp_path, config, state):
    poisoned = dict(state)
    poisoned["ups.1.bias"] = poisoned["ups.1.bias"].clone()
    poisoned["ups.1.bias"][0] = float("nan")
    poisoned["conv_post.bias"] = torch.full_like(poisoned["conv_post.bias"], float("inf"))
    torch.save(poisoned, tmp_path / "g.pt")
    write_json(tmp_path / "args.json", config)
    with pytest.raises(ExportError, match=r"NaN/Inf weights in 2 tensor\(s\): conv_post.bias, "
                                          r"ups.1.bias"):
        _load(tmp_path / "g.pt")


def test_unreadable_and_unrecognised_checkpoints(tmp_path, config):
    write_json(tmp_path / "args.json", config)
    (tmp_path / "junk.pt").write_bytes(b"not a pickle")
    with pytest.raises(ExportError, match="cannot read checkpoint"):
        _load(tmp_path / "junk.pt")
    torch.save({"epoch": 3, "notes": "x"}, tmp_path / "meta.pt")
    with pytest.raises(ExportError, match="holds no model state dict.*epoch, notes"):
        _load(tmp_path / "meta.pt")
    empty = tmp_path / "empty_exp"
    empty.mkdir()
    with pytest.raises(ExportError, match="no checkpoint in"):
        ckpt.resolve_weights_file(empty)
    with pytest.raises(ExportError, match="checkpoint not found"):
        _load(tmp_path / "nope.pt")


def test_missing_config_beside_checkpoint(tmp_path, state):
    torch.save(state, tmp_path / "g.pt")
    with pytest.raises(ExportError, match="no args.json or exp_config.json beside.*--config"):
        _load(tmp_path / "g.pt")


def test_sha256_matches_file_bytes(tmp_path):
    import hashlib

    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(3 << 20))  # several read blocks
    assert ckpt.sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_checkpoint_pickling_foreign_classes_is_explained(tmp_path, config, monkeypatch):
    import sys
    import types

    module = types.ModuleType("amphion_training_objects")

    class Trainer:  # stands in for an Amphion class the exporter cannot import
        pass

    Trainer.__module__, Trainer.__qualname__ = "amphion_training_objects", "Trainer"
    module.Trainer = Trainer
    monkeypatch.setitem(sys.modules, "amphion_training_objects", module)
    torch.save({"trainer": Trainer()}, tmp_path / "g.pt")
    monkeypatch.delitem(sys.modules, "amphion_training_objects")
    write_json(tmp_path / "args.json", config)
    with pytest.raises(ExportError, match="pickles objects of module 'amphion_training_objects'"):
        _load(tmp_path / "g.pt")


def test_a_packed_state_dict_saves_as_one_record_and_loads_back(tmp_path, state):
    """packed: the same tensors as views of one storage, which torch.save writes once."""
    halves = {k: v.half() for k, v in state.items()}
    torch.save(halves, tmp_path / "apart.pt")
    torch.save(ckpt.packed(halves), tmp_path / "packed.pt")
    loaded = torch.load(tmp_path / "packed.pt")
    assert list(loaded) == list(halves)
    assert all(torch.equal(loaded[k], v) for k, v in halves.items())
    assert (tmp_path / "packed.pt").stat().st_size < (tmp_path / "apart.pt").stat().st_size
    with pytest.raises(ValueError, match="one dtype"):
        ckpt.packed({"a": torch.zeros(2), "b": torch.zeros(2, dtype=torch.int64)})


def test_int8_rows_store_a_quarter_and_load_back_within_a_rounding_step(tmp_path, state, config):
    """int8_rows: every weight row within half a step of its own scale; the exporter reads the
    release and the generator computes what float32 weights do, to the rounding."""
    stored = ckpt.int8_rows(state)
    assert {v.dtype for v in stored["rows"].values()} == {torch.int8}
    loaded = ckpt.from_int8_rows(stored)
    assert set(loaded) == set(state)
    for name, value in state.items():
        assert loaded[name].dtype == torch.float32 and loaded[name].shape == value.shape, name
        rows = value.reshape(value.shape[0], -1)
        step = rows.abs().amax(dim=1, keepdim=True) / 127
        error = (loaded[name].reshape(rows.shape) - rows).abs()
        assert bool((error <= 0.5 * step + 1e-3 * rows.abs() + 1e-7).all()), name
    torch.save({ckpt.INT8_KEY: stored, "step": 7}, tmp_path / "7.pt")
    torch.save({"generator_state_dict": state, "step": 7}, tmp_path / "float.pt")
    # a quarter of float32 and its scales; a tiny test model adds the zip records around them
    assert (tmp_path / "7.pt").stat().st_size < 0.4 * (tmp_path / "float.pt").stat().st_size
    write_json(tmp_path / "args.json", config)
    _, generator = _load(tmp_path)
    _, reference = _load(tmp_path / "float.pt", tmp_path / "args.json")
    mel = torch.randn(1, config["preprocess"]["n_mel"], 30)
    with torch.no_grad():
        got, expected = generator(mel), reference(mel)
    assert (got - expected).pow(2).mean() < 1e-3 * expected.pow(2).mean()
