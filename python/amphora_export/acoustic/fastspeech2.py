"""FastSpeech2 (Amphion models/tts/fastspeech2/fs2.py layout): phone ids (+ speaker) -> mel.

encoder -> (+ speaker embedding) -> variance adaptor (duration, pitch and energy predictors;
pitch and energy quantised into bins and embedded) -> length regulator -> decoder -> mel_linear
-> postnet residual.

Two forwards share every layer. `amphion_forward` is Amphion's inference as written (a Python
loop expands tokens, torch.bucketize quantises): the parity reference. `graph_forward` is the
same computation without data-dependent control flow, for tracing: bucketize becomes a count of
the bins below the value, the length regulator a 0/1 path matrix (length_regulator.py), and the
frame count the one data-dependent size.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from ..melspec import cfg_get, mel_settings, n_mels, preprocess
from . import AcousticSpec, register
from .fs2_transformer import Decoder, Encoder, PostNet
from .length_regulator import at_least_one_frame, expand, expand_by_loop, padding_mask
from .symbols import LEXICON_SYMBOLS, phone_table, read_speakers, speaker_names

# Amphion sizes the phone embedding from text/symbols.py, not from the config.
N_VOCAB = len(LEXICON_SYMBOLS) + 1
# Untrained bins span this many (normalised) units; a checkpoint brings its own.
RANDOM_BIN_RANGE = (-3.0, 3.0)
# An untrained duration predictor says exp(0) - 1 = 0 frames for every phone; a bias of
# log(1 + 3) makes it say about 3, so a random-init export has frames worth comparing.
PLAUSIBLE_LOG_DURATION = math.log(4.0)


def _model(cfg: dict) -> dict:
    return cfg_get(cfg, "model")


def _flag(section: dict, key: str) -> bool:
    return bool(cfg_get(section, key, False))


def multi_speaker(cfg: dict) -> bool:
    return _flag(cfg_get(cfg, "train", {}), "multi_speaker_training")


class Conv(nn.Module):
    """Amphion's fs2.Conv: a Conv1d (key conv) applied to [B, T, C] input."""

    def __init__(self, channels_in: int, channels_out: int, kernel_size: int, padding: int):
        super().__init__()
        self.conv = nn.Conv1d(channels_in, channels_out, kernel_size, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.transpose(1, 2)).transpose(1, 2)


class VariancePredictor(nn.Module):
    """Keys conv_layer.{conv1d_1.conv, layer_norm_1, conv1d_2.conv, layer_norm_2}, linear_layer.

    Amphion pads the second conv by 1 whatever the kernel, so only kernel 3 keeps the length;
    other kernels fail in Amphion too, and are refused here."""

    def __init__(self, cfg: dict):
        super().__init__()
        hidden = int(cfg_get(_model(cfg)["transformer"], "encoder_hidden"))
        section = cfg_get(_model(cfg), "variance_predictor")
        filters, kernel = int(section["filter_size"]), int(section["kernel_size"])
        if kernel != 3:
            raise ValueError(f"model.variance_predictor.kernel_size must be 3 (Amphion pads its "
                             f"second conv by 1, so other kernels change the length), got "
                             f"{kernel}")
        self.conv_layer = nn.Sequential(OrderedDict([
            ("conv1d_1", Conv(hidden, filters, kernel, (kernel - 1) // 2)),
            ("relu_1", nn.ReLU()),
            ("layer_norm_1", nn.LayerNorm(filters)),
            ("dropout_1", nn.Dropout(float(section.get("dropout", 0.5)))),
            ("conv1d_2", Conv(filters, filters, kernel, 1)),
            ("relu_2", nn.ReLU()),
            ("layer_norm_2", nn.LayerNorm(filters)),
            ("dropout_2", nn.Dropout(float(section.get("dropout", 0.5)))),
        ]))
        self.linear_layer = nn.Linear(filters, 1)

    def forward(self, x: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        out = self.linear_layer(self.conv_layer(x)).squeeze(-1)
        return out.masked_fill(padding, 0.0)


class VarianceAdaptor(nn.Module):
    """Keys duration/pitch/energy_predictor.*, pitch_bins, energy_bins (Parameters, so the
    checkpoint carries the bin edges Amphion computed from its dataset statistics),
    pitch_embedding, energy_embedding."""

    def __init__(self, cfg: dict):
        super().__init__()
        pre = preprocess(cfg)
        self.pitch_frame_level = _flag(pre, "use_frame_pitch")
        self.energy_frame_level = _flag(pre, "use_frame_energy")
        embedding = cfg_get(_model(cfg), "variance_embedding")
        n_bins = int(embedding["n_bins"])
        if n_bins < 2:
            raise ValueError(f"model.variance_embedding.n_bins must be at least 2, got {n_bins}")
        hidden = int(cfg_get(_model(cfg)["transformer"], "encoder_hidden"))
        self.duration_predictor = VariancePredictor(cfg)
        self.pitch_predictor = VariancePredictor(cfg)
        self.energy_predictor = VariancePredictor(cfg)
        self.pitch_bins = nn.Parameter(torch.linspace(*RANDOM_BIN_RANGE, n_bins - 1),
                                       requires_grad=False)
        self.energy_bins = nn.Parameter(torch.linspace(*RANDOM_BIN_RANGE, n_bins - 1),
                                        requires_grad=False)
        self.pitch_embedding = nn.Embedding(n_bins, hidden)
        self.energy_embedding = nn.Embedding(n_bins, hidden)

    @staticmethod
    def quantise(values: torch.Tensor, bins: torch.Tensor, graph: bool) -> torch.Tensor:
        if not graph:
            return torch.bucketize(values, bins)
        # bucketize (right=False) is the number of bin edges strictly below the value.
        return (values.unsqueeze(-1) > bins).sum(dim=-1)

    def pitch(self, x, padding, control, graph: bool) -> torch.Tensor:
        prediction = self.pitch_predictor(x, padding) * control
        return self.pitch_embedding(self.quantise(prediction, self.pitch_bins, graph))

    def energy(self, x, padding, control, graph: bool) -> torch.Tensor:
        prediction = self.energy_predictor(x, padding) * control
        return self.energy_embedding(self.quantise(prediction, self.energy_bins, graph))

    def forward(self, x, src_padding, duration_control, pitch_control, energy_control,
                graph: bool) -> tuple:
        """-> (frames [B, F, C], frame padding [B, F], frame counts [B], durations [B, T])."""
        log_duration = self.duration_predictor(x, src_padding)
        if not self.pitch_frame_level:
            x = x + self.pitch(x, src_padding, pitch_control, graph)
        if not self.energy_frame_level:
            x = x + self.energy(x, src_padding, energy_control, graph)
        rounded = torch.clamp(torch.round(torch.exp(log_duration) - 1) * duration_control, min=0)
        # Amphion's expand takes int() of each (possibly fractional, never negative) duration.
        durations = at_least_one_frame(torch.floor(rounded).long())
        x, frames = expand(x, durations) if graph else expand_by_loop(x, durations)
        frame_padding = padding_mask(frames, x)
        if self.pitch_frame_level:
            x = x + self.pitch(x, frame_padding, pitch_control, graph)
        if self.energy_frame_level:
            x = x + self.energy(x, frame_padding, energy_control, graph)
        return x, frame_padding, frames, durations


class FastSpeech2(nn.Module):
    """Top-level keys: encoder, variance_adaptor, decoder, mel_linear, postnet, and speaker_emb
    when train.multi_speaker_training is on."""

    def __init__(self, cfg: dict):
        super().__init__()
        model = _model(cfg)
        transformer = cfg_get(model, "transformer")
        hidden = int(transformer["encoder_hidden"])
        if int(transformer["decoder_hidden"]) != hidden:
            raise ValueError(f"model.transformer.decoder_hidden {transformer['decoder_hidden']} "
                             f"must equal encoder_hidden {hidden} (the variance adaptor feeds "
                             "the encoder's vectors to the decoder)")
        self.encoder = Encoder(model, N_VOCAB)
        self.variance_adaptor = VarianceAdaptor(cfg)
        self.decoder = Decoder(model)
        self.mel_linear = nn.Linear(hidden, n_mels(cfg))
        self.postnet = PostNet(n_mels(cfg))
        self.speaker_emb = None
        if multi_speaker(cfg):
            count = int(cfg_get(model, "n_speakers", 0) or 0)
            if count < 1:
                raise ValueError("train.multi_speaker_training is on but the speaker count is "
                                 "unknown (spk2id.json beside the config, or model.n_speakers)")
            self.speaker_emb = nn.Embedding(count, hidden)

    def synthesise(self, phone_ids, phone_lengths, speaker_id, duration_control, pitch_control,
                   energy_control, graph: bool) -> tuple:
        """-> (mel [B, n_mels, F], mel_lengths [B], durations [B, T])."""
        src_padding = padding_mask(phone_lengths, phone_ids)
        x = self.encoder(phone_ids, src_padding, graph)
        if self.speaker_emb is not None:
            x = x + self.speaker_emb(speaker_id).unsqueeze(1)
        x, frame_padding, frames, durations = self.variance_adaptor(
            x, src_padding, duration_control, pitch_control, energy_control, graph)
        x = self.mel_linear(self.decoder(x, frame_padding, graph))
        mel = self.postnet(x) + x
        return mel.transpose(1, 2), frames, durations


class FastSpeech2Graph(nn.Module):
    """The exported forward of a single-speaker model."""

    def __init__(self, model: FastSpeech2):
        super().__init__()
        self.model = model

    def forward(self, phone_ids, phone_lengths, duration_control, pitch_control, energy_control):
        return self.model.synthesise(phone_ids, phone_lengths, None, duration_control,
                                     pitch_control, energy_control, graph=True)


class FastSpeech2SpeakerGraph(FastSpeech2Graph):
    """The exported forward of a multi-speaker model: speaker_id [B] follows the lengths."""

    def forward(self, phone_ids, phone_lengths, speaker_id, duration_control, pitch_control,
                energy_control):
        return self.model.synthesise(phone_ids, phone_lengths, speaker_id, duration_control,
                                     pitch_control, energy_control, graph=True)


# ---------------------------------------------------------------------------------------------
# The spec


def build(cfg: dict) -> FastSpeech2:
    return FastSpeech2(cfg).eval()


def default_config() -> dict:
    """Small sizes with Amphion's structure; the mel settings match the small HiFi-GAN default,
    so the two packages can be chained in tests."""
    return {
        "model_type": "FastSpeech2",
        "preprocess": {"sample_rate": 16000, "n_mel": 20, "n_fft": 256, "win_size": 256,
                       "hop_size": 32, "fmin": 0, "fmax": 8000, "mel_extract_mode": "taco",
                       "use_frame_pitch": False, "use_frame_energy": False,
                       "phone_extractor": "lexicon"},
        "model": {"transformer": {"encoder_layer": 2, "encoder_head": 2, "encoder_hidden": 32,
                                  "decoder_layer": 2, "decoder_head": 2, "decoder_hidden": 32,
                                  "conv_filter_size": 64, "conv_kernel_size": [9, 1],
                                  "encoder_dropout": 0.2, "decoder_dropout": 0.2},
                  "variance_predictor": {"filter_size": 32, "kernel_size": 3, "dropout": 0.5},
                  "variance_embedding": {"pitch_quantization": "linear",
                                         "energy_quantization": "linear", "n_bins": 32},
                  "max_seq_len": 1000},
        "train": {"multi_speaker_training": False},
    }


def prepare(cfg: dict, config_path: Path | None, state_dict: dict | None) -> tuple:
    """Amphion counts FastSpeech2's speakers in spk2id.json; we read that file beside the
    config, else the checkpoint's speaker_emb rows, else model.n_speakers (--set)."""
    if not multi_speaker(cfg):
        return cfg, []
    cfg = copy.deepcopy(cfg)
    table = read_speakers(cfg, config_path)
    if table is not None:
        count, where = len(table), "spk2id.json beside the config"
    elif state_dict is not None and "speaker_emb.weight" in state_dict:
        count, where = int(state_dict["speaker_emb.weight"].shape[0]), "the checkpoint"
    else:
        count, where = int(cfg_get(_model(cfg), "n_speakers", 0) or 0), "model.n_speakers"
        if count < 1:
            raise ValueError("train.multi_speaker_training is on but the speaker count is "
                             "unknown: put Amphion's spk2id.json beside the config, or pass "
                             "--set model.n_speakers=N")
    cfg["model"]["n_speakers"] = count
    return cfg, [f"{count} speaker(s), from {where}"]


def plausible(model: FastSpeech2, cfg: dict) -> None:
    with torch.no_grad():
        model.variance_adaptor.duration_predictor.linear_layer.bias.fill_(PLAUSIBLE_LOG_DURATION)


def export_module(model: FastSpeech2, cfg: dict) -> nn.Module:
    wrapper = FastSpeech2SpeakerGraph if model.speaker_emb is not None else FastSpeech2Graph
    return wrapper(model).eval()


def input_names(cfg: dict) -> list:
    speaker = ["speaker_id"] if multi_speaker(cfg) else []
    return (["phone_ids", "phone_lengths"] + speaker
            + ["duration_control", "pitch_control", "energy_control"])


def output_names(cfg: dict) -> list:
    return ["mel", "mel_lengths", "durations"]


def dynamic_axes(cfg: dict) -> dict:
    return {"phone_ids": {0: "batch", 1: "tokens"}, "phone_lengths": {0: "batch"},
            "speaker_id": {0: "batch"}, "mel": {0: "batch", 2: "frames"},
            "mel_lengths": {0: "batch"}, "durations": {0: "batch", 1: "tokens"}}


def example_inputs(cfg: dict, tokens, gen: torch.Generator) -> tuple:
    """Phone ids (never the padding id 0) and controls near 1. tokens is one count, or a list
    of counts for a batch padded with 0 to the longest."""
    counts = [tokens] if isinstance(tokens, int) else list(tokens)
    phone_ids = torch.zeros(len(counts), max(counts), dtype=torch.long)
    for row, count in enumerate(counts):
        phone_ids[row, :count] = torch.randint(1, N_VOCAB, (count,), generator=gen)
    lengths = torch.tensor(counts, dtype=torch.long)
    controls = tuple(0.8 + 0.45 * torch.rand(1, generator=gen) for _ in range(3))
    if multi_speaker(cfg):
        count = int(cfg_get(_model(cfg), "n_speakers"))
        speaker = torch.randint(0, count, (len(counts),), generator=gen)
        return (phone_ids, lengths, speaker) + controls
    return (phone_ids, lengths) + controls


@torch.no_grad()
def reference(model: FastSpeech2, cfg: dict, inputs: tuple) -> tuple:
    phone_ids, lengths = inputs[0], inputs[1]
    speaker = inputs[2] if model.speaker_emb is not None else None
    duration, pitch, energy = (float(c) for c in inputs[-3:])
    return model.synthesise(phone_ids, lengths, speaker, duration, pitch, energy, graph=False)


def input_meanings(cfg: dict) -> dict:
    meanings = {
        "phone_ids": "int64 [B, tokens]: phone ids (see phones), padded with 0",
        "phone_lengths": "int64 [B]: real tokens per row",
        "duration_control": "float32 [1]: multiplies every rounded duration (1 = as trained; "
                            "larger is slower)",
        "pitch_control": "float32 [1]: multiplies the predicted (normalised) pitch before it "
                         "is quantised (1 = as trained)",
        "energy_control": "float32 [1]: multiplies the predicted (normalised) energy before it "
                          "is quantised (1 = as trained)",
    }
    if multi_speaker(cfg):
        meanings["speaker_id"] = "int64 [B]: speaker id (see speakers)"
    return meanings


def output_meanings(cfg: dict) -> dict:
    return {"mel": "float32 [B, n_mels, frames]: natural-log mel (postnet output), the input "
                   "of a vocoder with the same mel settings; frames past mel_lengths are "
                   "padding",
            "mel_lengths": "int64 [B]: frames per row (the sum of its durations)",
            "durations": "int64 [B, tokens]: frames given to each phone"}


def fs2_mel_settings(cfg: dict) -> dict:
    mode = str(cfg_get(preprocess(cfg), "mel_extract_mode", "") or "")
    return mel_settings(cfg, center=(mode == "taco"), extract_mode=mode or "amphion")


def hop_length(cfg: dict) -> int:
    return int(cfg_get(preprocess(cfg), "hop_size"))


def sample_rate(cfg: dict) -> int:
    return int(cfg_get(preprocess(cfg), "sample_rate"))


def phones(cfg: dict, config_path: Path | None) -> dict:
    return phone_table(cfg, config_path, N_VOCAB)


def speakers(cfg: dict, config_path: Path | None) -> dict:
    if not multi_speaker(cfg):
        return {"count": 1, "input": None, "names": None}
    return {"count": int(cfg_get(_model(cfg), "n_speakers")), "input": "speaker_id",
            "names": speaker_names(cfg, config_path)}


SPEC = register(AcousticSpec(
    name="fastspeech2", build=build, default_config=default_config, prepare=prepare,
    plausible=plausible, export_module=export_module, reference=reference,
    input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
    example_inputs=example_inputs, input_meanings=input_meanings,
    output_meanings=output_meanings, mel_settings=fs2_mel_settings, hop_length=hop_length,
    sample_rate=sample_rate, phones=phones, speakers=speakers, produces="mel",
    tolerance=1e-4, compared={"mel": "max_abs", "mel_lengths": "exact", "durations": "exact"}))
