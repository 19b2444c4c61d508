"""VITS (Amphion models/tts/vits/vits.py SynthesizerTrn layout): phone ids (+ speaker) ->
waveform, end to end.

enc_p (text encoder with relative attention) -> dp (stochastic duration predictor run backwards
on noise, or the deterministic one) -> ceil(exp(logw) * length_scale) frames per phone ->
alignment path (length_regulator.py) expanding the prior -> z_p = m_p + noise * exp(logs_p) *
noise_scale -> flow inverted -> dec (HiFi-GAN). enc_q (the posterior encoder) is training-only;
it is built so that Amphion's checkpoints load strictly, and never runs.

Noise comes from the seeded in-graph generator (noise.py), one seed per row, so a run is
deterministic. `amphion_forward` follows SynthesizerTrn.infer as written (including the
masked-index spline and Amphion's relative-embedding slicing); `graph_forward` is the same
computation without data-dependent control flow.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..melspec import cfg_get, preprocess
from ..vocoders.common import (FINAL_LRELU_SLOPE, LRELU_SLOPE, make_resblock, mean_of_blocks,
                               product, wn_conv_transpose1d)
from . import AcousticSpec, register
from .length_regulator import alignment_path, padding_mask
from . import noise, vits_text
from .noise import DURATION_STREAM, PRIOR_STREAM, normal
from .symbols import phone_table, read_speakers, speaker_names
from .vits_flows import (DurationPredictor, PosteriorEncoder, ResidualCouplingBlock,
                         StochasticDurationPredictor)
from .vits_text import TextEncoder

# Amphion's VITS inference defaults.
DEFAULT_NOISE_SCALE, DEFAULT_NOISE_SCALE_W, DEFAULT_LENGTH_SCALE = 0.667, 0.8, 1.0


def _model(cfg: dict) -> dict:
    return cfg_get(cfg, "model")


def _int(section: dict, key: str) -> int:
    return int(cfg_get(section, key))


class Generator(nn.Module):
    """HiFiGAN_vits: conv_pre, cond (when gin_channels), ups (weight norm), resblocks (weight
    norm), conv_post (no bias). conv_pre, cond and conv_post carry no weight norm."""

    def __init__(self, in_channels: int, m: dict, gin_channels: int):
        super().__init__()
        rates = [int(r) for r in cfg_get(m, "upsample_rates")]
        kernels = [int(k) for k in cfg_get(m, "upsample_kernel_sizes")]
        initial = _int(m, "upsample_initial_channel")
        rb_kernels = [int(k) for k in cfg_get(m, "resblock_kernel_sizes")]
        rb_dilations = cfg_get(m, "resblock_dilation_sizes")
        if len(rates) != len(kernels) or len(rb_kernels) != len(rb_dilations):
            raise ValueError("model.upsample_rates/upsample_kernel_sizes or resblock_kernel_sizes"
                             "/resblock_dilation_sizes differ in length")
        self.num_kernels = len(rb_kernels)
        self.conv_pre = nn.Conv1d(in_channels, initial, 7, 1, padding=3)
        self.ups = nn.ModuleList(
            wn_conv_transpose1d(initial // 2**i, initial // 2**(i + 1), k, u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(zip(rates, kernels)))
        self.resblocks = nn.ModuleList(
            make_resblock(cfg_get(m, "resblock"), initial // 2**(i + 1), k, d)
            for i in range(len(rates)) for k, d in zip(rb_kernels, rb_dilations))
        self.conv_post = nn.Conv1d(initial // 2**len(rates), 1, 7, 1, padding=3, bias=False)
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, initial, 1)

    def forward(self, x: torch.Tensor, g=None) -> torch.Tensor:
        x = self.conv_pre(x)
        if g is not None:
            x = x + self.cond(g)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            x = mean_of_blocks(self.resblocks[i * self.num_kernels:(i + 1) * self.num_kernels], x)
        return torch.tanh(self.conv_post(F.leaky_relu(x, FINAL_LRELU_SLOPE)))


class VITS(nn.Module):
    """Top-level keys: enc_p, dec, enc_q, flow, dp, emb_g (when n_speakers >= 1)."""

    def __init__(self, cfg: dict):
        super().__init__()
        m = _model(cfg)
        inter, hidden = _int(m, "inter_channels"), _int(m, "hidden_channels")
        gin = int(cfg_get(m, "gin_channels", 0) or 0)
        self.n_speakers = int(cfg_get(m, "n_speakers", 0) or 0)
        self.use_sdp = bool(cfg_get(m, "use_sdp", True))
        self.inter = inter
        self.hop = hop_length(cfg)
        self.enc_p = TextEncoder(_int(m, "text_token_num"), inter, hidden,
                                 _int(m, "filter_channels"), _int(m, "n_heads"),
                                 _int(m, "n_layers"), _int(m, "kernel_size"))
        self.dec = Generator(inter, m, gin)
        spec_channels = _int(preprocess(cfg), "n_fft") // 2 + 1
        self.enc_q = PosteriorEncoder(spec_channels, inter, hidden, 5, 1, 16, gin)
        self.flow = ResidualCouplingBlock(inter, hidden, 5, 1, 4, gin_channels=gin)
        if self.use_sdp:
            self.dp = StochasticDurationPredictor(hidden, 3, gin_channels=gin)
        else:
            self.dp = DurationPredictor(hidden, 256, 3, gin_channels=gin)
        if self.n_speakers >= 1:
            if not gin:
                raise ValueError("model.n_speakers needs model.gin_channels > 0")
            self.emb_g = nn.Embedding(self.n_speakers, gin)

    def synthesise(self, phone_ids, phone_lengths, speaker_id, seed, noise_scale, noise_scale_w,
                   length_scale, graph: bool) -> tuple:
        """-> (audio [B, 1, frames * hop], audio_lengths [B], durations [B, T])."""
        x_mask = (~padding_mask(phone_lengths, phone_ids)).unsqueeze(1).to(torch.float32)
        x, m_p, logs_p = self.enc_p(phone_ids, x_mask, graph)
        g = self.emb_g(speaker_id).unsqueeze(-1) if self.n_speakers > 0 else None
        tokens = torch.arange(phone_ids.shape[1], device=phone_ids.device)
        noise_w = normal(seed, DURATION_STREAM, 2, tokens) * noise_scale_w
        logw = self.dp.log_durations(x, x_mask, noise_w, g=g, graph=graph)
        w_ceil = torch.ceil(torch.exp(logw) * x_mask * length_scale)
        durations = w_ceil[:, 0].long()
        y_lengths = torch.clamp_min(durations.sum(dim=1), 1)
        if graph:
            path, _ = alignment_path(durations, torch.float32, frames=y_lengths)
        else:
            path = amphion_path(w_ceil, x_mask, y_lengths)
        m_p = torch.matmul(path, m_p.transpose(1, 2)).transpose(1, 2)
        logs_p = torch.matmul(path, logs_p.transpose(1, 2)).transpose(1, 2)
        y_mask = (~padding_mask(y_lengths, path)).unsqueeze(1).to(torch.float32)
        steps = torch.arange(path.shape[1], device=phone_ids.device)
        noise = normal(seed, PRIOR_STREAM, self.inter, steps)
        z_p = m_p + noise * torch.exp(logs_p) * noise_scale
        z = self.flow.inverse(z_p, y_mask, g)
        return self.dec(z * y_mask, g), y_lengths * self.hop, durations


def amphion_path(w_ceil: torch.Tensor, x_mask: torch.Tensor, y_lengths: torch.Tensor):
    """Amphion's generate_path(w_ceil, x_mask x y_mask) as written (cumsum, sequence_mask,
    difference with the shifted path) -> [B, F, T]."""
    batch, tokens = w_ceil.shape[0], w_ceil.shape[2]
    frames = int(y_lengths.max())
    y_mask = torch.arange(frames)[None, :] < y_lengths[:, None]
    attn_mask = x_mask.unsqueeze(2) * y_mask[:, None, :, None].to(x_mask.dtype)
    cumulative = torch.cumsum(w_ceil, -1).view(batch * tokens)
    path = (torch.arange(frames, dtype=cumulative.dtype)[None, :] < cumulative[:, None])
    path = path.to(x_mask.dtype).view(batch, tokens, frames)
    path = path - F.pad(path, (0, 0, 1, 0))[:, :-1]
    return (path.unsqueeze(1).transpose(2, 3) * attn_mask)[:, 0]


def unpack_inputs(model: VITS, inputs: tuple) -> tuple:
    """The graph's inputs in input_names order -> synthesise()'s arguments. speaker_id is there
    only for multi-speaker models, noise_scale_w only with the stochastic duration predictor
    (an input the graph does not use would be dropped from the ONNX file)."""
    rest = list(inputs[2:])
    speaker = rest.pop(0) if model.n_speakers > 0 else None
    seed, noise_scale = rest.pop(0), rest.pop(0)
    noise_scale_w = rest.pop(0) if model.use_sdp else 0.0
    (length_scale,) = rest
    return inputs[0], inputs[1], speaker, seed, noise_scale, noise_scale_w, length_scale


class VITSGraph(nn.Module):
    """The exported forward: inputs as input_names lists them for this model."""

    def __init__(self, model: VITS):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        return self.model.synthesise(*unpack_inputs(self.model, inputs), graph=True)


# ---------------------------------------------------------------------------------------------
# The spec


def hop_length(cfg: dict) -> int:
    """Samples per frame: the product of the upsample rates, which must agree with the config's
    hop_size (the spectrogram frames the model was trained on)."""
    hop = product(cfg_get(_model(cfg), "upsample_rates"))
    stated = cfg_get(preprocess(cfg), "hop_size", None)
    if stated is not None and int(stated) != hop:
        raise ValueError(f"preprocess.hop_size {stated} differs from the product of "
                         f"model.upsample_rates ({hop})")
    return hop


def build(cfg: dict) -> VITS:
    return VITS(cfg).eval()


def default_config() -> dict:
    """Small sizes with Amphion's structure (hop 32 at 16 kHz, like the small vocoders)."""
    return {
        "model_type": "VITS",
        "preprocess": {"sample_rate": 16000, "n_fft": 256, "win_size": 256, "hop_size": 32,
                       "n_mel": 20, "fmin": 0, "fmax": None, "segment_size": 1024,
                       "add_blank": True, "phone_extractor": "espeak"},
        "model": {"text_token_num": 64, "inter_channels": 16, "hidden_channels": 32,
                  "filter_channels": 64, "n_heads": 2, "n_layers": 2, "kernel_size": 3,
                  "p_dropout": 0.1, "resblock": "1", "resblock_kernel_sizes": [3, 5],
                  "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
                  "upsample_rates": [4, 4, 2], "upsample_initial_channel": 32,
                  "upsample_kernel_sizes": [8, 8, 4], "n_layers_q": 3,
                  "use_spectral_norm": False, "n_speakers": 0, "gin_channels": 16,
                  "use_sdp": True},
        "train": {"multi_speaker_training": False},
    }


def prepare(cfg: dict, config_path: Path | None, state_dict: dict | None) -> tuple:
    """Amphion's trainer sets model.n_speakers from spk2id.json when it is 0 and
    multi-speaker training is on; a saved args.json usually carries the result already."""
    multi = bool(cfg_get(cfg_get(cfg, "train", {}), "multi_speaker_training", False))
    if not multi or int(cfg_get(_model(cfg), "n_speakers", 0) or 0) > 0:
        return cfg, []
    cfg = copy.deepcopy(cfg)
    table = read_speakers(cfg, config_path)
    if table is not None:
        count, where = len(table), "spk2id.json beside the config"
    elif state_dict is not None and "emb_g.weight" in state_dict:
        count, where = int(state_dict["emb_g.weight"].shape[0]), "the checkpoint"
    else:
        raise ValueError("train.multi_speaker_training is on and model.n_speakers is 0: put "
                         "Amphion's spk2id.json beside the config, or pass "
                         "--set model.n_speakers=N")
    cfg["model"]["n_speakers"] = count
    return cfg, [f"{count} speaker(s), from {where}"]


def plausible(model: VITS, cfg: dict) -> None:
    """Nothing to adjust: exp(logw) > 0 gives every phone at least one frame."""


def export_module(model: VITS, cfg: dict) -> nn.Module:
    return VITSGraph(model).eval()


def _sdp(cfg: dict) -> bool:
    return bool(cfg_get(_model(cfg), "use_sdp", True))


def _speakers_in(cfg: dict) -> int:
    return int(cfg_get(_model(cfg), "n_speakers", 0) or 0)


def input_names(cfg: dict) -> list:
    speaker = ["speaker_id"] if _speakers_in(cfg) > 0 else []
    noise_w = ["noise_scale_w"] if _sdp(cfg) else []
    return (["phone_ids", "phone_lengths"] + speaker + ["seed", "noise_scale"] + noise_w
            + ["length_scale"])


def output_names(cfg: dict) -> list:
    return ["audio", "audio_lengths", "durations"]


def dynamic_axes(cfg: dict) -> dict:
    return {"phone_ids": {0: "batch", 1: "tokens"}, "phone_lengths": {0: "batch"},
            "speaker_id": {0: "batch"}, "seed": {0: "batch"},
            "audio": {0: "batch", 2: "samples"}, "audio_lengths": {0: "batch"},
            "durations": {0: "batch", 1: "tokens"}}


def example_inputs(cfg: dict, tokens, gen: torch.Generator) -> tuple:
    """Phone ids (never the blank 0), one seed per row, scales near Amphion's defaults."""
    counts = [tokens] if isinstance(tokens, int) else list(tokens)
    vocab = _int(_model(cfg), "text_token_num")
    phone_ids = torch.zeros(len(counts), max(counts), dtype=torch.long)
    for row, count in enumerate(counts):
        phone_ids[row, :count] = torch.randint(1, vocab, (count,), generator=gen)
    lengths = torch.tensor(counts, dtype=torch.long)
    seed = torch.randint(0, 2**31 - 1, (len(counts),), generator=gen)
    jitter = 0.9 + 0.2 * torch.rand(3, generator=gen)
    noise = (torch.tensor([DEFAULT_NOISE_SCALE]) * jitter[0],)
    noise_w = (torch.tensor([DEFAULT_NOISE_SCALE_W]) * jitter[1],) if _sdp(cfg) else ()
    length = (torch.tensor([DEFAULT_LENGTH_SCALE]) * jitter[2],)
    speaker = ()
    if _speakers_in(cfg) > 0:
        speaker = (torch.randint(0, _speakers_in(cfg), (len(counts),), generator=gen),)
    return (phone_ids, lengths) + speaker + (seed,) + noise + noise_w + length


@torch.no_grad()
def reference(model: VITS, cfg: dict, inputs: tuple) -> tuple:
    ids, lengths, speaker, seed, *scales = unpack_inputs(model, inputs)
    noise_scale, noise_scale_w, length_scale = (float(s) for s in scales)
    return model.synthesise(ids, lengths, speaker, seed, noise_scale, noise_scale_w,
                            length_scale, graph=False)


def input_meanings(cfg: dict) -> dict:
    meanings = {
        "phone_ids": "int64 [B, tokens]: phone ids (see phones; with intersperse_blank, a 0 "
                     "before, between and after the phones), padded with 0",
        "phone_lengths": "int64 [B]: real tokens per row",
        "seed": "int64 [B]: seed of the row's noise (duration and prior); same seed, same "
                "audio",
        "noise_scale": f"float32 [1]: scales the prior noise ({DEFAULT_NOISE_SCALE} in "
                       "Amphion's inference; 0 gives the mean)",
        "noise_scale_w": f"float32 [1]: scales the stochastic duration predictor's noise "
                         f"({DEFAULT_NOISE_SCALE_W} in Amphion's inference; absent with "
                         "use_sdp false)",
        "length_scale": "float32 [1]: multiplies every duration before ceil (1 = as trained; "
                        "larger is slower)",
    }
    if _speakers_in(cfg) > 0:
        meanings["speaker_id"] = "int64 [B]: speaker id (see speakers)"
    return meanings


def output_meanings(cfg: dict) -> dict:
    return {"audio": "float32 [B, 1, samples]: waveform in [-1, 1]; samples past "
                     "audio_lengths are padding",
            "audio_lengths": "int64 [B]: samples per row (frames * hop)",
            "durations": "int64 [B, tokens]: frames given to each phone"}


def mel_settings(cfg: dict):
    return None  # VITS makes the waveform itself: there is no mel to hand over


def sample_rate(cfg: dict) -> int:
    return int(cfg_get(preprocess(cfg), "sample_rate"))


def phones(cfg: dict, config_path: Path | None) -> dict:
    entry = phone_table(cfg, config_path, _int(_model(cfg), "text_token_num"))
    # Amphion's VITS inference intersperses the blank id 0 when preprocess.add_blank is on.
    entry["intersperse_blank"] = bool(cfg_get(preprocess(cfg), "add_blank", False))
    return entry


def speakers(cfg: dict, config_path: Path | None) -> dict:
    count = _speakers_in(cfg)
    if count <= 0:
        return {"count": 1, "input": None, "names": None}
    return {"count": count, "input": "speaker_id", "names": speaker_names(cfg, config_path)}


SPEC = register(AcousticSpec(
    name="vits", build=build, default_config=default_config, prepare=prepare,
    plausible=plausible, export_module=export_module, reference=reference,
    input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
    example_inputs=example_inputs, input_meanings=input_meanings,
    output_meanings=output_meanings, mel_settings=mel_settings, hop_length=hop_length,
    sample_rate=sample_rate, phones=phones, speakers=speakers, produces="waveform",
    tolerance=1e-3, compared={"audio": "max_abs", "audio_lengths": "exact",
                              "durations": "exact"},
    coreml_obstacles=(vits_text.CORE_ML_OBSTACLE, noise.CORE_ML_OBSTACLE)))
