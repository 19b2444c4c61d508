"""Vocoder families: Amphion state_dict layout, export module == reference audio, ONNX parity."""

from __future__ import annotations

import copy

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.weight_norm import WeightNorm

from amphora_export.vocoders import FAMILIES, get_family
from amphora_export.vocoders.common import istft_same

# Keys (with shapes where the notes pin them) that a real Amphion checkpoint of the family's
# default config would hold; None = only the key's presence is checked.
EXPECTED_KEYS = {
    "hifigan": {
        "conv_pre.weight_g": (32, 1, 1), "conv_pre.weight_v": (32, 20, 7), "conv_pre.bias": (32,),
        "ups.0.weight_g": (32, 1, 1), "ups.0.weight_v": (32, 16, 8), "ups.2.bias": (4,),
        "resblocks.0.convs1.2.weight_v": (16, 16, 3), "resblocks.5.convs2.0.weight_g": (4, 1, 1),
        "conv_post.weight_v": (1, 4, 7), "conv_post.bias": (1,),
    },
    "melgan": {
        "model.1.weight_v": (32, 20, 7), "model.1.weight_g": (32, 1, 1),
        "model.3.weight_g": (32, 1, 1), "model.3.weight_v": (32, 16, 8),
        "model.4.block.2.weight_v": (16, 16, 3), "model.5.block.4.weight_v": (16, 16, 1),
        "model.4.shortcut.weight_g": (16, 1, 1), "model.11.weight_v": (8, 4, 4),
        "model.16.weight_v": (1, 4, 7), "model.16.bias": (1,),
    },
    "bigvgan": {
        "conv_pre.weight_v": (16, 20, 7), "ups.0.0.weight_g": (16, 1, 1),
        "ups.0.0.weight_v": (16, 8, 8), "resblocks.0.activations.0.act.alpha": (8,),
        "resblocks.0.activations.0.act.beta": (8,),
        "resblocks.0.activations.0.upsample.filter": (1, 1, 12),
        "resblocks.0.activations.0.downsample.lowpass.filter": (1, 1, 12),
        "activation_post.act.alpha": (4,), "conv_post.weight_g": (1, 1, 1),
    },
    "vocos": {
        "backbone.embed.weight": (32, 24, 7), "backbone.embed.bias": (32,),
        "backbone.norm.weight": (32,), "backbone.convnext.0.dwconv.weight": (32, 1, 7),
        "backbone.convnext.1.norm.bias": (32,), "backbone.convnext.1.pwconv1.weight": (64, 32),
        "backbone.convnext.0.pwconv2.weight": (32, 64), "backbone.convnext.0.gamma": (32,),
        "backbone.final_layer_norm.weight": (32,), "head.out.weight": (66, 32),
        "head.out.bias": (66,), "head.istft.window": (64,),
    },
    "apnet": {
        "ASP_input_conv.weight_v": (16, 20, 7), "ASP_input_conv.weight_g": (16, 1, 1),
        "PSP_input_conv.bias": (16,), "ASP_ResNet.1.convs1.2.weight_v": (16, 16, 5),
        "PSP_ResNet.0.convs2.0.weight_g": (16, 1, 1), "ASP_output_conv.weight_v": (33, 16, 7),
        "PSP_output_R_conv.weight_v": (33, 16, 7), "PSP_output_I_conv.bias": (33,),
    },
}


def _seeded_build(spec, cfg, seed):
    """Random init; Snake alpha/beta and layer scales start as identical constants, so they are
    perturbed too, otherwise a wrong channel or block mapping could go unnoticed."""
    torch.manual_seed(seed)
    model = spec.build(cfg).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.split(".")[-1] in ("alpha", "beta", "gamma"):
                param.add_(0.3 * torch.randn_like(param))
    return model


def _audio_from_outputs(spec, cfg, gen, outputs):
    """export_module outputs -> audio [B,1,samples]; spectral heads go through our ISTFT."""
    head = spec.head(cfg)
    if head["type"] == "waveform":
        return outputs[0]
    window = torch.hann_window(head["win_length"])
    return istft_same(outputs[0], outputs[1], head["n_fft"], head["hop_length"],
                      window).unsqueeze(1)


def _fold(model):
    model = copy.deepcopy(model)
    for module in model.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, WeightNorm):
                torch.nn.utils.remove_weight_norm(module, hook.name)
    return model


def _export_onnx(spec, cfg, model, path, opset=17):
    module = spec.export_module(_fold(model), cfg)
    inputs = spec.example_inputs(cfg, 23, torch.Generator().manual_seed(5))
    torch.onnx.export(module, inputs, str(path), opset_version=opset,
                      input_names=spec.input_names(cfg), output_names=spec.output_names(cfg),
                      dynamic_axes=spec.dynamic_axes(cfg))
    return module


ALL = sorted(FAMILIES)


def test_unknown_family_lists_known_ones():
    with pytest.raises(ValueError, match="unknown family 'nope'; known: .*hifigan"):
        get_family("nope")


@pytest.mark.parametrize("name", ALL)
def test_state_dict_has_amphion_keys(name):
    spec = get_family(name)
    state = spec.build(spec.default_config()).state_dict()
    for key, shape in EXPECTED_KEYS.get(name, {}).items():
        assert key in state, f"{name}: missing {key}; have {sorted(state)[:20]}..."
        if shape is not None:
            assert tuple(state[key].shape) == shape, f"{name}: {key} {tuple(state[key].shape)}"
    # Legacy weight norm only: no parametrizations, no plain .weight beside weight_g/weight_v.
    assert not any("parametrizations" in k for k in state)
    for key in state:
        if key.endswith(".weight_g"):
            assert key[:-2] + "_v" in state and key[:-9] + ".weight" not in state


@pytest.mark.parametrize("name", ALL)
def test_strict_round_trip(name):
    spec = get_family(name)
    cfg = spec.default_config()
    source, target = _seeded_build(spec, cfg, 1), _seeded_build(spec, cfg, 2)
    inputs = spec.example_inputs(cfg, 16, torch.Generator().manual_seed(0))
    before = spec.reference_audio(target, cfg, inputs)
    target.load_state_dict(source.state_dict(), strict=True)
    after = spec.reference_audio(target, cfg, inputs)
    expected = spec.reference_audio(source, cfg, inputs)
    assert torch.equal(after, expected)
    assert not torch.allclose(before, after)


@pytest.mark.parametrize("name", ALL)
def test_export_module_matches_reference(name):
    spec = get_family(name)
    cfg = spec.default_config()
    model = _seeded_build(spec, cfg, 0)
    for frames in (5, 37):
        inputs = spec.example_inputs(cfg, frames, torch.Generator().manual_seed(frames))
        reference = spec.reference_audio(model, cfg, inputs)
        with torch.no_grad():
            outputs = spec.export_module(model, cfg)(*inputs)
            folded = spec.export_module(_fold(model), cfg)(*inputs)
        assert isinstance(outputs, tuple) and len(outputs) == len(spec.output_names(cfg))
        audio = _audio_from_outputs(spec, cfg, None, outputs)
        assert reference.shape == (1, 1, frames * spec.hop_length(cfg))
        assert audio.shape == reference.shape
        assert float(reference.abs().max()) > 1e-3, "degenerate (silent) reference"
        assert float((audio - reference).abs().max()) < 1e-4
        for a, b in zip(outputs, folded):
            assert float((a - b).abs().max()) < 1e-5


@pytest.mark.parametrize("name", ALL)
def test_onnx_export_matches_pytorch_at_two_lengths(name, tmp_path):
    spec = get_family(name)
    cfg = spec.default_config()
    model = _seeded_build(spec, cfg, 3)
    path = tmp_path / f"{name}.onnx"
    module = _export_onnx(spec, cfg, model, path)
    onnx.checker.check_model(onnx.load(str(path)))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == spec.input_names(cfg)
    assert [o.name for o in session.get_outputs()] == spec.output_names(cfg)
    for frames in (37, 64):
        inputs = spec.example_inputs(cfg, frames, torch.Generator().manual_seed(frames))
        with torch.no_grad():
            expected = module(*inputs)
        feeds = {n: t.numpy() for n, t in zip(spec.input_names(cfg), inputs)}
        got = session.run(None, feeds)
        for name_out, e, g in zip(spec.output_names(cfg), expected, got):
            assert g.shape == tuple(e.shape), name_out
            assert np.abs(g - e.numpy()).max() < 1e-4, name_out


@pytest.mark.parametrize("name", ALL)
def test_torchscript_trace_has_dynamic_length(name):
    spec = get_family(name)
    cfg = spec.default_config()
    module = spec.export_module(_fold(_seeded_build(spec, cfg, 0)), cfg)
    with torch.no_grad():
        traced = torch.jit.trace(module, spec.example_inputs(cfg, 19, torch.Generator()))
        inputs = spec.example_inputs(cfg, 33, torch.Generator().manual_seed(9))
        for a, b in zip(traced(*inputs), module(*inputs)):
            assert a.shape == b.shape and float((a - b).abs().max()) < 1e-5


def test_opset_14_export_also_works(tmp_path):
    for name in ALL:
        spec = get_family(name)
        cfg = spec.default_config()
        _export_onnx(spec, cfg, _seeded_build(spec, cfg, 0), tmp_path / f"{name}.onnx", opset=14)
        onnx.checker.check_model(onnx.load(str(tmp_path / f"{name}.onnx")))


def test_manifest_entries_are_consistent():
    for name in ALL:
        spec = get_family(name)
        cfg = spec.default_config()
        mel = spec.mel_settings(cfg)
        assert mel["n_mels"] == spec.example_inputs(cfg, 3, torch.Generator())[0].shape[1]
        assert mel["hop_length"] == spec.hop_length(cfg), name
        assert mel["center"] is False and mel["log"] == "natural"
        head = spec.head(cfg)
        assert head["type"] in ("waveform", "istft")
        if head["type"] == "istft":
            assert spec.output_names(cfg) == ["spec_real", "spec_imag"]
            assert head["hop_length"] == spec.hop_length(cfg)
        axes = spec.dynamic_axes(cfg)
        assert set(axes) == set(spec.input_names(cfg)) | set(spec.output_names(cfg))


# ---------------------------------------------------------------------------------------------
# HiFi-GAN specifics


def _hifigan_by_hand(state, cfg, mel):
    """HiFi-GAN forward written with plain F.conv* from a folded state_dict, as an independent
    statement of Amphion's semantics (slopes 0.1 inside, 0.01 before conv_post)."""
    section = cfg["model"]["hifigan"]

    def w(prefix):
        return state[prefix + ".weight"]

    x = F.conv1d(mel, w("conv_pre"), state["conv_pre.bias"], padding=3)
    n = len(section["resblock_kernel_sizes"])
    for i, (u, k) in enumerate(zip(section["upsample_rates"], section["upsample_kernel_sizes"])):
        x = F.conv_transpose1d(F.leaky_relu(x, 0.1), w(f"ups.{i}"), state[f"ups.{i}.bias"],
                               stride=u, padding=(k - u) // 2)
        total = 0
        for j, (ks, ds) in enumerate(zip(section["resblock_kernel_sizes"],
                                         section["resblock_dilation_sizes"])):
            p = f"resblocks.{i * n + j}"
            y = x
            if section["resblock"] == "1":
                for m, d in enumerate(ds):
                    t = F.conv1d(F.leaky_relu(y, 0.1), w(f"{p}.convs1.{m}"),
                                 state[f"{p}.convs1.{m}.bias"], dilation=d,
                                 padding=(ks - 1) * d // 2)
                    t = F.conv1d(F.leaky_relu(t, 0.1), w(f"{p}.convs2.{m}"),
                                 state[f"{p}.convs2.{m}.bias"], padding=(ks - 1) // 2)
                    y = y + t
            else:
                for m, d in enumerate(ds):
                    y = y + F.conv1d(F.leaky_relu(y, 0.1), w(f"{p}.convs.{m}"),
                                     state[f"{p}.convs.{m}.bias"], dilation=d,
                                     padding=(ks - 1) * d // 2)
            total = total + y
        x = total / n
    x = F.conv1d(F.leaky_relu(x, 0.01), w("conv_post"), state["conv_post.bias"], padding=3)
    return torch.tanh(x)


@pytest.mark.parametrize("resblock", ["1", "2"])
def test_hifigan_matches_hand_written_forward(resblock):
    spec = get_family("hifigan")
    cfg = spec.default_config()
    section = cfg["model"]["hifigan"]
    section["resblock"] = resblock
    if resblock == "2":
        section["resblock_dilation_sizes"] = [[1, 2], [2, 6]]
    model = _seeded_build(spec, cfg, 7)
    if resblock == "2":
        assert "resblocks.0.convs.1.weight_v" in model.state_dict()
        assert not any(".convs1." in k for k in model.state_dict())
    mel = spec.example_inputs(cfg, 21, torch.Generator().manual_seed(2))[0]
    state = _fold(model).state_dict()
    expected = _hifigan_by_hand(state, cfg, mel)
    with torch.no_grad():
        got = model(mel)
    assert float((got - expected).abs().max()) < 1e-5
    # The 0.01 final slope is observable: using 0.1 there changes the audio.
    with torch.no_grad():
        wrong = model.conv_post(F.leaky_relu(_pre_post(model, mel), 0.1))
        right = model.conv_post(F.leaky_relu(_pre_post(model, mel), 0.01))
    assert float((torch.tanh(right) - got).abs().max()) < 1e-6
    assert float((wrong - right).abs().max()) > 1e-4


def _pre_post(model, mel):
    x = model.conv_pre(mel)
    for i, up in enumerate(model.ups):
        x = up(F.leaky_relu(x, 0.1))
        blocks = model.stage_blocks(i)
        x = sum(b(x) for b in blocks) / len(blocks)
    return x


def test_hifigan_loads_amphion_named_checkpoint_from_other_instance():
    """A state_dict saved from a differently-seeded model with the same config loads strictly;
    a missing key is refused."""
    spec = get_family("hifigan")
    cfg = spec.default_config()
    state = _seeded_build(spec, cfg, 11).state_dict()
    state.pop("conv_post.bias")
    with pytest.raises(RuntimeError, match="conv_post.bias"):
        spec.build(cfg).load_state_dict(state, strict=True)


# ---------------------------------------------------------------------------------------------
# MelGAN specifics


def test_melgan_positional_keys_for_the_reference_config():
    """ratios [8,8,2,2], ngf 32, 3 residual layers: ConvTranspose at model.3/8/13/18, last conv
    at model.24, residual convs at block.2/block.4 plus a 1x1 shortcut."""
    spec = get_family("melgan")
    cfg = spec.default_config()
    cfg["preprocess"]["n_mel"] = 80
    cfg["model"]["melgan"] = {"ratios": [8, 8, 2, 2], "ngf": 32, "n_residual_layers": 3}
    state = spec.build(cfg).state_dict()
    assert tuple(state["model.1.weight_v"].shape) == (512, 80, 7)
    for index, (cin, r) in zip((3, 8, 13, 18), ((512, 8), (256, 8), (128, 2), (64, 2))):
        assert tuple(state[f"model.{index}.weight_v"].shape) == (cin, cin // 2, 2 * r)
        assert tuple(state[f"model.{index}.weight_g"].shape) == (cin, 1, 1)
    assert tuple(state["model.24.weight_v"].shape) == (1, 32, 7)
    assert tuple(state["model.4.block.2.weight_v"].shape) == (256, 256, 3)
    assert tuple(state["model.6.block.4.weight_v"].shape) == (256, 256, 1)
    assert tuple(state["model.21.shortcut.weight_v"].shape) == (32, 32, 1)
    assert spec.hop_length(cfg) == 256


def test_melgan_odd_ratio_keeps_length():
    spec = get_family("melgan")
    cfg = spec.default_config()
    cfg["model"]["melgan"]["ratios"] = [3, 5]
    model = _seeded_build(spec, cfg, 0)
    mel = spec.example_inputs(cfg, 9, torch.Generator().manual_seed(0))
    assert spec.reference_audio(model, cfg, mel).shape[-1] == 9 * 15


# ---------------------------------------------------------------------------------------------
# BigVGAN specifics


def test_bigvgan_keys_and_filters():
    from amphora_export.vocoders.bigvgan import Activation1d, Snake

    spec = get_family("bigvgan")
    cfg = spec.default_config()
    model = spec.build(cfg)
    state = model.state_dict()
    for key in ("ups.0.0.weight_g", "ups.1.0.weight_v", "resblocks.0.activations.5.act.alpha",
                "resblocks.3.activations.0.act.beta", "activation_post.act.beta",
                "resblocks.0.activations.0.upsample.filter",
                "resblocks.0.activations.0.downsample.lowpass.filter",
                "activation_post.upsample.filter", "conv_post.weight_v"):
        assert key in state, key
    assert tuple(state["ups.0.0.weight_g"].shape) == (16, 1, 1)
    assert tuple(state["resblocks.0.activations.0.act.alpha"].shape) == (8,)
    taps = state["activation_post.upsample.filter"]
    assert tuple(taps.shape) == (1, 1, 12)
    assert torch.allclose(taps.sum(), torch.tensor(1.0), atol=1e-6)
    assert torch.allclose(taps.flatten(), taps.flatten().flip(0))  # linear phase
    nyquist = (taps.flatten() * torch.tensor([(-1.0) ** k for k in range(12)])).sum()
    assert abs(float(nyquist)) < 0.02
    # Anti-aliased activation on a constant is the activation of the constant (unit DC gain and
    # replicate padding), and on a slow sine the up/down pair alone is nearly transparent.
    act = Activation1d(Snake(3, logscale=True), 3)
    const = torch.full((1, 3, 40), 0.7)
    assert torch.allclose(act(const), act.act(const), atol=1e-5)
    slow = torch.sin(torch.arange(200.0) * 0.05).expand(1, 3, -1)
    resampled = act.downsample(act.upsample(slow))
    assert resampled.shape == slow.shape
    assert float((resampled - slow)[..., 10:-10].abs().max()) < 2e-3


def test_bigvgan_snake_variants_and_resblock_2():
    spec = get_family("bigvgan")
    for activation, logscale, resblock in (("snake", False, "2"), ("snakebeta", False, "1")):
        cfg = spec.default_config()
        section = cfg["model"]["bigvgan"]
        section.update(activation=activation, snake_logscale=logscale, resblock=resblock)
        if resblock == "2":
            section["resblock_dilation_sizes"] = [[1, 3], [1, 3]]
        model = _seeded_build(spec, cfg, 4)
        state = model.state_dict()
        assert ("resblocks.0.activations.0.act.beta" in state) == (activation == "snakebeta")
        assert ("resblocks.0.activations.2.act.alpha" in state) == (resblock == "1")
        alpha = state["resblocks.0.activations.0.act.alpha"]
        x = torch.randn(1, alpha.numel(), 9)
        act = model.resblocks[0].activations[0].act
        a = alpha.view(1, -1, 1)
        b = state["resblocks.0.activations.0.act.beta"].view(1, -1, 1) \
            if activation == "snakebeta" else a
        assert torch.allclose(act(x), x + torch.sin(a * x) ** 2 / (b + 1e-9), atol=1e-5)
        inputs = spec.example_inputs(cfg, 11, torch.Generator().manual_seed(1))
        with torch.no_grad():
            got = spec.export_module(model, cfg)(*inputs)[0]
        assert float((got - spec.reference_audio(model, cfg, inputs)).abs().max()) < 1e-5


def test_bigvgan_onnx_has_static_depthwise_kernels(tmp_path):
    spec = get_family("bigvgan")
    cfg = spec.default_config()
    path = tmp_path / "bigvgan.onnx"
    _export_onnx(spec, cfg, _seeded_build(spec, cfg, 0), path)
    graph = onnx.load(str(path)).graph
    constants = {i.name for i in graph.initializer}
    constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    convs = [n for n in graph.node if n.op_type in ("Conv", "ConvTranspose")]
    depthwise = [n for n in convs
                 if any(a.name == "group" and a.i > 1 for a in n.attribute)]
    # Up + down per anti-aliased activation (25); the exporter merges the identical upsampling
    # of a stage's input shared by its parallel blocks, one per stage.
    assert len(depthwise) == 2 * 25 - 2
    assert all(n.input[1] in constants for n in convs)
    assert not any(n.op_type in ("Expand", "Exp") for n in graph.node)


# ---------------------------------------------------------------------------------------------
# Spectral heads


def test_istft_same_matches_torch_istft_interior():
    """Our "same"-padded ISTFT equals torch.istft(center=True) shifted by hop/2 samples, an
    independent implementation of the same overlap-add."""
    n_fft, hop, frames = 64, 16, 30
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(2, n_fft // 2 + 1, frames, generator=gen)
    imag = torch.randn(2, n_fft // 2 + 1, frames, generator=gen)
    window = torch.hann_window(n_fft)
    ours = istft_same(real, imag, n_fft, hop, window)
    assert ours.shape == (2, frames * hop)
    theirs = torch.istft(torch.complex(real, imag), n_fft, hop, n_fft, window, center=True)
    shift = hop // 2
    assert float((ours[:, shift:shift + theirs.shape[-1]] - theirs).abs().max()) < 1e-5


def test_vocos_manifest_and_clip():
    spec = get_family("vocos")
    cfg = spec.default_config()
    assert spec.head(cfg) == {"type": "istft", "n_fft": 64, "hop_length": 16, "win_length": 64,
                              "window": "hann", "padding": "same", "output": "real_imag"}
    norm = spec.mel_settings(cfg)["norm"]
    assert norm["mean"] == -4.92 and abs(norm["std"] - 2.8530685) < 1e-6
    del cfg["preprocess"]["mel_mean"]
    assert spec.mel_settings(cfg)["norm"] is None
    model = _seeded_build(spec, cfg, 0)
    with torch.no_grad():
        model.head.out.bias[:33] = 10.0  # exp(10) > 100: the magnitude clip must engage
    mel = spec.example_inputs(cfg, 8, torch.Generator().manual_seed(0))
    with torch.no_grad():
        real, imag = spec.export_module(model, cfg)(*mel)
    magnitude = torch.sqrt(real**2 + imag**2)
    assert float(magnitude.max()) <= 100.0 + 1e-3 and float(magnitude.max()) > 99.0


# ---------------------------------------------------------------------------------------------
# NSF-HiFiGAN specifics


def _nsf_cfg(fix):
    spec = get_family("nsf_hifigan")
    cfg = spec.default_config()
    cfg["model"]["nsfhifigan"]["fix_x_source"] = fix
    return spec, cfg


def test_nsf_keys():
    spec, cfg = _nsf_cfg(False)
    state = spec.build(cfg).state_dict()
    assert tuple(state["m_source.l_linear.weight"].shape) == (1, 5)
    assert tuple(state["m_source.l_linear.bias"].shape) == (1,)
    # Source strides 8, 2, 1: kernel 2*stride, plain conv (no weight norm).
    assert tuple(state["noise_convs.0.weight"].shape) == (16, 1, 16)
    assert tuple(state["noise_convs.1.weight"].shape) == (8, 1, 4)
    assert tuple(state["noise_convs.2.weight"].shape) == (4, 1, 1)
    assert "noise_convs.0.weight_g" not in state
    assert tuple(state["ups.0.weight_g"].shape) == (32, 1, 1)
    assert tuple(state["resblocks.5.convs2.2.weight_v"].shape) == (4, 4, 5)


def test_nsf_defect_flag_changes_output_and_f0_only_matters_when_fixed():
    spec, cfg = _nsf_cfg(False)
    defect = _seeded_build(spec, cfg, 3)
    _, cfg_fixed = _nsf_cfg(True)
    fixed = spec.build(cfg_fixed).eval()
    fixed.load_state_dict(defect.state_dict(), strict=True)
    mel, f0, noise = spec.example_inputs(cfg, 20, torch.Generator().manual_seed(1))
    with torch.no_grad():
        a = spec.export_module(defect, cfg)(mel, f0, noise)[0]
        a_other_f0 = spec.export_module(defect, cfg)(mel, f0 * 1.5, noise * 0.5)[0]
        b = spec.export_module(fixed, cfg_fixed)(mel, f0, noise)[0]
        b_other_f0 = spec.export_module(fixed, cfg_fixed)(mel, f0 * 1.5, noise)[0]
    assert float((a - b).abs().max()) > 1e-3
    assert torch.equal(a, a_other_f0)  # Amphion's defect: the source never reaches the output
    assert float((b - b_other_f0).abs().max()) > 1e-4
    # The defect is x + x: the same as the stage input doubled.
    assert float((spec.reference_audio(defect, cfg, (mel, f0, noise)) - a).abs().max()) < 1e-6


def test_nsf_fixed_source_matches_reference_and_onnx(tmp_path):
    spec, cfg = _nsf_cfg(True)
    model = _seeded_build(spec, cfg, 5)
    for frames in (5, 40):
        inputs = spec.example_inputs(cfg, frames, torch.Generator().manual_seed(frames))
        with torch.no_grad():
            got = spec.export_module(model, cfg)(*inputs)[0]
        reference = spec.reference_audio(model, cfg, inputs)
        assert got.shape == (1, 1, frames * 32)
        assert float((got - reference).abs().max()) < 1e-4
    path = tmp_path / "nsf.onnx"
    module = _export_onnx(spec, cfg, model, path)
    graph = onnx.load(str(path)).graph
    assert sum(n.op_type == "CumSum" for n in graph.node) >= 3
    assert not any(n.op_type == "Range" for n in graph.node)  # harmonics/steps are constants
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for frames in (37, 64):
        inputs = spec.example_inputs(cfg, frames, torch.Generator().manual_seed(frames))
        with torch.no_grad():
            expected = module(*inputs)[0].numpy()
        got = session.run(None, dict(zip(["mel", "f0", "noise"], (t.numpy() for t in inputs))))
        assert np.abs(got[0] - expected).max() < 1e-4


def test_nsf_float32_phase_tracks_float64_over_a_million_samples():
    """The exported phase (float32, CumSum over frames) against Amphion's float64 per-sample
    cumsum: ~2e-7 cycles apart after 10^6 samples, where a plain float32 cumsum drifts ~1e-3."""
    from amphora_export.vocoders.nsf_hifigan import harmonic_increments, harmonic_phase

    gen = torch.Generator().manual_seed(0)
    frames, hop = 4000, 256
    f0 = 80 + 400 * torch.rand(1, frames, generator=gen)
    f0[:, ::7] = 0
    noise = torch.randn(1, 2, frames * hop, generator=gen)
    phase = harmonic_phase(f0, noise, 22050, hop, 2).double()
    increments = harmonic_increments(f0, noise, 22050, 2).repeat_interleave(hop, dim=2)
    reference = torch.cumsum(increments.double(), dim=2)

    def cycles_apart(a):
        d = a - reference
        return float((d - torch.round(d)).abs().max())

    assert cycles_apart(phase) < 1e-6
    assert cycles_apart(torch.cumsum(increments, dim=2).double()) > 1e-4


def test_nsf_initial_phase_comes_from_noise():
    from amphora_export.vocoders.nsf_hifigan import harmonic_increments

    f0 = torch.full((1, 4), 100.0)
    noise = torch.zeros(1, 3, 4 * 8)
    noise[0, :, 0] = torch.tensor([3.0, 0.0, -1.0])
    inc = harmonic_increments(f0, noise, 16000, 3)
    base = torch.tensor([100.0, 200.0, 300.0]) / 16000
    # Fundamental: no initial phase; others: normal CDF of the first noise sample.
    assert torch.allclose(inc[0, :, 0] - base, torch.tensor([0.0, 0.5, 0.158655]), atol=1e-5)
    assert torch.allclose(inc[0, :, 1:], base.view(3, 1).expand(3, 3))


def test_nsf_rejects_odd_source_stride():
    spec, cfg = _nsf_cfg(False)
    cfg["model"]["nsfhifigan"]["upsample_rates"] = [4, 3, 3]
    cfg["model"]["nsfhifigan"]["upsample_kernel_sizes"] = [8, 7, 7]
    with pytest.raises(ValueError, match="stride 9 is odd"):
        spec.build(cfg)


def test_apnet_uppercase_config_and_spectrum_equals_atan2_form():
    """Amphion's exp_config spells APNet keys ASP_channel etc.; both spellings build the same
    model, and the atan2-free export spectrum equals Amphion's rea/imag outputs."""
    spec = get_family("apnet")
    cfg = spec.default_config()
    upper = {k.replace("asp", "ASP").replace("psp", "PSP").replace("_r_", "_R_")
             .replace("_i_", "_I_"): v for k, v in cfg["model"]["apnet"].items()}
    cfg_upper = copy.deepcopy(cfg)
    cfg_upper["model"]["apnet"] = upper
    assert "PSP_output_R_conv_kernel_size" in upper
    model = _seeded_build(spec, cfg, 0)
    other = spec.build(cfg_upper)
    other.load_state_dict(model.state_dict(), strict=True)
    mel = spec.example_inputs(cfg, 12, torch.Generator().manual_seed(0))
    with torch.no_grad():
        real, imag = spec.export_module(other, cfg_upper)(*mel)
        logamp, phase, rea, ima, audio = model(*mel)
    assert float((real - rea).abs().max()) < 1e-5 and float((imag - ima).abs().max()) < 1e-5
    assert audio.shape == (1, 1, 12 * 16)
    # atan2(0, 0) = 0: a zero (R, I) pair gives the full amplitude on the real axis.
    with torch.no_grad():
        for conv in (other.PSP_output_R_conv, other.PSP_output_I_conv):
            conv.bias.zero_()
            conv.weight_g.zero_()  # weight = g * v / |v| = 0
        real, imag = spec.export_module(other, cfg_upper)(*mel)
        logamp, r, i = other.branches(*mel)
    assert bool((r == 0).all()) and bool((i == 0).all())
    assert torch.allclose(real, torch.exp(logamp)) and bool((imag == 0).all())


def test_apnet_rejects_window_shorter_than_fft():
    spec = get_family("apnet")
    cfg = spec.default_config()
    cfg["preprocess"]["win_size"] = 48
    with pytest.raises(ValueError, match="win_size 48 != n_fft 64"):
        spec.build(cfg)


def test_vocos_vevo_style_config_without_generator_key():
    """Vevo/MaskGCT configs name the mel count num_mels and hold model.vocos beside other
    sections, with no model.generator; a model/mel channel mismatch is refused."""
    spec = get_family("vocos")
    cfg = spec.default_config()
    cfg["preprocess"]["num_mels"] = cfg["preprocess"].pop("n_mel")
    del cfg["model"]["generator"]
    cfg["model"]["coco"] = {"unrelated": True}
    model = spec.build(cfg)
    assert tuple(model.state_dict()["backbone.embed.weight"].shape) == (32, 24, 7)
    assert spec.hop_length(cfg) == 16
    cfg["model"]["vocos"]["input_channels"] = 100
    with pytest.raises(ValueError, match="input_channels 100 != preprocess n_mel 24"):
        spec.build(cfg)
