"""VITS: Amphion's key layout, the graph rewrites (relative embeddings, spline, alignment path,
seeded noise) against Amphion's inference, and one package serving every length and seed."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from conftest import amphion_acoustic_state, run_cli, write_json

from amphora_export.acoustic import get_family
from amphora_export.acoustic.length_regulator import alignment_path
from amphora_export.acoustic.noise import PRIOR_STREAM, normal
from amphora_export.acoustic.vits import amphion_path
from amphora_export.acoustic.vits_flows import spline_inverse_amphion, spline_inverse_graph
from amphora_export.acoustic.vits_text import (relative_embeddings_amphion,
                                               relative_embeddings_graph)
from amphora_export.acoustic_export import AcousticExportOptions, export_acoustic
from amphora_export.errors import ExportError
from amphora_export.export_onnx import OnnxRunner
from amphora_export.op_report import analyse
from amphora_export.progress import Progress
from amphora_export.sources import ACOUSTIC, load_source

SPEC = get_family("vits")
TOKENS = (1, 7, 50)


def _wn(prefix: str) -> set:
    return {f"{prefix}.weight_g", f"{prefix}.weight_v", f"{prefix}.bias"}


def _plain(prefix: str) -> set:
    return {f"{prefix}.weight", f"{prefix}.bias"}


def _wavenet(prefix: str, layers: int, gin: bool) -> set:
    keys = set()
    for i in range(layers):
        keys |= _wn(f"{prefix}.in_layers.{i}") | _wn(f"{prefix}.res_skip_layers.{i}")
    return keys | (_wn(f"{prefix}.cond_layer") if gin else set())


def _dds(prefix: str) -> set:
    keys = set()
    for i in range(3):
        keys |= _plain(f"{prefix}.convs_sep.{i}") | _plain(f"{prefix}.convs_1x1.{i}")
        keys |= {f"{prefix}.norms_{n}.{i}.{p}" for n in (1, 2) for p in ("gamma", "beta")}
    return keys


def _amphion_keys(config: dict, speakers: int = 0) -> set:
    """SynthesizerTrn's state_dict keys, written out from Amphion's module structure."""
    m = config["model"]
    gin = bool(m["gin_channels"])
    keys = {"enc_p.emb.weight"} | _plain("enc_p.proj")
    for i in range(m["n_layers"]):
        attn = f"enc_p.encoder.attn_layers.{i}"
        keys |= {f"{attn}.emb_rel_k", f"{attn}.emb_rel_v"}
        for conv in ("conv_q", "conv_k", "conv_v", "conv_o"):
            keys |= _plain(f"{attn}.{conv}")
        keys |= {f"enc_p.encoder.norm_layers_{n}.{i}.{p}" for n in (1, 2)
                 for p in ("gamma", "beta")}
        keys |= _plain(f"enc_p.encoder.ffn_layers.{i}.conv_1")
        keys |= _plain(f"enc_p.encoder.ffn_layers.{i}.conv_2")
    keys |= _plain("dec.conv_pre") | {"dec.conv_post.weight"}
    keys |= _plain("dec.cond") if gin else set()
    kernels = len(m["resblock_kernel_sizes"])
    for i in range(len(m["upsample_rates"])):
        keys |= _wn(f"dec.ups.{i}")
        for j in range(i * kernels, (i + 1) * kernels):
            for k in range(3):
                keys |= _wn(f"dec.resblocks.{j}.convs1.{k}") | _wn(f"dec.resblocks.{j}.convs2.{k}")
    keys |= _plain("enc_q.pre") | _plain("enc_q.proj") | _wavenet("enc_q.enc", 16, gin)
    for i in (0, 2, 4, 6):
        keys |= _plain(f"flow.flows.{i}.pre") | _plain(f"flow.flows.{i}.post")
        keys |= _wavenet(f"flow.flows.{i}.enc", 4, gin)
    for flows in ("dp.flows", "dp.post_flows"):
        keys |= {f"{flows}.0.m", f"{flows}.0.logs"}
        for i in (1, 3, 5, 7):
            keys |= _plain(f"{flows}.{i}.pre") | _plain(f"{flows}.{i}.proj")
            keys |= _dds(f"{flows}.{i}.convs")
    for conv in ("post_pre", "post_proj", "pre", "proj") + (("cond",) if gin else ()):
        keys |= _plain(f"dp.{conv}")
    keys |= _dds("dp.post_convs") | _dds("dp.convs")
    if speakers:
        keys.add("emb_g.weight")
    return keys


def _model(config: dict, seed: int = 0):
    model = SPEC.build(config)
    model.load_state_dict(amphion_acoustic_state("vits", config, seed))
    return model.eval()


def _agree(model, config, tokens, seed: int):
    inputs = SPEC.example_inputs(config, tokens, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        graph = SPEC.export_module(model, config)(*inputs)
    amphion = SPEC.reference(model, config, inputs)
    assert [tuple(g.shape) for g in graph] == [tuple(a.shape) for a in amphion], tokens
    assert torch.equal(graph[1], amphion[1]) and torch.equal(graph[2], amphion[2])
    assert float((graph[0] - amphion[0]).abs().max()) <= 1e-5
    return graph


# ---------------------------------------------------------------------------------------------
# Structure


def test_state_dict_keys_are_amphions():
    config = SPEC.default_config()
    state = SPEC.build(config).state_dict()
    assert set(state) == _amphion_keys(config)
    assert state["enc_p.emb.weight"].shape == (64, 32)
    assert state["enc_p.encoder.attn_layers.0.emb_rel_k"].shape == (1, 9, 16)
    assert state["dp.flows.1.proj.weight"].shape == (29, 32, 1)  # 1 * (10 * 3 - 1)
    assert state["enc_q.pre.weight"].shape == (32, 129, 1)  # in: n_fft // 2 + 1


def test_speakers_and_the_deterministic_duration_predictor():
    config = SPEC.default_config()
    config["model"]["n_speakers"] = 3
    config["model"]["use_sdp"] = False
    state = SPEC.build(config).state_dict()
    assert "emb_g.weight" in state and state["emb_g.weight"].shape == (3, 16)
    assert state["dp.conv_1.weight"].shape == (256, 32, 3) and "dp.flows.0.m" not in state
    assert SPEC.input_names(config) == ["phone_ids", "phone_lengths", "speaker_id", "seed",
                                        "noise_scale", "length_scale"]  # no noise_scale_w
    _agree(_model(config), config, [12, 5], seed=4)


def test_deterministic_predictor_exports_with_its_own_inputs(tmp_path):
    """Without the stochastic predictor noise_scale_w has no use: it must not be an input
    (ONNX would drop it and shift every input after it)."""
    manifest = export_acoustic(AcousticExportOptions(
        output=str(tmp_path / "pkg"), family="vits", random_init=True, formats=("onnx",),
        overrides=["model.use_sdp=false"], quiet=True))
    names = [i["name"] for i in manifest["inputs"]]
    assert names == ["phone_ids", "phone_lengths", "seed", "noise_scale", "length_scale"]
    graph = onnx.load(str(tmp_path / "pkg" / "model.onnx"))
    assert [i.name for i in graph.graph.input] == names
    assert manifest["parity"]["onnx"]["passed"]


def test_config_errors_name_the_setting():
    config = SPEC.default_config()
    config["preprocess"]["hop_size"] = 64
    with pytest.raises(ValueError, match="hop_size 64 differs from the product of "
                                         r"model.upsample_rates \(32\)"):
        SPEC.hop_length(config)
    config = SPEC.default_config()
    config["model"]["hidden_channels"] = 33
    with pytest.raises(ValueError, match="hidden_channels 33 is not a multiple of n_heads 2"):
        SPEC.build(config)


# ---------------------------------------------------------------------------------------------
# The rewrites, piece by piece


def test_relative_embeddings_without_a_branch():
    table = torch.randn(1, 9, 4)
    for length in range(1, 13):
        like = torch.zeros(1, 1, length)
        assert torch.equal(relative_embeddings_graph(table, like, 4),
                           relative_embeddings_amphion(table, length, 4)), length


def test_spline_on_every_element_equals_the_masked_spline():
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(2, 1, 40, generator=gen) * 4  # some beyond the tail bound of 5
    inputs[0, 0, :3] = torch.tensor([-5.0, 5.0, 7.5])
    widths = torch.randn(2, 1, 40, 10, generator=gen)
    heights = torch.randn(2, 1, 40, 10, generator=gen)
    derivatives = torch.randn(2, 1, 40, 9, generator=gen)
    graph = spline_inverse_graph(inputs, widths, heights, derivatives, 5.0)
    amphion = spline_inverse_amphion(inputs, widths, heights, derivatives, 5.0)
    assert torch.equal(graph, amphion)
    inside = inputs.abs() <= 5
    assert float((graph - inputs)[inside].abs().max()) > 0.1  # the spline does something
    assert torch.equal(graph[~inside], inputs[~inside])


def test_alignment_path_equals_generate_path():
    w_ceil = torch.tensor([[[2.0, 1.0, 3.0, 0.0]], [[1.0, 0.0, 0.0, 0.0]]])
    x_mask = torch.tensor([[[1.0, 1.0, 1.0, 0.0]], [[1.0, 0.0, 0.0, 0.0]]])
    lengths = torch.tensor([6, 1])
    path, _ = alignment_path(w_ceil[:, 0].long(), frames=lengths)
    assert torch.equal(path, amphion_path(w_ceil, x_mask, lengths))
    assert path.shape == (2, 6, 4) and path[0].sum(1).tolist() == [1.0] * 6


def test_noise_is_seeded_standard_normal_and_independent_of_padding():
    seed = torch.tensor([7, 8])
    steps = torch.arange(2000)
    noise = normal(seed, PRIOR_STREAM, 16, steps)
    assert noise.shape == (2, 16, 2000)
    assert abs(float(noise.mean())) < 0.02 and abs(float(noise.std()) - 1.0) < 0.02
    assert torch.equal(noise, normal(seed, PRIOR_STREAM, 16, steps))
    assert float((noise[0] - noise[1]).abs().mean()) > 0.5  # different seeds, different noise
    shorter = normal(seed[1:], PRIOR_STREAM, 16, torch.arange(300))
    assert torch.equal(shorter[0], noise[1, :, :300])
    other_stream = normal(seed, 0, 16, steps)
    assert float((noise - other_stream).abs().mean()) > 0.5


# ---------------------------------------------------------------------------------------------
# The whole model


@pytest.mark.parametrize("tokens", TOKENS)
def test_graph_equals_amphion_inference(tokens):
    config = SPEC.default_config()
    audio, lengths, durations = _agree(_model(config), config, tokens, seed=tokens)
    assert int(lengths) == audio.shape[2] == int(durations.sum()) * 32


def test_a_padded_row_sounds_like_itself_alone_up_to_its_tail():
    """Seeds are per row, so a padded row gets the noise it gets alone. Only its last frames
    may differ: past its end the decoder sees conv_pre's bias where a lone row sees zero
    padding, exactly as in Amphion's batched inference."""
    config = SPEC.default_config()
    model = _model(config, seed=1)
    module = SPEC.export_module(model, config)
    batch = SPEC.example_inputs(config, [30, 9], torch.Generator().manual_seed(2))
    alone = (batch[0][1:, :9], batch[1][1:], batch[2][1:]) + batch[3:]
    with torch.no_grad():
        both, single = module(*batch), module(*alone)
    length = int(single[1])
    assert int(both[1][1]) == length and torch.equal(both[2][1, :9], single[2][0])
    differs = ((both[0][1, 0, :length] - single[0][0, 0]).abs() > 1e-5).nonzero()
    first = int(differs[0]) if len(differs) else length
    assert first >= length - 12 * 32  # within the decoder's reach of the end


def test_seed_and_scales_drive_the_output():
    config = SPEC.default_config()
    module = SPEC.export_module(_model(config), config)
    ids, lengths, seed, noise, noise_w, length = SPEC.example_inputs(
        config, 20, torch.Generator().manual_seed(5))
    with torch.no_grad():
        first = module(ids, lengths, seed, noise, noise_w, length)
        again = module(ids, lengths, seed, noise, noise_w, length)
        other = module(ids, lengths, seed + 1, noise, noise_w, length)
        zero = torch.zeros(1)
        quiet_a = module(ids, lengths, seed, zero, zero, length)
        quiet_b = module(ids, lengths, seed + 1, zero, zero, length)
        slow = module(ids, lengths, seed, noise, noise_w, length * 2)
    assert torch.equal(first[0], again[0])
    assert first[0].shape != other[0].shape or not torch.equal(first[0], other[0])
    assert torch.equal(quiet_a[0], quiet_b[0])  # without noise the seed does not matter
    assert int(slow[1]) > int(first[1])


# ---------------------------------------------------------------------------------------------
# The package


@pytest.fixture(scope="module")
def vits_state():
    return amphion_acoustic_state("vits", SPEC.default_config(), seed=9)


@pytest.fixture(scope="module")
def package(tmp_path_factory, vits_state):
    folder = tmp_path_factory.mktemp("vits")
    write_json(folder / "exp" / "args.json", SPEC.default_config())
    torch.save({"generator": vits_state, "discriminator": {}}, folder / "exp" / "vits.pt")
    output = folder / "pkg"
    manifest = export_acoustic(AcousticExportOptions(
        output=str(output), checkpoint=str(folder / "exp" / "vits.pt"), quiet=True))
    return output, manifest


def test_checkpoint_of_the_trainer_loads_strictly(tmp_path, vits_state):
    write_json(tmp_path / "args.json", SPEC.default_config())
    torch.save({"generator": vits_state}, tmp_path / "vits.pt")
    _, model = load_source(None, str(tmp_path / "vits.pt"), None, None, [], False, 0,
                           Progress(1, quiet=True), kind=ACOUSTIC)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in vits_state.items())
    broken = {k: v for k, v in vits_state.items() if not k.startswith("enc_q.")}
    torch.save({"generator": broken}, tmp_path / "vits.pt")
    with pytest.raises(ExportError, match=r"missing key\(s\): enc_q\."):
        load_source(None, str(tmp_path / "vits.pt"), None, None, [], False, 0,
                    Progress(1, quiet=True), kind=ACOUSTIC)


def test_parity_recorded_for_every_format(package):
    _, manifest = package
    assert set(manifest["parity"]) == {"onnx", "torchscript", "torchscript_lite"}
    for entry in manifest["parity"].values():
        assert entry["passed"] and entry["tolerance"] == 1e-3
        assert set(entry["per_length"]) == {"1", "7", "50"}
        assert entry["max_abs"] <= 1e-3 and entry["batch"]["max_abs"] <= 1e-3
    assert manifest["exporter"]["weight_norm_folded"] > 0


def test_one_onnx_file_serves_every_length_and_seed(package, vits_state):
    output, _ = package
    graph = onnx.load(str(output / "model.onnx"))
    assert not {n.op_type for n in graph.graph.node} & {"Loop", "If", "Scan", "NonZero"}
    config = SPEC.default_config()
    model = SPEC.build(config)
    model.load_state_dict(vits_state)
    runner = OnnxRunner(output / "model.onnx")
    samples = set()
    for tokens in (1, 4, 50, 90, [12, 3]):
        inputs = SPEC.example_inputs(config, tokens, torch.Generator().manual_seed(21))
        got = runner(inputs)
        want = [t.numpy() for t in SPEC.reference(model, config, inputs)]
        assert got[0].shape == want[0].shape, tokens
        assert np.array_equal(got[1], want[1]) and np.array_equal(got[2], want[2])
        assert float(np.abs(got[0] - want[0]).max()) <= 1e-3
        samples.add(got[0].shape[2])
    assert len(samples) == 5


def test_manifest_describes_a_waveform_model(package):
    _, manifest = package
    assert manifest["kind"] == "acoustic" and manifest["family"] == "vits"
    assert manifest["produces"] == "waveform" and manifest["mel"] is None
    assert manifest["data_dependent_axes"] == ["samples"]
    assert (manifest["sample_rate"], manifest["hop_length"]) == (16000, 32)
    assert [i["name"] for i in manifest["inputs"]] == [
        "phone_ids", "phone_lengths", "seed", "noise_scale", "noise_scale_w", "length_scale"]
    assert manifest["inputs"][2]["dims"] == ["batch"]
    assert [o["name"] for o in manifest["outputs"]] == ["audio", "audio_lengths", "durations"]
    assert manifest["outputs"][0]["dims"] == ["batch", 1, "samples"]
    phones = manifest["phones"]
    assert phones["count"] == 64 and phones["intersperse_blank"] is True
    assert phones["extractor"] == "espeak" and phones["symbols"] is None


def test_cli_exports_vits(tmp_path):
    config = SPEC.default_config()
    config["train"]["multi_speaker_training"] = True
    write_json(tmp_path / "exp" / "args.json", config)
    write_json(tmp_path / "exp" / "spk2id.json", {"ann": 0, "bob": 1, "cy": 2})
    (tmp_path / "exp" / "symbols.dict").write_text("a 1\nb 2\n")
    result = run_cli("acoustic", "--random-init", "--config", str(tmp_path / "exp" / "args.json"),
                     "--output", str(tmp_path / "pkg"), "--formats", "onnx")
    assert result.returncode == 0, result.stderr
    assert "3 speaker(s), from spk2id.json" in result.stderr
    manifest = json.loads((tmp_path / "pkg" / "amphora.json").read_text())
    assert manifest["family"] == "vits" and manifest["speakers"]["count"] == 3
    assert manifest["inputs"][2]["name"] == "speaker_id"
    assert manifest["phones"]["symbols"] == ["<pad>", "<bos>", "<eos>", "<eps>", "a", "b"]
    assert manifest["parity"]["onnx"]["passed"]
    shown = run_cli("inspect", str(tmp_path / "pkg"))
    assert "16000 Hz, hop 32, waveform out (no mel)" in shown.stdout
    assert "phones:      64 ids (espeak; table from symbols.dict)" in shown.stdout


def test_the_frame_count_is_the_one_data_dependent_shape(package):
    """The length regulator's frame Range (over ReduceMax of the durations) is the only place
    where a shape waits for data; everything else follows from the input shapes."""
    output, _ = package
    report = analyse(onnx.load(str(output / "model.onnx")))
    assert report["opsets"] == {"ai.onnx": 17} and report["control_flow"] == []
    assert dict(report["sources"]) == {"Range": 1}
    assert report["data_shaped_ops"]["Conv"] > 0  # the decoder runs on the frame axis
