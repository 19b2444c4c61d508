"""Amphion configs: JSON5, recursive base_config, lowercased keys, family choice, overrides."""

from __future__ import annotations

import io
import json

import pytest
from conftest import default_config, write_json

from amphora_export.config import apply_overrides, load_config, merge
from amphora_export.errors import ExportError
from amphora_export.progress import Progress
from amphora_export.sources import load_source, resolve_family

JSON5_BASE = """
// Amphion-style base config: comments, trailing commas, unquoted keys, mixed case
{
  Preprocess: {
    sample_rate: 16000, n_mel: 20, n_fft: 256, win_size: 256,
    hop_size: 32, fmin: 0, fmax: 8000,  /* trailing comma next */
  },
  model: {generator: "hifigan", hifigan: {resblock: "2", upsample_rates: [4, 4, 2],},},
}
"""


def _write_chain(root):
    """root/config/base.json5 <- root/egs/exp/mid.json <- root/egs/exp/leaf/exp_config.json"""
    (root / "config").mkdir(parents=True)
    (root / "config" / "base.json").write_text(JSON5_BASE)
    mid = {"base_config": "config/base.json",
           "model": {"hifigan": {"Upsample_Kernel_Sizes": [8, 8, 4],
                                 "upsample_initial_channel": 32}}}
    write_json(root / "egs" / "exp" / "mid.json", mid)
    leaf = {"base_config": "../mid.json",  # relative to the file
            "model": {"hifigan": {"resblock": "1", "resblock_kernel_sizes": [3],
                                  "resblock_dilation_sizes": [[1, 3, 5]]}}}
    return write_json(root / "egs" / "exp" / "leaf" / "exp_config.json", leaf)


def test_json5_base_chain_merges_and_lowercases(tmp_path):
    leaf = _write_chain(tmp_path)
    loaded = load_config(leaf)
    config = loaded.config
    assert loaded.unresolved_bases == []
    assert len(loaded.files) == 3
    assert config["preprocess"]["n_mel"] == 20  # from the base, key lowercased
    section = config["model"]["hifigan"]
    assert section["resblock"] == "1"  # the most derived file wins
    assert section["upsample_kernel_sizes"] == [8, 8, 4]  # lowercased in the middle file
    assert section["upsample_rates"] == [4, 4, 2]  # nested dicts merge instead of replacing


def test_base_config_resolved_against_amphion_root(tmp_path):
    amphion = tmp_path / "Amphion"
    (amphion / "config").mkdir(parents=True)
    (amphion / "config" / "vocoder.json").write_text(JSON5_BASE)
    saved = write_json(tmp_path / "release" / "args.json",
                       {"base_config": "config/vocoder.json",
                        "model": {"hifigan": {"upsample_kernel_sizes": [8, 8, 4]}}})
    assert load_config(saved).unresolved_bases  # not beside the file, not in its ancestors
    loaded = load_config(saved, amphion_root=amphion)
    assert loaded.unresolved_bases == []
    assert loaded.config["preprocess"]["hop_size"] == 32


def test_complete_config_with_missing_base_warns_and_goes_on(tmp_path):
    config = default_config("hifigan")
    config["base_config"] = "config/vocoder.json"  # what Amphion's saved args.json keeps
    path = write_json(tmp_path / "args.json", config)
    stream = io.StringIO()
    source, _ = load_source("hifigan", None, str(path), None, [], True, 0,
                            Progress(1, stream=stream))
    assert "warning: base_config not found: config/vocoder.json" in stream.getvalue()
    assert source.spec.name == "hifigan"


def test_incomplete_config_with_missing_base_is_an_error(tmp_path):
    path = write_json(tmp_path / "args.json",
                      {"base_config": "config/vocoder.json", "model": {"generator": "hifigan"}})
    with pytest.raises(ExportError, match="base_config could not be found: config/vocoder.json"):
        load_source("hifigan", None, str(path), None, [], True, 0, Progress(1, quiet=True))


def test_base_config_cycle_is_reported(tmp_path):
    write_json(tmp_path / "a.json", {"base_config": "b.json"})
    write_json(tmp_path / "b.json", {"base_config": "a.json"})
    with pytest.raises(ExportError, match="base_config cycle"):
        load_config(tmp_path / "a.json")


def test_invalid_json5_names_the_file(tmp_path):
    (tmp_path / "bad.json").write_text("{model: [1, 2")
    with pytest.raises(ExportError, match="bad.json is not valid JSON5"):
        load_config(tmp_path / "bad.json")


def test_family_follows_model_generator_and_disagreement_is_an_error():
    config = {"model": {"generator": "hifigan"}}
    assert resolve_family(None, config).name == "hifigan"
    assert resolve_family("hifigan", config).name == "hifigan"
    with pytest.raises(ExportError, match="--family melgan disagrees with the config"):
        resolve_family("melgan", config)
    with pytest.raises(ExportError, match="unknown family 'wavenet'"):
        resolve_family("wavenet", None)
    with pytest.raises(ExportError, match="cannot tell the model family"):
        resolve_family(None, {"model": {}})


def test_amphion_generator_spelling_maps_to_family():
    assert resolve_family(None, {"model": {"generator": "nsfhifigan"}}).name == "nsf_hifigan"


def test_overrides_apply_json5_values_and_create_sections():
    config = apply_overrides({"model": {"hifigan": {"resblock": "2"}}},
                             ['model.hifigan.resblock="1"', "model.hifigan.upsample_rates=[8,8]",
                              "preprocess.fmax=null", "model.hifigan.name=plain text"])
    assert config["model"]["hifigan"] == {"resblock": "1", "upsample_rates": [8, 8],
                                          "name": "plain text"}
    assert config["preprocess"] == {"fmax": None}
    with pytest.raises(ExportError, match="KEY=VALUE"):
        apply_overrides({}, ["model.hifigan.resblock"])


def test_override_reaches_the_generator(tmp_path):
    path = write_json(tmp_path / "c.json", default_config("hifigan"))
    source, generator = load_source(None, None, str(path), None,
                                    ['model.hifigan.resblock="2"'], True, 0,
                                    Progress(1, quiet=True))
    keys = generator.state_dict()
    assert "resblocks.0.convs.0.weight_v" in keys and "resblocks.0.convs1.0.weight_v" not in keys


def test_merge_does_not_modify_its_inputs():
    base = {"a": {"b": 1, "c": [1]}}
    merged = merge(base, {"a": {"b": 2}})
    assert merged == {"a": {"b": 2, "c": [1]}} and base == {"a": {"b": 1, "c": [1]}}
    assert json.dumps(merged)
