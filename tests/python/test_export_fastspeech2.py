"""FastSpeech2: Amphion's key layout, the control-flow-free graph against Amphion's own
inference, checkpoint forms, strict key errors, and one ONNX/TorchScript file serving every
length."""

from __future__ import annotations

import copy
import json

import numpy as np
import onnx
import pytest
import torch
from conftest import amphion_acoustic_state, run_cli, write_json

from amphora_export.acoustic import get_family
from amphora_export.acoustic.length_regulator import (at_least_one_frame, expand,
                                                      expand_by_loop)
from amphora_export.acoustic.symbols import LEXICON_SYMBOLS, _collator_table
from amphora_export.acoustic_export import AcousticExportOptions, export_acoustic
from amphora_export.errors import ExportError
from amphora_export.export_onnx import OnnxRunner
from amphora_export.op_report import analyse
from amphora_export.progress import Progress
from amphora_export.sources import ACOUSTIC, load_source

SPEC = get_family("fastspeech2")
TOKENS = (1, 7, 50)


def _config(**preprocess) -> dict:
    config = SPEC.default_config()
    config["preprocess"].update(preprocess)
    return config


def _amphion_keys(config: dict, speakers: int = 0) -> set:
    """Amphion's FastSpeech2 state_dict keys, written out from its module structure."""
    t = config["model"]["transformer"]
    layer = [f"slf_attn.{n}.{p}" for n in ("w_qs", "w_ks", "w_vs", "fc", "layer_norm")
             for p in ("weight", "bias")]
    layer += [f"pos_ffn.{n}.{p}" for n in ("w_1", "w_2", "layer_norm") for p in ("weight", "bias")]
    keys = {"encoder.src_word_emb.weight", "encoder.position_enc", "decoder.position_enc",
            "mel_linear.weight", "mel_linear.bias", "variance_adaptor.pitch_bins",
            "variance_adaptor.energy_bins", "variance_adaptor.pitch_embedding.weight",
            "variance_adaptor.energy_embedding.weight"}
    keys |= {f"encoder.layer_stack.{i}.{k}" for i in range(t["encoder_layer"]) for k in layer}
    keys |= {f"decoder.layer_stack.{i}.{k}" for i in range(t["decoder_layer"]) for k in layer}
    for predictor in ("duration", "pitch", "energy"):
        base = f"variance_adaptor.{predictor}_predictor"
        keys |= {f"{base}.conv_layer.{n}.{p}" for n in ("conv1d_1.conv", "layer_norm_1",
                                                        "conv1d_2.conv", "layer_norm_2")
                 for p in ("weight", "bias")}
        keys |= {f"{base}.linear_layer.weight", f"{base}.linear_layer.bias"}
    for i in range(5):
        keys |= {f"postnet.convolutions.{i}.0.conv.weight", f"postnet.convolutions.{i}.0.conv.bias"}
        keys |= {f"postnet.convolutions.{i}.1.{p}" for p in
                 ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")}
    if speakers:
        keys.add("speaker_emb.weight")
    return keys


def _model(config: dict, seed: int = 0):
    model = SPEC.build(config)
    model.load_state_dict(amphion_acoustic_state("fastspeech2", config, seed))
    return model.eval()


def _agree(model, config, tokens, seed: int, tolerance: float = 1e-5):
    inputs = SPEC.example_inputs(config, tokens, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        graph = SPEC.export_module(model, config)(*inputs)
    amphion = SPEC.reference(model, config, inputs)
    assert [tuple(g.shape) for g in graph] == [tuple(a.shape) for a in amphion], tokens
    assert torch.equal(graph[1], amphion[1]) and torch.equal(graph[2], amphion[2])
    assert float((graph[0] - amphion[0]).abs().max()) <= tolerance
    return graph


# ---------------------------------------------------------------------------------------------
# Structure


def test_state_dict_keys_and_shapes_are_amphions():
    config = _config()
    state = SPEC.build(config).state_dict()
    assert set(state) == _amphion_keys(config)
    hidden = config["model"]["transformer"]["encoder_hidden"]
    assert state["encoder.src_word_emb.weight"].shape == (len(LEXICON_SYMBOLS) + 1, hidden)
    assert state["encoder.position_enc"].shape == (1, 1001, hidden)
    assert state["variance_adaptor.pitch_bins"].shape == (31,)
    assert state["postnet.convolutions.0.0.conv.weight"].shape == (512, 20, 5)
    assert state["postnet.convolutions.4.0.conv.weight"].shape == (20, 512, 5)


def test_multi_speaker_adds_the_speaker_embedding():
    config = _config()
    config["train"]["multi_speaker_training"] = True
    config["model"]["n_speakers"] = 3
    state = SPEC.build(config).state_dict()
    assert set(state) == _amphion_keys(config, speakers=3)
    assert state["speaker_emb.weight"].shape == (3, 32)
    assert SPEC.input_names(config)[2] == "speaker_id"


def test_config_errors_name_the_setting():
    config = _config()
    config["model"]["variance_predictor"]["kernel_size"] = 5
    with pytest.raises(ValueError, match="variance_predictor.kernel_size must be 3"):
        SPEC.build(config)
    config = _config()
    config["model"]["transformer"]["decoder_hidden"] = 48
    with pytest.raises(ValueError, match="decoder_hidden 48 must equal encoder_hidden 32"):
        SPEC.build(config)


def test_lexicon_symbols_follow_amphions_order():
    assert len(LEXICON_SYMBOLS) == 151
    assert LEXICON_SYMBOLS[:3] == ["_", "-", "!"]
    assert LEXICON_SYMBOLS[12] == "A" and LEXICON_SYMBOLS[64] == "@AA"
    assert LEXICON_SYMBOLS[-3:] == ["@sp", "@spn", "@sil"]


def test_symbols_dict_ids_follow_the_token_collator():
    table = _collator_table("<eps> 0\nb 1\na 2\n")
    assert table == ["<pad>", "<bos>", "<eos>", "<eps>", "a", "b"]
    with pytest.raises(ValueError, match="does not hold 'symbol id'"):
        _collator_table("a 1 extra\n")


# ---------------------------------------------------------------------------------------------
# The graph rewrite against Amphion's inference


def test_length_regulator_matches_the_loop():
    gen = torch.Generator().manual_seed(5)
    tokens = torch.randn(3, 6, 4, generator=gen)
    durations = torch.randint(0, 4, (3, 6), generator=gen)
    durations[1, 3:] = 0  # a padded row
    durations[2] = torch.tensor([0, 0, 5, 0, 1, 0])
    frames, counts = expand(tokens, durations)
    want, want_counts = expand_by_loop(tokens, durations)
    assert torch.equal(counts, want_counts) and torch.equal(frames, want)
    assert frames.shape[1] == int(durations.sum(1).max())


def test_a_row_without_frames_gets_one():
    durations = torch.tensor([[0, 0, 0], [2, 0, 1]])
    assert at_least_one_frame(durations).tolist() == [[1, 0, 0], [2, 0, 1]]


def test_quantisation_equals_bucketize_on_and_between_edges():
    from amphora_export.acoustic.fastspeech2 import VarianceAdaptor

    bins = torch.linspace(-1, 1, 9)
    values = torch.cat([bins, bins + 1e-4, bins - 1e-4, torch.tensor([-5.0, 5.0])])[None, :]
    assert torch.equal(VarianceAdaptor.quantise(values, bins, graph=True),
                       torch.bucketize(values, bins))


@pytest.mark.parametrize("tokens", TOKENS)
def test_graph_equals_amphion_inference(tokens):
    config = _config()
    out = _agree(_model(config), config, tokens, seed=tokens)
    assert out[0].shape[:2] == (1, 20) and int(out[1]) == out[0].shape[2]


def test_frame_level_pitch_and_energy_and_padded_batch():
    config = _config(use_frame_pitch=True, use_frame_energy=True)
    out = _agree(_model(config, seed=2), config, [50, 7, 1], seed=3)
    lengths = out[1].tolist()
    assert out[0].shape[2] == max(lengths) and len(set(lengths)) == 3


def test_positions_past_max_seq_len_follow_amphions_computed_table():
    config = _config()
    config["model"]["max_seq_len"] = 8  # frames and tokens both run past the stored table
    out = _agree(_model(config), config, 30, seed=1, tolerance=1e-4)
    assert out[0].shape[2] > 8


def test_controls_change_the_output():
    config = _config()
    model = _model(config)
    phone_ids, lengths = SPEC.example_inputs(config, 20, torch.Generator().manual_seed(0))[:2]
    one = torch.ones(1)
    with torch.no_grad():
        base = SPEC.export_module(model, config)(phone_ids, lengths, one, one, one)
        slow = SPEC.export_module(model, config)(phone_ids, lengths, one * 2, one, one)
        higher = SPEC.export_module(model, config)(phone_ids, lengths, one, one * 1.5, one)
    # The control multiplies the already rounded durations, so every phone gets exactly twice.
    assert torch.equal(slow[2], base[2] * 2) and int(slow[1]) == 2 * int(base[1])
    assert base[0].shape == higher[0].shape and not torch.equal(base[0], higher[0])


# ---------------------------------------------------------------------------------------------
# Checkpoints


@pytest.fixture(scope="module")
def fs2_state():
    return amphion_acoustic_state("fastspeech2", _config(), seed=7)


def _load(path, config_path=None, family="fastspeech2"):
    return load_source(family, str(path), config_path, None, [], False, 0,
                       Progress(1, quiet=True), kind=ACOUSTIC)


def _assert_same(model, state):
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


@pytest.mark.parametrize("form", ["model", "state_dict", "bare_module_prefix", "accelerate",
                                  "safetensors"])
def test_checkpoint_forms(tmp_path, fs2_state, form):
    exp = tmp_path / "exp"
    exp.mkdir()
    write_json(exp / "args.json", _config())
    if form in ("model", "state_dict"):
        torch.save({form: fs2_state, "step": 10}, exp / "10.pt")
        given = exp / "10.pt"
    elif form == "bare_module_prefix":
        torch.save({f"module.{k}": v for k, v in fs2_state.items()}, exp / "fs2.pth")
        given = exp / "fs2.pth"
    else:
        save = exp / "checkpoint" / "epoch-0001_step-0000500_loss-0.1"
        save.mkdir(parents=True)
        if form == "safetensors":
            import safetensors.torch

            safetensors.torch.save_file({k: v.contiguous() for k, v in fs2_state.items()},
                                        str(save / "model.safetensors"))
        else:
            torch.save(fs2_state, save / "pytorch_model.bin")
        given = exp
    source, model = _load(given)
    _assert_same(model, fs2_state)
    assert source.config_path == exp / "args.json"


def test_strict_key_mismatch_is_listed(tmp_path, fs2_state):
    broken = dict(fs2_state)
    del broken["variance_adaptor.pitch_bins"]
    broken["speaker_emb.weight"] = torch.zeros(4, 32)
    broken["mel_linear.weight"] = torch.zeros(80, 32)
    torch.save({"model": broken}, tmp_path / "fs2.pt")
    write_json(tmp_path / "args.json", _config())
    with pytest.raises(ExportError) as error:
        _load(tmp_path / "fs2.pt")
    message = str(error.value)
    assert "does not fit the configured model" in message
    assert "missing key(s): variance_adaptor.pitch_bins" in message
    assert "unexpected key(s): speaker_emb.weight" in message
    assert "mel_linear.weight (checkpoint [80, 32], model [20, 32])" in message


def test_speaker_count_comes_from_spk2id_or_the_checkpoint(tmp_path):
    config = _config()
    config["train"]["multi_speaker_training"] = True
    config["model"]["n_speakers"] = 3
    state = amphion_acoustic_state("fastspeech2", config, seed=1)
    del config["model"]["n_speakers"]  # Amphion's own configs do not carry it
    write_json(tmp_path / "args.json", config)
    torch.save({"model": state}, tmp_path / "fs2.pt")
    source, model = _load(tmp_path / "fs2.pt")
    assert model.speaker_emb.num_embeddings == 3
    assert "3 speaker(s), from the checkpoint" in source.notes
    write_json(tmp_path / "spk2id.json", {"ann": 0, "bob": 1, "cy": 2})
    source, _ = _load(tmp_path / "fs2.pt")
    assert "3 speaker(s), from spk2id.json beside the config" in source.notes
    # Listed by id, as the runtime reads them.
    assert SPEC.speakers(source.config, source.config_path)["names"] == ["ann", "bob", "cy"]
    # Neither file nor checkpoint: a random-init export has nowhere to count speakers.
    (tmp_path / "spk2id.json").unlink()
    with pytest.raises(ExportError, match="speaker count is unknown.*spk2id.json"):
        load_source("fastspeech2", None, str(tmp_path / "args.json"), None, [], True, 0,
                    Progress(1, quiet=True), kind=ACOUSTIC)


# ---------------------------------------------------------------------------------------------
# The package: parity, dynamic shapes, manifest


@pytest.fixture(scope="module")
def package(tmp_path_factory, fs2_state):
    folder = tmp_path_factory.mktemp("fs2")
    write_json(folder / "exp" / "args.json", _config())
    torch.save({"model": fs2_state}, folder / "exp" / "fs2.pt")
    output = folder / "pkg"
    manifest = export_acoustic(AcousticExportOptions(
        output=str(output), checkpoint=str(folder / "exp" / "fs2.pt"), quiet=True))
    return output, manifest


def test_parity_recorded_for_every_format_and_length(package):
    _, manifest = package
    assert set(manifest["parity"]) == {"onnx", "torchscript", "torchscript_lite"}
    for entry in manifest["parity"].values():
        assert entry["passed"] and entry["lengths"] == list(TOKENS)
        assert entry["length_unit"] == "tokens" and entry["tolerance"] == 1e-4
        assert set(entry["per_length"]) == {"1", "7", "50"}
        assert entry["max_abs"] <= 1e-4 and entry["batch"]["max_abs"] <= 1e-4


def test_one_onnx_file_serves_every_length(package, fs2_state):
    output, _ = package
    graph = onnx.load(str(output / "model.onnx"))
    ops = {node.op_type for node in graph.graph.node}
    assert not ops & {"Loop", "If", "Scan"}, ops
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in graph.graph.input}
    assert dims["phone_ids"] == ["batch", "tokens"] and dims["duration_control"] == [1]
    config = _config()
    model = SPEC.build(config)
    model.load_state_dict(fs2_state)
    runner = OnnxRunner(output / "model.onnx")
    frames = set()
    for tokens in (1, 3, 7, 50, 120, [9, 4]):
        inputs = SPEC.example_inputs(config, tokens, torch.Generator().manual_seed(11))
        got = runner(inputs)
        want = [t.numpy() for t in SPEC.reference(model, config, inputs)]
        assert got[0].shape == want[0].shape, tokens
        assert np.array_equal(got[1], want[1]) and np.array_equal(got[2], want[2])
        assert float(np.abs(got[0] - want[0]).max()) <= 1e-4
        frames.add(got[0].shape[2])
    assert len(frames) == 6


def test_torchscript_serves_other_lengths(package, fs2_state):
    output, _ = package
    config = _config()
    model = SPEC.build(config)
    model.load_state_dict(fs2_state)
    loaded = torch.jit.load(str(output / "model.ts"))
    for tokens in (2, 33):
        inputs = SPEC.example_inputs(config, tokens, torch.Generator().manual_seed(tokens))
        with torch.no_grad():
            got = loaded(*inputs)
        want = SPEC.reference(model, config, inputs)
        assert got[0].shape == want[0].shape and torch.equal(got[2], want[2])


def test_manifest_describes_inputs_outputs_and_mel(package):
    output, manifest = package
    assert manifest["kind"] == "acoustic" and manifest["family"] == "fastspeech2"
    assert manifest["produces"] == "mel" and manifest["data_dependent_axes"] == ["frames"]
    assert [i["name"] for i in manifest["inputs"]] == [
        "phone_ids", "phone_lengths", "duration_control", "pitch_control", "energy_control"]
    assert all(i["meaning"] for i in manifest["inputs"] + manifest["outputs"])
    assert [o["name"] for o in manifest["outputs"]] == ["mel", "mel_lengths", "durations"]
    assert manifest["outputs"][0]["dims"] == ["batch", 20, "frames"]
    mel = manifest["mel"]
    assert (mel["sample_rate"], mel["hop_length"], mel["n_mels"], mel["n_fft"],
            mel["win_length"], mel["fmin"], mel["fmax"]) == (16000, 32, 20, 256, 256, 0.0, 8000.0)
    assert mel["center"] is True and mel["extract_mode"] == "taco"
    assert manifest["phones"]["count"] == 152 and len(manifest["phones"]["symbols"]) == 151
    assert manifest["speakers"]["count"] == 1 and manifest["speakers"]["input"] is None
    assert manifest["source"]["sha256"] and manifest["source"]["config"].endswith("args.json")
    stored = {p.key: p.value for p in onnx.load(str(output / "model.onnx")).metadata_props}
    assert json.loads(stored["amphora"]) == manifest
    assert sorted(p.name for p in output.iterdir()) == ["amphora.json", "model.onnx",
                                                       "model.ptl", "model.ts"]


def test_parity_failure_leaves_nothing(tmp_path):
    with pytest.raises(ExportError, match="ONNX output differs from PyTorch beyond 0"):
        export_acoustic(AcousticExportOptions(output=str(tmp_path / "pkg"), family="fastspeech2",
                                              random_init=True, formats=("onnx",), quiet=True,
                                              tolerance=0.0))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Command line


ACOUSTIC_FLAGS = ("--family", "--checkpoint", "--config", "--output", "--formats", "--opset",
                  "--random-init", "--seed", "--allow-mismatch", "--amphion-root", "--set",
                  "--force", "--quiet")


def _error_line(result, *fragments):
    assert result.returncode == 1, result.stderr
    errors = [l for l in result.stderr.splitlines() if l.startswith("amphora-export: error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_cli_help_and_usage_errors():
    result = run_cli("acoustic", "--help")
    assert result.returncode == 0
    for flag in ACOUSTIC_FLAGS:
        assert flag in result.stdout, flag
    assert "acoustic" in run_cli("--help").stdout
    assert "onnx,torchscript,coreml" in result.stdout  # Core ML on request
    unknown = run_cli("acoustic", "--random-init", "--output", "x", "--formats", "onnx,tflite")
    assert unknown.returncode == 2 and "unknown format tflite" in unknown.stderr
    assert run_cli("acoustic", "--random-init").returncode == 2  # no --output
    assert run_cli("acoustic", "--output", "x", "--opset", "11").returncode == 2


def test_cli_errors_are_one_line(tmp_path, fs2_state):
    _error_line(run_cli("acoustic", "--family", "tacotron", "--random-init",
                        "--output", str(tmp_path / "a")), "unknown family 'tacotron'",
                "fastspeech2")
    write_json(tmp_path / "args.json", {**_config(), "model_type": "VALLE"})
    torch.save({"model": fs2_state}, tmp_path / "fs2.pt")
    _error_line(run_cli("acoustic", "--checkpoint", str(tmp_path / "fs2.pt"),
                        "--output", str(tmp_path / "b")), "model_type 'VALLE' is not a supported")
    _error_line(run_cli("acoustic", "--random-init", "--checkpoint", str(tmp_path / "fs2.pt"),
                        "--output", str(tmp_path / "c")), "exclude each other")
    broken = copy.deepcopy(fs2_state)
    broken.pop("decoder.position_enc")
    write_json(tmp_path / "args.json", _config())
    torch.save({"model": broken}, tmp_path / "broken.pt")
    _error_line(run_cli("acoustic", "--checkpoint", str(tmp_path / "broken.pt"),
                        "--output", str(tmp_path / "d")), "missing key(s): decoder.position_enc")
    assert not [p.name for p in tmp_path.iterdir() if p.name not in
                ("args.json", "fs2.pt", "broken.pt")]


def test_cli_multi_speaker_export(tmp_path):
    config = _config()
    config["train"]["multi_speaker_training"] = True
    write_json(tmp_path / "exp" / "args.json", config)
    write_json(tmp_path / "exp" / "spk2id.json", {"ann": 0, "bob": 1})
    result = run_cli("acoustic", "--random-init", "--config", str(tmp_path / "exp" / "args.json"),
                     "--output", str(tmp_path / "pkg"), "--formats", "onnx")
    assert result.returncode == 0, result.stderr
    assert "2 speaker(s), from spk2id.json" in result.stderr
    manifest = json.loads((tmp_path / "pkg" / "amphora.json").read_text())
    assert manifest["speakers"] == {"count": 2, "input": "speaker_id",
                                    "names": ["ann", "bob"]}
    assert manifest["inputs"][2]["name"] == "speaker_id"
    assert manifest["parity"]["onnx"]["passed"]
    shown = run_cli("inspect", str(tmp_path / "pkg"))
    assert "family:      fastspeech2 (acoustic)" in shown.stdout
    assert "speakers:    2 (ann, bob)" in shown.stdout and "tokens -> passed" in shown.stdout


def test_the_frame_count_is_the_one_data_dependent_shape(package):
    """The length regulator's frame Range (over ReduceMax of the durations) is the only place
    where a shape waits for data; everything else follows from the input shapes."""
    output, _ = package
    report = analyse(onnx.load(str(output / "model.onnx")))
    assert report["opsets"] == {"ai.onnx": 17} and report["control_flow"] == []
    assert dict(report["sources"]) == {"Range": 1}
    assert report["data_shaped_ops"]["Conv"] > 0  # the decoder runs on the frame axis
