"""VITS-SVC: Amphion's key layout, the graph rewrites (f0 quantiser, energy buckets, summed
conditions, seeded noise) against Amphion's inference, one package serving every frame count,
and inputs of different frame counts refused by the graph itself."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from conftest import amphion_acoustic_state, run_cli, write_json

from amphora_export.acoustic import get_family
from amphora_export.acoustic.vits_svc import f0_to_coarse_amphion, f0_to_coarse_graph
from amphora_export.acoustic_export import AcousticExportOptions, export_acoustic
from amphora_export.errors import ExportError
from amphora_export.export_onnx import OnnxRunner
from amphora_export.op_report import analyse
from amphora_export.progress import Progress
from amphora_export.sources import ACOUSTIC, load_source

SPEC = get_family("vits_svc")
FRAMES = (1, 16, 100)


def _wn(prefix: str) -> set:
    return {f"{prefix}.weight_g", f"{prefix}.weight_v", f"{prefix}.bias"}


def _plain(prefix: str) -> set:
    return {f"{prefix}.weight", f"{prefix}.bias"}


def _wavenet(prefix: str, layers: int) -> set:
    keys = _wn(f"{prefix}.cond_layer")
    for i in range(layers):
        keys |= _wn(f"{prefix}.in_layers.{i}") | _wn(f"{prefix}.res_skip_layers.{i}")
    return keys


def _amphion_keys(config: dict) -> set:
    """SynthesizerTrn's state_dict keys for the default config (whisper + contentvec, f0 with
    voicing, energy, singer; NSF-HiFiGAN decoder), written out from Amphion's modules."""
    v = config["model"]["vits"]
    cond = "condition_encoder"
    keys = _plain(f"{cond}.whisper_encoder.nn") | _plain(f"{cond}.contentvec_encoder.nn")
    keys |= {f"{cond}.melody_encoder.nn.weight", f"{cond}.melody_encoder.uv_embedding.weight",
             f"{cond}.loudness_encoder.energy_bins", f"{cond}.loudness_encoder.nn.weight",
             f"{cond}.singer_encoder.nn.weight", "emb_g.weight", "enc_p.f0_emb.weight"}
    keys |= _plain("enc_p.proj")
    for i in range(v["n_layers"]):
        attn = f"enc_p.enc_.attn_layers.{i}"
        keys |= {f"{attn}.emb_rel_k", f"{attn}.emb_rel_v"}
        for conv in ("conv_q", "conv_k", "conv_v", "conv_o"):
            keys |= _plain(f"{attn}.{conv}")
        keys |= {f"enc_p.enc_.norm_layers_{n}.{i}.{p}" for n in (1, 2) for p in ("gamma", "beta")}
        keys |= _plain(f"enc_p.enc_.ffn_layers.{i}.conv_1")
        keys |= _plain(f"enc_p.enc_.ffn_layers.{i}.conv_2")
    dec = config["model"]["generator_config"]["nsfhifigan"]
    keys |= _plain("dec.m_source.l_linear") | _wn("dec.conv_pre") | _wn("dec.conv_post")
    kernels = len(dec["resblock_kernel_sizes"])
    for i in range(len(dec["upsample_rates"])):
        keys |= _wn(f"dec.ups.{i}") | _plain(f"dec.noise_convs.{i}")
        for j in range(i * kernels, (i + 1) * kernels):
            for k in range(3):
                keys |= _wn(f"dec.resblocks.{j}.convs1.{k}") | _wn(f"dec.resblocks.{j}.convs2.{k}")
    keys |= _plain("enc_q.pre") | _plain("enc_q.proj") | _wavenet("enc_q.enc", 16)
    for i in (0, 2, 4, 6):
        keys |= _plain(f"flow.flows.{i}.pre") | _plain(f"flow.flows.{i}.post")
        keys |= _wavenet(f"flow.flows.{i}.enc", v["n_flow_layer"])
    return keys


def _config(**condition) -> dict:
    config = SPEC.default_config()
    config["model"]["condition_encoder"].update(condition)
    return config


def _model(config: dict, seed: int = 0):
    model = SPEC.build(config)
    model.load_state_dict(amphion_acoustic_state("vits_svc", config, seed))
    return model.eval()


def _agree(model, config, frames, seed: int):
    inputs = SPEC.example_inputs(config, frames, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        graph = SPEC.export_module(model, config)(*inputs)
    amphion = SPEC.reference(model, config, inputs)
    assert [tuple(g.shape) for g in graph] == [tuple(a.shape) for a in amphion], frames
    assert torch.equal(graph[1], amphion[1])
    assert float((graph[0] - amphion[0]).abs().max()) <= 1e-5
    assert float(graph[0].abs().max()) > 1e-3  # it makes a sound
    return graph


def _named(config, inputs) -> dict:
    return dict(zip(SPEC.input_names(config), inputs))


# ---------------------------------------------------------------------------------------------
# Structure


def test_state_dict_keys_are_amphions():
    config = SPEC.default_config()
    state = SPEC.build(config).state_dict()
    assert set(state) == _amphion_keys(config)
    assert state["condition_encoder.whisper_encoder.nn.weight"].shape == (32, 24)
    assert state["condition_encoder.contentvec_encoder.nn.weight"].shape == (32, 16)
    assert state["condition_encoder.melody_encoder.nn.weight"].shape == (256, 32)
    assert state["condition_encoder.loudness_encoder.energy_bins"].shape == (63,)
    assert state["condition_encoder.singer_encoder.nn.weight"].shape == (4, 32)
    assert state["emb_g.weight"].shape == (4, 16)
    assert state["enc_p.f0_emb.weight"].shape == (256, 32)
    assert state["enc_p.proj.weight"].shape == (32, 32, 1)  # 2 * inter_channels
    assert state["dec.conv_pre.weight_v"].shape == (32, 16, 7)  # the latent in place of a mel
    assert state["enc_q.pre.weight"].shape == (32, 129, 1)  # n_fft // 2 + 1


def test_inputs_and_keys_follow_the_config():
    """One singer: no speaker_id input; no energy: no energy input nor loudness keys; mert and
    wenet join in Amphion's order; concat merges by width."""
    config = _config(use_energy=False, use_mert=True, use_wenet=True, merge_mode="concat",
                     output_melody_dim=8, content_encoder_dim=4, output_singer_dim=8,
                     singer_table_size=1)
    config["model"]["vits"].update(hidden_channels=32, n_speakers=1)  # 8 + 4 * 4 + 8
    assert SPEC.input_names(config) == ["whisper_feat", "contentvec_feat", "mert_feat",
                                        "wenet_feat", "f0", "frame_lengths", "seed",
                                        "noise_scale"]
    state = SPEC.build(config).state_dict()
    assert not any("loudness_encoder" in key for key in state)
    assert state["condition_encoder.wenet_encoder.nn.weight"].shape == (4, 16)
    _agree(_model(config), config, 9, seed=3)


def test_config_errors_name_the_setting():
    cases = [
        (lambda c: c["model"].update(generator="apnet"), "apnet is not supported"),
        (lambda c: c["preprocess"].update(hop_size=64), "hop_size 64 differs from the "
                                                        "decoder's hop 32"),
        (lambda c: c["model"]["condition_encoder"].update(output_singer_dim=16),
         r"one width, got \[32, 32, 32, 32, 16\]"),
        (lambda c: c["model"]["condition_encoder"].update(use_whisper=False,
                                                          use_contentvec=False),
         "enables no content feature"),
        (lambda c: c["model"]["generator_config"]["nsfhifigan"].update(fix_x_source=True),
         "fix_x_source is not supported"),
        (lambda c: c["model"]["vits"].update(hidden_channels=48),
         "gives 32 channels, model.vits.hidden_channels is 48"),
    ]
    for change, message in cases:
        config = SPEC.default_config()
        change(config)
        with pytest.raises(ValueError, match=message):
            SPEC.build(config)
            SPEC.hop_length(config)


# ---------------------------------------------------------------------------------------------
# The rewrites, piece by piece


def test_f0_quantiser_without_masked_assignment():
    f0 = torch.cat([torch.tensor([0.0, 1.0, 30.0, 49.9, 50.0, 50.1, 1099.0, 1100.0, 1101.0,
                                  5000.0]), torch.linspace(0.0, 1300.0, 4001)])
    graph = f0_to_coarse_graph(f0, 256, 50.0, 1100.0)
    amphion = f0_to_coarse_amphion(f0.clone(), 256, 50.0, 1100.0)
    assert torch.equal(graph, amphion)
    assert int(graph.min()) == 1 and int(graph.max()) == 255
    assert graph[:3].tolist() == [1, 1, 1] and graph[7:10].tolist() == [255, 255, 255]
    assert len(set(graph.tolist())) == 255  # every id from 1 to 255 is reachable


def test_energy_buckets_equal_bucketize():
    model = _model(SPEC.default_config())
    encoder = model.condition_encoder.loudness_encoder
    edges = encoder.energy_bins.detach()
    energy = torch.cat([edges, edges + 1e-6, torch.exp(torch.linspace(-80, 2, 500))])[None]
    with torch.no_grad():
        assert torch.equal(encoder(energy, graph=True), encoder(energy, graph=False))


# ---------------------------------------------------------------------------------------------
# The whole model


@pytest.mark.parametrize("frames", FRAMES + ([100, 16],), ids=["1", "16", "100", "batch"])
def test_graph_equals_amphion_inference(frames):
    config = SPEC.default_config()
    audio, lengths = _agree(_model(config), config, frames, seed=7)
    counts = [frames] if isinstance(frames, int) else frames
    assert lengths.tolist() == [n * 32 for n in counts] and audio.shape[2] == max(counts) * 32


@pytest.mark.parametrize("generator", ["hifigan", "melgan"])
def test_other_decoders(generator):
    config = SPEC.default_config()
    section = {"hifigan": {"resblock": "2", "upsample_rates": [4, 4, 2],
                           "upsample_kernel_sizes": [8, 8, 4], "upsample_initial_channel": 32,
                           "resblock_kernel_sizes": [3, 5],
                           "resblock_dilation_sizes": [[1, 3], [1, 3]]},
               "melgan": {"ratios": [4, 4, 2], "ngf": 8, "n_residual_layers": 2}}[generator]
    config["model"].update(generator=generator, generator_config={generator: section})
    assert not any(k.startswith("dec.m_source") for k in SPEC.build(config).state_dict())
    _agree(_model(config), config, [12, 5], seed=1)


def test_f0_energy_singer_seed_and_noise_drive_the_output():
    config = SPEC.default_config()
    module = SPEC.export_module(_model(config), config)
    inputs = SPEC.example_inputs(config, 40, torch.Generator().manual_seed(5))
    names = SPEC.input_names(config)

    def run(**changes):
        given = _named(config, inputs)
        given.update(changes)
        with torch.no_grad():
            return module(*(given[name] for name in names))[0]

    given = _named(config, inputs)
    first = run()
    assert torch.equal(first, run())
    voiced = given["f0"].clone()
    voiced[voiced == 0] = 220.0  # voicing (uv) and pitch both change
    for changes in ({"f0": voiced}, {"f0": given["f0"] * 2}, {"energy": given["energy"] * 1e-6},
                    {"speaker_id": (given["speaker_id"] + 1) % 4}, {"seed": given["seed"] + 1}):
        assert float((run(**changes) - first).abs().max()) > 1e-4, list(changes)
    quiet = torch.zeros(1)
    assert torch.equal(run(noise_scale=quiet), run(noise_scale=quiet, seed=given["seed"] + 1))


def test_a_padded_row_sounds_like_itself_alone_up_to_its_tail():
    """Past a row's end the masked latent is zero, as a lone row's zero padding is; only the
    decoder's reach from the end (conv_pre's bias over the padding) may differ."""
    config = SPEC.default_config()
    module = SPEC.export_module(_model(config, seed=1), config)
    batch = SPEC.example_inputs(config, [60, 20], torch.Generator().manual_seed(2))
    alone = tuple(x[1:, :20] if x.dim() > 1 else x[1:] if name != "noise_scale" else x
                  for name, x in zip(SPEC.input_names(config), batch))
    with torch.no_grad():
        both, single = module(*batch), module(*alone)
    length = int(single[1])
    assert int(both[1][1]) == length == 20 * 32
    differs = ((both[0][1, 0, :length] - single[0][0, 0]).abs() > 1e-5).nonzero()
    first = int(differs[0]) if len(differs) else length
    assert first >= length - 12 * 32
    assert float((both[0][1, 0, :first] - single[0][0, 0, :first]).abs().max()) <= 1e-5


# ---------------------------------------------------------------------------------------------
# The package


@pytest.fixture(scope="module")
def svc_state():
    return amphion_acoustic_state("vits_svc", SPEC.default_config(), seed=9)


@pytest.fixture(scope="module")
def package(tmp_path_factory, svc_state):
    """Amphion's experiment layout: args.json and singers.json, and accelerate's
    checkpoint/<epoch_step_loss>/pytorch_model.bin (the generator; model_1 the discriminator)."""
    folder = tmp_path_factory.mktemp("vits_svc")
    write_json(folder / "exp" / "args.json", SPEC.default_config())
    write_json(folder / "exp" / "singers.json", {"opencpop_female1": 0, "m4singer_Alto-1": 1,
                                                 "svcc_IDF1": 2, "vctk_p225": 3})
    save = folder / "exp" / "checkpoint" / "epoch-0012_step-0003400_loss-0.812000"
    save.mkdir(parents=True)
    torch.save(svc_state, save / "pytorch_model.bin")
    torch.save({"x": torch.zeros(1)}, save / "pytorch_model_1.bin")
    output = folder / "pkg"
    manifest = export_acoustic(AcousticExportOptions(
        output=str(output), checkpoint=str(folder / "exp"), quiet=True))
    return output, manifest


def test_checkpoint_loads_strictly(tmp_path, svc_state):
    write_json(tmp_path / "args.json", SPEC.default_config())
    torch.save(svc_state, tmp_path / "model.pt")
    _, model = load_source(None, str(tmp_path / "model.pt"), None, None, [], False, 0,
                           Progress(1, quiet=True), kind=ACOUSTIC)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in svc_state.items())
    broken = {k: v for k, v in svc_state.items() if not k.startswith("enc_q.")}
    broken["condition_encoder.mert_encoder.nn.weight"] = torch.zeros(32, 16)
    torch.save(broken, tmp_path / "model.pt")
    with pytest.raises(ExportError, match=r"missing key\(s\): enc_q\.") as error:
        load_source(None, str(tmp_path / "model.pt"), None, None, [], False, 0,
                    Progress(1, quiet=True), kind=ACOUSTIC)
    assert "condition_encoder.mert_encoder.nn.weight" in str(error.value)


def test_parity_recorded_for_every_format(package):
    _, manifest = package
    assert set(manifest["parity"]) == {"onnx", "torchscript", "torchscript_lite"}
    for entry in manifest["parity"].values():
        assert entry["passed"] and entry["tolerance"] == 1e-3
        assert entry["length_unit"] == "frames" and set(entry["per_length"]) == {"1", "16", "100"}
        assert entry["max_abs"] <= 1e-3 and entry["batch"]["max_abs"] <= 1e-3
        assert entry["batch"]["rows"] == [100, 16]
    assert manifest["exporter"]["weight_norm_folded"] > 0


def test_one_onnx_file_serves_every_frame_count(package, svc_state):
    output, _ = package
    graph = onnx.load(str(output / "model.onnx"))
    assert not {n.op_type for n in graph.graph.node} & {"Loop", "If", "Scan", "NonZero"}
    config = SPEC.default_config()
    model = SPEC.build(config)
    model.load_state_dict(svc_state)
    runner = OnnxRunner(output / "model.onnx")
    for frames in (1, 5, 64, 250, [40, 3]):
        inputs = SPEC.example_inputs(config, frames, torch.Generator().manual_seed(21))
        got = runner(inputs)
        want = [t.numpy() for t in SPEC.reference(model, config, inputs)]
        assert got[0].shape == want[0].shape, frames
        assert np.array_equal(got[1], want[1])
        assert float(np.abs(got[0] - want[0]).max()) <= 1e-3


def test_inputs_of_different_frame_counts_are_refused(package):
    """Every per-frame input carries the one dim_param "frames" (amphora's engine checks it
    when binding inputs), and the graph reshapes each to the first feature's frames, so a
    runtime that mixes up lengths gets an error instead of a silent broadcast (one frame would
    broadcast). ONNX Runtime trusts equal dim_params and may drop a reshape it deems a no-op,
    so there a one-frame content feature is the caller's to check; TorchScript refuses it."""
    import onnxruntime as ort

    output, _ = package
    config = SPEC.default_config()
    graph = onnx.load(str(output / "model.onnx")).graph
    frame_axis = {i.name: i.type.tensor_type.shape.dim[1].dim_param for i in graph.input
                  if len(i.type.tensor_type.shape.dim) > 1}
    assert [name for name, axis in frame_axis.items() if axis == "frames"] == [
        "whisper_feat", "contentvec_feat", "f0", "energy"]
    session = ort.InferenceSession(str(output / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = SPEC.example_inputs(config, 30, torch.Generator().manual_seed(4))
    base = {k: v.numpy() for k, v in _named(config, inputs).items()}
    assert session.run(None, base)[0].shape == (1, 1, 30 * 32)

    def cut(name, frames):
        feeds = dict(base)
        feeds[name] = np.ascontiguousarray(base[name][:, :1].repeat(frames, axis=1))
        return feeds

    for name, frames in (("f0", 29), ("f0", 1), ("contentvec_feat", 29), ("energy", 31)):
        with pytest.raises(Exception, match="Reshape|shape|dimension"):
            session.run(None, cut(name, frames))
    module = SPEC.export_module(_model(config), config)
    for name in ("contentvec_feat", "f0", "energy"):
        feeds = {k: torch.from_numpy(v) for k, v in cut(name, 1).items()}
        with pytest.raises(RuntimeError, match="shape"):
            with torch.no_grad():
                module(*(feeds[n] for n in SPEC.input_names(config)))


def test_manifest_describes_an_svc_model(package):
    _, manifest = package
    assert manifest["kind"] == "acoustic" and manifest["family"] == "vits_svc"
    assert manifest["task"] == "svc" and manifest["produces"] == "waveform"
    assert manifest["mel"] is None and manifest["phones"] is None
    assert manifest["data_dependent_axes"] == [] and manifest["derived_axes"] == {
        "samples": "frames * 32"}
    assert [(i["name"], i["dtype"], i["dims"]) for i in manifest["inputs"]] == [
        ("whisper_feat", "float32", ["batch", "frames", 24]),
        ("contentvec_feat", "float32", ["batch", "frames", 16]),
        ("f0", "float32", ["batch", "frames"]), ("energy", "float32", ["batch", "frames"]),
        ("frame_lengths", "int64", ["batch"]), ("speaker_id", "int64", ["batch"]),
        ("seed", "int64", ["batch"]), ("noise_scale", "float32", [1])]
    assert all(i["meaning"] for i in manifest["inputs"] + manifest["outputs"])
    assert [o["dims"] for o in manifest["outputs"]] == [["batch", 1, "samples"], ["batch"]]
    content = manifest["content"]
    assert content["frame_rate_hz"] == 500.0 and content["merge_mode"] == "add"
    assert content["min_frames"] == 1
    whisper, contentvec = content["features"]
    assert (whisper["input"], whisper["dim"], whisper["source_frame_shift_s"]) == (
        "whisper_feat", 24, 0.02)
    assert whisper["align"] == {"method": "amphion_resolution_transformation",
                                "source_hop": 10, "target_hop": 1}  # 320 samples vs hop 32
    assert (contentvec["input"], contentvec["dim"]) == ("contentvec_feat", 16)
    assert manifest["f0"]["input"] == "f0" and manifest["f0"]["uv_from_f0"] is True
    assert (manifest["f0"]["f0_min"], manifest["f0"]["f0_max"]) == (50.0, 1100.0)
    assert manifest["energy"]["extract_mode"] == "from_mel"
    assert manifest["energy"]["mel"]["n_mels"] == 20
    speakers = manifest["speakers"]
    assert speakers["count"] == 4 and speakers["input"] == "speaker_id"
    assert speakers["names"][3] == "vctk_p225"


def test_the_graph_waits_for_no_data(package):
    """Every shape follows from the input shapes: no Range over a computed value, nothing
    that a runtime must run before it knows the frame or sample count."""
    output, _ = package
    report = analyse(onnx.load(str(output / "model.onnx")))
    assert report["opsets"] == {"ai.onnx": 17} and report["control_flow"] == []
    assert dict(report["sources"]) == {} and not report["data_shaped_ops"]


def test_cli_exports_and_refuses(tmp_path):
    config = SPEC.default_config()
    config["model"]["vits"]["n_speakers"] = 1
    config["model"]["condition_encoder"]["singer_table_size"] = 1
    write_json(tmp_path / "exp" / "args.json", config)
    result = run_cli("acoustic", "--random-init", "--config", str(tmp_path / "exp" / "args.json"),
                     "--output", str(tmp_path / "pkg"), "--formats", "onnx")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "pkg" / "amphora.json").read_text())
    assert manifest["family"] == "vits_svc" and manifest["speakers"]["input"] is None
    assert "speaker_id" not in [i["name"] for i in manifest["inputs"]]
    assert manifest["parity"]["onnx"]["passed"]
    shown = run_cli("inspect", str(tmp_path / "pkg"))
    assert "content:     whisper_feat (24), contentvec_feat (16), merged by add" in shown.stdout

    config["model"]["generator"] = "apnet"
    write_json(tmp_path / "bad" / "args.json", config)
    refused = run_cli("acoustic", "--random-init", "--config", str(tmp_path / "bad" / "args.json"),
                      "--output", str(tmp_path / "pkg2"))
    assert refused.returncode == 1 and "apnet is not supported for vits_svc" in refused.stderr
    assert not (tmp_path / "pkg2").exists()
    disagree = run_cli("acoustic", "--family", "vits", "--random-init", "--config",
                       str(tmp_path / "exp" / "args.json"), "--output", str(tmp_path / "pkg3"))
    assert disagree.returncode == 1
    assert "--family vits disagrees with the config" in disagree.stderr
