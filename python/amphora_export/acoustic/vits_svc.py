"""VITS-SVC (Amphion models/svc/vits/vits.py SynthesizerTrn layout, with its condition encoder
from modules/encoder/condition_encoder.py): content features + f0 (+ energy, singer) ->
waveform, end to end.

condition_encoder (one Linear per enabled content feature: whisper, contentvec, mert, wenet;
f0 quantised to a mel-scale pitch id plus a voiced/unvoiced embedding; energy quantised by the
checkpoint's bin edges; the singer's embedding; summed, or concatenated with merge_mode
"concat") -> enc_p (transformer with relative attention, the VITS text encoder's) -> prior
mean/log-scale -> z_p = m_p + noise * exp(logs_p) * noise_scale -> flow inverted with the
speaker embedding emb_g -> dec, a vocoder generator chosen by model.generator (Amphion's
VitsSVC recipe uses NSF-HiFiGAN) on the latent instead of a mel. enc_q (the posterior encoder)
and enc_p.f0_emb are training-only or unused; they are built so that Amphion's checkpoints load
strictly, and never run.

What the inputs mean, as Amphion's inference (SVCTestDataset + SynthesizerTrn.infer) feeds them:
- content features are already aligned to the model's frames (hop_size at sample_rate), each
  [B, frames, dim]; Amphion aligns them in the dataset (offline_resolution_transformation);
- f0 is the source's frame f0 in Hz (0 where unvoiced), after any transposition. The voicing
  flag Amphion loads from its uv files is exactly f0 == 0 there (the files hold pitch != 0,
  inverted by the dataset), so the graph derives it from f0 instead of taking a second input;
- energy is the frame energy Amphion's preprocessing stored (preprocess.energy_extract_mode).

Amphion's inference masks nothing: every row is its full length. frame_lengths masks as its
training forward does (sequence_mask of the lengths); with frame_lengths = frames the two agree.

Noise comes from the seeded in-graph generator (noise.py), one seed per row, so a run is
deterministic. `synthesise(graph=False)` follows Amphion as written (masked assignment in
f0_to_coarse, torch.bucketize, stacked sum, the decoder's own forward, NSF source and all);
`graph=True` is the same computation without data-dependent indexing.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..melspec import cfg_get, mel_settings as mel_description, preprocess
from ..vocoders import get_family as vocoder_family
from ..vocoders.nsf_hifigan import NSFHiFiGAN
from . import AcousticSpec, register
from .length_regulator import padding_mask
from . import noise, vits_text
from .noise import PRIOR_STREAM, normal
from .symbols import speaker_names
from .vits_flows import PosteriorEncoder, ResidualCouplingBlock
from .vits_text import RelativeEncoder

# Content features in the order Amphion's ConditionEncoder adds or concatenates them.
CONTENT_FEATURES = ("whisper", "contentvec", "mert", "wenet")
# model.generator -> our vocoder family. APNet is left out: its graph ends in a spectrum whose
# ISTFT a vocoder package leaves to the runtime, which an end-to-end SVC graph cannot.
DECODERS = {"hifigan": "hifigan", "nsfhifigan": "nsf_hifigan", "bigvgan": "bigvgan",
            "melgan": "melgan"}
# config/svc/base.json's condition_encoder values, which Amphion's VitsSVC config inherits.
CONDITION_DEFAULTS = {
    "merge_mode": "add", "use_f0": True, "use_uv": True, "use_energy": True,
    "input_melody_dim": 1, "n_bins_melody": 256, "output_melody_dim": 384,
    "input_loudness_dim": 1, "n_bins_loudness": 256, "output_loudness_dim": 384,
    "use_whisper": False, "use_contentvec": False, "use_wenet": False, "use_mert": False,
    "whisper_dim": 1024, "contentvec_dim": 256, "mert_dim": 256, "wenet_dim": 512,
    "content_encoder_dim": 384, "output_singer_dim": 384, "singer_table_size": 512,
    "use_spkid": True,
}
# LoudnessEncoder's fixed range for its log-spaced bin edges (the checkpoint stores the edges).
LOUDNESS_MIN, LOUDNESS_MAX = 1e-30, 1.5
# Amphion's SVC inference (VitsInference._inference_each_batch) samples with 0.667.
DEFAULT_NOISE_SCALE = 0.667


def _model(cfg: dict) -> dict:
    return cfg_get(cfg, "model")


def _vits(cfg: dict) -> dict:
    return cfg_get(_model(cfg), "vits")


def _int(section: dict, key: str) -> int:
    return int(cfg_get(section, key))


def condition(cfg: dict, key: str):
    """model.condition_encoder[key], with config/svc/base.json's value when absent."""
    section = cfg_get(_model(cfg), "condition_encoder", {})
    return cfg_get(section, key, CONDITION_DEFAULTS.get(key))


def content_features(cfg: dict) -> list:
    return [name for name in CONTENT_FEATURES if bool(condition(cfg, f"use_{name}"))]


def _use(cfg: dict, what: str) -> bool:
    return bool(condition(cfg, f"use_{what}"))


# ---------------------------------------------------------------------------------------------
# The condition encoder


def f0_to_coarse_amphion(f0: torch.Tensor, bins: int, f0_min: float, f0_max: float):
    """Amphion's utils/f0.py f0_to_coarse on a tensor, as written (masked assignment)."""
    mel_min = 1127 * np.log(1 + f0_min / 700)
    mel_max = 1127 * np.log(1 + f0_max / 700)
    f0_mel = 1127 * (1 + f0 / 700).log()
    voiced = f0_mel > 0
    f0_mel[voiced] = (f0_mel[voiced] - mel_min) * (bins - 2) / (mel_max - mel_min) + 1
    f0_mel[f0_mel <= 1] = 1
    f0_mel[f0_mel > bins - 1] = bins - 1
    return (f0_mel + 0.5).long()


def f0_to_coarse_graph(f0: torch.Tensor, bins: int, f0_min: float, f0_max: float):
    """The same arithmetic in the same order, with Where instead of masked assignment, and
    floor before the cast (the value is at least 1.5, where truncation is floor)."""
    mel_min = float(1127 * np.log(1 + f0_min / 700))
    mel_max = float(1127 * np.log(1 + f0_max / 700))
    f0_mel = 1127 * (1 + f0 / 700).log()
    scaled = (f0_mel - mel_min) * (bins - 2) / (mel_max - mel_min) + 1
    f0_mel = torch.where(f0_mel > 0, scaled, f0_mel)
    f0_mel = torch.clamp(f0_mel, min=1.0, max=float(bins - 1))
    return torch.floor(f0_mel + 0.5).long()


class FeatureEncoder(nn.Module):
    """condition_encoder.<name>_encoder: one Linear (key nn) from the feature's dim."""

    def __init__(self, input_dim: int, output_dim: int):
        super().__init__()
        self.nn = nn.Linear(input_dim, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nn(x)


class MelodyEncoder(nn.Module):
    """f0 [B, T] -> [B, T, D]: mel-scale pitch id embedding (nn) plus the voicing embedding
    (uv_embedding; 1 = unvoiced) with n_bins_melody > 0; the raw f0 as one channel with 0."""

    def __init__(self, cfg: dict, f0_min: float, f0_max: float):
        super().__init__()
        self.n_bins = int(condition(cfg, "n_bins_melody"))
        self.use_uv = _use(cfg, "uv")
        self.f0_min, self.f0_max = f0_min, f0_max
        input_dim, output_dim = (int(condition(cfg, "input_melody_dim")),
                                 int(condition(cfg, "output_melody_dim")))
        if input_dim != 0:
            if self.n_bins == 0:
                self.nn = nn.Linear(input_dim, output_dim)  # built by Amphion, never applied
            else:
                self.nn = nn.Embedding(self.n_bins, output_dim)
                self.uv_embedding = nn.Embedding(2, output_dim)
        elif self.n_bins:
            raise ValueError("model.condition_encoder.input_melody_dim is 0 with n_bins_melody "
                             f"{self.n_bins}: Amphion's melody encoder has no table then")
        self.output_dim = output_dim if self.n_bins else 1

    def forward(self, f0: torch.Tensor, graph: bool) -> torch.Tensor:
        if self.n_bins == 0:
            return f0.unsqueeze(-1)
        to_coarse = f0_to_coarse_graph if graph else f0_to_coarse_amphion
        x = self.nn(to_coarse(f0, self.n_bins, self.f0_min, self.f0_max))
        if self.use_uv:
            x = x + self.uv_embedding((f0 == 0).long())
        return x


class LoudnessEncoder(nn.Module):
    """energy [B, T] -> [B, T, D]: embedding (nn) of the bucket among energy_bins (a parameter
    of n_bins_loudness - 1 log-spaced edges); the raw energy as one channel with 0 bins."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.n_bins = int(condition(cfg, "n_bins_loudness"))
        input_dim, output_dim = (int(condition(cfg, "input_loudness_dim")),
                                 int(condition(cfg, "output_loudness_dim")))
        if input_dim != 0:
            if self.n_bins == 0:
                self.nn = nn.Linear(input_dim, output_dim)  # built by Amphion, never applied
            else:
                edges = torch.exp(torch.linspace(np.log(LOUDNESS_MIN), np.log(LOUDNESS_MAX),
                                                 self.n_bins - 1))
                self.energy_bins = nn.Parameter(edges, requires_grad=False)
                self.nn = nn.Embedding(self.n_bins, output_dim)
        elif self.n_bins:
            raise ValueError("model.condition_encoder.input_loudness_dim is 0 with "
                             f"n_bins_loudness {self.n_bins}: Amphion's loudness encoder has "
                             "no table then")
        self.output_dim = output_dim if self.n_bins else 1

    def forward(self, energy: torch.Tensor, graph: bool) -> torch.Tensor:
        if self.n_bins == 0:
            return energy.unsqueeze(-1)
        if graph:
            # bucketize (right=False) is the number of bin edges strictly below the value.
            ids = (energy.unsqueeze(-1) > self.energy_bins).sum(dim=-1)
        else:
            ids = torch.bucketize(energy, self.energy_bins)
        return self.nn(ids)


class SingerEncoder(nn.Module):
    def __init__(self, table_size: int, output_dim: int):
        super().__init__()
        self.nn = nn.Embedding(table_size, output_dim)


class ConditionEncoder(nn.Module):
    """Keys <feature>_encoder.nn, melody_encoder.{nn,uv_embedding}, loudness_encoder.
    {energy_bins,nn}, singer_encoder.nn, as the config enables them."""

    def __init__(self, cfg: dict):
        super().__init__()
        pre = preprocess(cfg)
        self.merge_mode = str(condition(cfg, "merge_mode"))
        if self.merge_mode not in ("add", "concat"):
            raise ValueError(f"model.condition_encoder.merge_mode '{self.merge_mode}' is not "
                             "add or concat")
        if bool(condition(cfg, "use_conformer_for_content_features")):
            raise ValueError("model.condition_encoder.use_conformer_for_content_features is "
                             "not supported (VitsSVC does not use it)")
        self.features = content_features(cfg)
        if not self.features:
            raise ValueError("model.condition_encoder enables no content feature (use_whisper, "
                             "use_contentvec, use_mert or use_wenet)")
        width = int(condition(cfg, "content_encoder_dim"))
        for name in self.features:
            setattr(self, f"{name}_encoder",
                    FeatureEncoder(int(condition(cfg, f"{name}_dim")), width))
        self.use_f0, self.use_energy = _use(cfg, "f0"), _use(cfg, "energy")
        self.use_spkid = _use(cfg, "spkid")
        # SynthesizerTrn copies preprocess.f0_min/f0_max into the condition encoder's config.
        if self.use_f0:
            self.melody_encoder = MelodyEncoder(cfg, float(cfg_get(pre, "f0_min")),
                                                float(cfg_get(pre, "f0_max")))
        if self.use_energy:
            self.loudness_encoder = LoudnessEncoder(cfg)
        if self.use_spkid:
            self.singer_encoder = SingerEncoder(int(condition(cfg, "singer_table_size")),
                                                int(condition(cfg, "output_singer_dim")))
        widths = ([self.melody_encoder.output_dim] if self.use_f0 else []) \
            + ([self.loudness_encoder.output_dim] if self.use_energy else []) \
            + [width] * len(self.features) \
            + ([int(condition(cfg, "output_singer_dim"))] if self.use_spkid else [])
        self.output_dim = sum(widths) if self.merge_mode == "concat" else widths[0]
        if self.merge_mode == "add" and len(set(widths)) != 1:
            raise ValueError("merge_mode add needs every part of model.condition_encoder to "
                             f"have one width, got {widths} (output_melody_dim, "
                             "output_loudness_dim, content_encoder_dim, output_singer_dim)")

    def forward(self, features: dict, f0, energy, speaker, graph: bool) -> torch.Tensor:
        """-> [B, T, output_dim], parts in Amphion's order: pitch, loudness, whisper,
        contentvec, mert, wenet, singer."""
        outputs = []
        if self.use_f0:
            outputs.append(self.melody_encoder(f0, graph))
        if self.use_energy:
            outputs.append(self.loudness_encoder(energy, graph))
        for name in self.features:
            outputs.append(getattr(self, f"{name}_encoder")(features[name]))
        if self.use_spkid:
            singer = self.singer_encoder.nn(speaker.unsqueeze(1))  # [B, 1, D] as Amphion's
            outputs.append(singer.expand(-1, outputs[-1].shape[1], -1))
        if self.merge_mode == "concat":
            return torch.cat(outputs, dim=-1)
        if not graph:
            return torch.sum(torch.cat([out[None] for out in outputs], dim=0), dim=0)
        total = outputs[0]
        for out in outputs[1:]:
            total = total + out
        return total


# ---------------------------------------------------------------------------------------------
# The synthesizer


class PriorEncoder(nn.Module):
    """enc_p (Amphion's vits.py ContentEncoder): f0_emb (built, unused), enc_ (the VITS
    transformer with relative attention), proj to the prior's mean and log-scale."""

    def __init__(self, out_channels: int, hidden: int, filter_channels: int, n_heads: int,
                 n_layers: int, kernel_size: int):
        super().__init__()
        self.out_channels = out_channels
        self.f0_emb = nn.Embedding(256, hidden)
        self.enc_ = RelativeEncoder(hidden, filter_channels, n_heads, n_layers, kernel_size)
        self.proj = nn.Conv1d(hidden, out_channels * 2, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, graph: bool) -> tuple:
        x = self.enc_(x * x_mask, x_mask, graph)
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        return m, logs


def decoder_config(cfg: dict) -> tuple:
    """(vocoder family, config for it) as SynthesizerTrn builds dec: the generator's section
    from model.generator_config, with preprocess.n_mel set to inter_channels."""
    model = _model(cfg)
    name = str(cfg_get(model, "generator")).lower()
    if name == "apnet":
        raise ValueError("model.generator apnet is not supported for vits_svc: its output is a "
                         "spectrum whose ISTFT is not part of the graph")
    if name not in DECODERS:
        raise ValueError(f"model.generator '{name}' is not one of "
                         f"{', '.join(sorted(DECODERS))}")
    section = cfg_get(cfg_get(model, "generator_config"), name)
    pre = {k: v for k, v in preprocess(cfg).items()
           if k.lower() not in ("n_mel", "num_mels", "n_mels")}
    pre["n_mel"] = _int(_vits(cfg), "inter_channels")
    spec = vocoder_family(DECODERS[name])
    dec_cfg = {"preprocess": pre, "model": {"generator": name, name: copy.deepcopy(section)}}
    if spec.name == "nsf_hifigan" and bool(cfg_get(section, "fix_x_source", False)):
        raise ValueError("fix_x_source is not supported for vits_svc (Amphion's decoder adds "
                         "x to itself, so the harmonic source never reaches the output)")
    return spec, dec_cfg


class VitsSVC(nn.Module):
    """Top-level keys: condition_encoder, emb_g, enc_p, dec, enc_q, flow."""

    def __init__(self, cfg: dict):
        super().__init__()
        v = _vits(cfg)
        inter, hidden = _int(v, "inter_channels"), _int(v, "hidden_channels")
        gin, speakers = _int(v, "gin_channels"), _int(v, "n_speakers")
        if gin <= 0 or speakers <= 0:
            raise ValueError("model.vits.gin_channels and n_speakers must be positive (Amphion "
                             "always conditions the flow on the singer)")
        self.inter = inter
        self.hop = hop_length(cfg)
        self.condition_encoder = ConditionEncoder(cfg)
        if self.condition_encoder.output_dim != hidden:
            raise ValueError(f"model.condition_encoder gives {self.condition_encoder.output_dim} "
                             f"channels, model.vits.hidden_channels is {hidden}")
        self.emb_g = nn.Embedding(speakers, gin)
        self.enc_p = PriorEncoder(inter, hidden, _int(v, "filter_channels"), _int(v, "n_heads"),
                                  _int(v, "n_layers"), _int(v, "kernel_size"))
        self.decoder_spec, self.decoder_cfg = decoder_config(cfg)
        self.dec = self.decoder_spec.build(self.decoder_cfg)
        spec_channels = _int(preprocess(cfg), "n_fft") // 2 + 1
        self.enc_q = PosteriorEncoder(spec_channels, inter, hidden, 5, 1, 16, gin)
        self.flow = ResidualCouplingBlock(inter, hidden, 5, 1, _int(v, "n_flow_layer"),
                                          gin_channels=gin)

    def synthesise(self, features: dict, f0, energy, frame_lengths, speaker_id, seed,
                   noise_scale, decode) -> tuple:
        """-> (audio [B, 1, frames * hop], audio_lengths [B]). decode(z, f0) runs dec."""
        graph = decode is not None
        first = features[self.condition_encoder.features[0]]
        if graph:
            # Every per-frame input is reshaped to the first feature's [B, frames]: a runtime
            # given inputs of different frame counts fails here instead of broadcasting.
            features = {name: x.reshape(first.shape[0], first.shape[1], x.shape[2])
                        for name, x in features.items()}
            f0 = None if f0 is None else f0.reshape(first.shape[0], first.shape[1])
            energy = None if energy is None else energy.reshape(first.shape[0], first.shape[1])
        x_mask = (~padding_mask(frame_lengths, first)).unsqueeze(1).to(first.dtype)
        x = self.condition_encoder(features, f0, energy, speaker_id, graph).transpose(1, 2)
        g = self.emb_g(speaker_id.unsqueeze(1)).transpose(1, 2)  # [B, gin, 1]
        m_p, logs_p = self.enc_p(x, x_mask, graph)
        steps = torch.arange(first.shape[1], device=first.device)
        noise = normal(seed, PRIOR_STREAM, self.inter, steps)
        z_p = (m_p + noise * torch.exp(logs_p) * noise_scale) * x_mask
        z = self.flow.inverse(z_p, x_mask, g)
        audio = decode(z * x_mask) if graph else self.amphion_decode(z * x_mask, f0)
        audio_lengths = x_mask.sum(dim=2)[:, 0].long() * self.hop
        return audio, audio_lengths

    @torch.no_grad()
    def amphion_decode(self, z: torch.Tensor, f0) -> torch.Tensor:
        """dec as Amphion calls it: NSF-HiFiGAN with f0 (its harmonic source is computed, then
        discarded by Amphion's x_source defect), the others on the latent alone."""
        if isinstance(self.dec, NSFHiFiGAN):
            if f0 is None:
                f0 = torch.zeros(z.shape[0], z.shape[2])
            source_noise = torch.randn(z.shape[0], self.dec.m_source.dim, z.shape[2] * self.hop,
                                       generator=torch.Generator().manual_seed(0))
            return self.dec.reference(z, f0.float(), source_noise)
        return self.decoder_spec.reference_audio(self.dec, self.decoder_cfg, (z,))


class NSFFilter(nn.Module):
    """NSF-HiFiGAN's export path with Amphion's defect: the filter alone, no source."""

    def __init__(self, generator: NSFHiFiGAN):
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor):
        return (self.generator.filter(z, None),)


class VitsSVCGraph(nn.Module):
    """The exported forward: inputs as input_names lists them for this model."""

    def __init__(self, model: VitsSVC, cfg: dict):
        super().__init__()
        self.model = model
        self.names = input_names(cfg)
        if isinstance(model.dec, NSFHiFiGAN):
            self.decoder = NSFFilter(model.dec)
        else:
            self.decoder = model.decoder_spec.export_module(model.dec, model.decoder_cfg)

    def forward(self, *inputs):
        return self.model.synthesise(*unpack_inputs(self.model, self.names, inputs),
                                     decode=lambda z: self.decoder(z)[0])


def unpack_inputs(model: VitsSVC, names: list, inputs: tuple) -> tuple:
    """The graph's inputs in input_names order -> synthesise()'s arguments. f0 and energy are
    inputs only when the condition encoder uses them, speaker_id only when there is more than
    one singer (an input the graph does not use would be dropped from the ONNX file)."""
    given = dict(zip(names, inputs))
    features = {name: given[f"{name}_feat"] for name in model.condition_encoder.features}
    lengths = given["frame_lengths"]
    speaker = given.get("speaker_id")
    if speaker is None:
        speaker = lengths * 0
    return (features, given.get("f0"), given.get("energy"), lengths, speaker, given["seed"],
            given["noise_scale"])


# ---------------------------------------------------------------------------------------------
# The spec


def hop_length(cfg: dict) -> int:
    """Samples per frame: the decoder's hop, which must agree with preprocess.hop_size (the
    frames the content features and f0 are aligned to)."""
    spec, dec_cfg = decoder_config(cfg)
    hop = int(spec.hop_length(dec_cfg))
    stated = int(cfg_get(preprocess(cfg), "hop_size"))
    if stated != hop:
        raise ValueError(f"preprocess.hop_size {stated} differs from the decoder's hop {hop} "
                         "(the product of its upsample_rates)")
    return hop


def build(cfg: dict) -> VitsSVC:
    return VitsSVC(cfg).eval()


def default_config() -> dict:
    """Small sizes with Amphion's VitsSVC structure (whisper + contentvec, f0 with voicing,
    energy, singer ids, NSF-HiFiGAN decoder), hop 32 at 16 kHz."""
    return {
        "model_type": "VitsSVC",
        "task_type": "svc",
        "preprocess": {"sample_rate": 16000, "n_fft": 256, "win_size": 256, "hop_size": 32,
                       "n_mel": 20, "fmin": 0, "fmax": None, "f0_min": 50, "f0_max": 1100,
                       "pitch_bin": 256, "pitch_extractor": "parselmouth",
                       "energy_extract_mode": "from_mel", "segment_size": 1024,
                       "contentvec_frameshift": 0.02, "contentvec_sample_rate": 16000,
                       "whisper_frameshift": 0.01, "whisper_downsample_rate": 2,
                       "whisper_sample_rate": 16000, "spk2id": "singers.json"},
        "model": {
            "condition_encoder": {
                "merge_mode": "add", "use_f0": True, "use_uv": True, "use_energy": True,
                "input_melody_dim": 1, "n_bins_melody": 256, "output_melody_dim": 32,
                "input_loudness_dim": 1, "n_bins_loudness": 64, "output_loudness_dim": 32,
                "use_whisper": True, "use_contentvec": True, "use_wenet": False,
                "use_mert": False, "whisper_dim": 24, "contentvec_dim": 16, "mert_dim": 16,
                "wenet_dim": 16, "content_encoder_dim": 32, "singer_table_size": 4,
                "output_singer_dim": 32, "use_spkid": True},
            "vits": {"filter_channels": 64, "gin_channels": 16, "hidden_channels": 32,
                     "inter_channels": 16, "kernel_size": 3, "n_flow_layer": 2, "n_heads": 2,
                     "n_layers": 2, "n_layers_q": 3, "n_speakers": 4, "p_dropout": 0.1,
                     "use_spectral_norm": False},
            "generator": "nsfhifigan",
            "generator_config": {
                "nsfhifigan": {"resblock": "1", "harmonic_num": 4, "upsample_rates": [4, 4, 2],
                               "upsample_kernel_sizes": [8, 8, 4],
                               "upsample_initial_channel": 32, "resblock_kernel_sizes": [3, 5],
                               "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]]}},
        },
    }


def prepare(cfg: dict, config_path: Path | None, state_dict: dict | None) -> tuple:
    """Everything VitsSVC needs is in the config (the tables are sized by n_speakers and
    singer_table_size); singers.json only names the ids."""
    return cfg, []


def plausible(model: VitsSVC, cfg: dict) -> None:
    """Nothing to adjust: there are no durations, every frame gives hop samples."""


def export_module(model: VitsSVC, cfg: dict) -> nn.Module:
    return VitsSVCGraph(model, cfg).eval()


def speaker_count(cfg: dict) -> int:
    """Valid singer ids: emb_g's rows, and the singer encoder's when it is used."""
    count = _int(_vits(cfg), "n_speakers")
    if _use(cfg, "spkid"):
        count = min(count, int(condition(cfg, "singer_table_size")))
    return count


def input_names(cfg: dict) -> list:
    return ([f"{name}_feat" for name in content_features(cfg)]
            + (["f0"] if _use(cfg, "f0") else []) + (["energy"] if _use(cfg, "energy") else [])
            + ["frame_lengths"] + (["speaker_id"] if speaker_count(cfg) > 1 else [])
            + ["seed", "noise_scale"])


def output_names(cfg: dict) -> list:
    return ["audio", "audio_lengths"]


def dynamic_axes(cfg: dict) -> dict:
    axes = {f"{name}_feat": {0: "batch", 1: "frames"} for name in CONTENT_FEATURES}
    axes.update({"f0": {0: "batch", 1: "frames"}, "energy": {0: "batch", 1: "frames"},
                 "frame_lengths": {0: "batch"}, "speaker_id": {0: "batch"},
                 "seed": {0: "batch"}, "audio": {0: "batch", 2: "samples"},
                 "audio_lengths": {0: "batch"}})
    return axes


def min_frames(cfg: dict) -> int:
    """The fewest frames the decoder takes: MelGAN reflect-pads its input by 3, which needs 4
    (Amphion's MelGAN fails on fewer too); the others run on a single frame."""
    return 4 if decoder_config(cfg)[0].name == "melgan" else 1


def parity_lengths(cfg: dict) -> tuple:
    return (min_frames(cfg), 16, 100)


def derived_axes(cfg: dict) -> dict:
    return {"samples": f"frames * {hop_length(cfg)}"}


def example_inputs(cfg: dict, frames, gen: torch.Generator) -> tuple:
    """Standard-normal content features; f0 of 60-900 Hz with about a fifth of the frames
    unvoiced (0) and a few beyond f0_min/f0_max (clamped by the quantiser); energy log-uniform
    over Amphion's loudness range; zeros past each row's length, as Amphion's collator pads."""
    counts = [frames] if isinstance(frames, int) else list(frames)
    batch, longest = len(counts), max(counts)
    lengths = torch.tensor(counts, dtype=torch.long)
    valid = (torch.arange(longest)[None, :] < lengths[:, None]).float()
    given = {}
    for name in content_features(cfg):
        dim = int(condition(cfg, f"{name}_dim"))
        given[f"{name}_feat"] = torch.randn(batch, longest, dim, generator=gen) \
            * valid.unsqueeze(-1)
    f0 = 60.0 + 840.0 * torch.rand(batch, longest, generator=gen)
    pick = torch.rand(batch, longest, generator=gen)
    f0 = torch.where(pick < 0.05, torch.full_like(f0, 30.0), f0)
    f0 = torch.where((pick >= 0.05) & (pick < 0.1), torch.full_like(f0, 1500.0), f0)
    given["f0"] = f0 * (torch.rand(batch, longest, generator=gen) > 0.2).float() * valid
    energy = torch.exp(-12.0 + 12.5 * torch.rand(batch, longest, generator=gen))
    given["energy"] = energy * valid
    given["frame_lengths"] = lengths
    given["speaker_id"] = torch.randint(0, max(speaker_count(cfg), 1), (batch,), generator=gen)
    given["seed"] = torch.randint(0, 2**31 - 1, (batch,), generator=gen)
    given["noise_scale"] = torch.tensor([DEFAULT_NOISE_SCALE]) \
        * (0.9 + 0.2 * torch.rand(1, generator=gen))
    return tuple(given[name] for name in input_names(cfg))


@torch.no_grad()
def reference(model: VitsSVC, cfg: dict, inputs: tuple) -> tuple:
    features, f0, energy, lengths, speaker, seed, noise_scale = unpack_inputs(
        model, input_names(cfg), inputs)
    features = {name: x.clone() for name, x in features.items()}
    return model.synthesise(features, None if f0 is None else f0.clone(), energy, lengths,
                            speaker, seed, float(noise_scale), decode=None)


def input_meanings(cfg: dict) -> dict:
    frames = f"frames of hop_length {hop_length(cfg)} at {sample_rate(cfg)} Hz"
    meanings = {}
    for name in content_features(cfg):
        dim = int(condition(cfg, f"{name}_dim"))
        meanings[f"{name}_feat"] = (f"float32 [B, frames, {dim}]: {name} features of the "
                                    f"source, aligned to the model's {frames} (see content), "
                                    "zero-padded")
    meanings.update({
        "f0": "float32 [B, frames]: the source's f0 in Hz, 0 where unvoiced (voicing is f0 == "
              "0), after any transposition (Amphion's --trans_key multiplies by "
              "2^(semitones/12)); zero-padded",
        "energy": "float32 [B, frames]: the source's frame energy as Amphion's preprocessing "
                  "stores it (see energy); zero-padded",
        "frame_lengths": "int64 [B]: real frames per row (frames past it are masked)",
        "speaker_id": "int64 [B]: target singer id (see speakers)",
        "seed": "int64 [B]: seed of the row's prior noise; same seed, same audio",
        "noise_scale": f"float32 [1]: scales the prior noise ({DEFAULT_NOISE_SCALE} in "
                       "Amphion's SVC inference; 0 gives the mean)",
    })
    return {name: meanings[name] for name in input_names(cfg)}


def output_meanings(cfg: dict) -> dict:
    return {"audio": "float32 [B, 1, frames * hop]: waveform in [-1, 1]; samples past "
                     "audio_lengths are padding",
            "audio_lengths": "int64 [B]: samples per row (min(frame_lengths, frames) * hop)"}


def mel_settings(cfg: dict):
    return None  # VITS-SVC makes the waveform itself: there is no mel to hand over


def sample_rate(cfg: dict) -> int:
    return int(cfg_get(preprocess(cfg), "sample_rate"))


def phones(cfg: dict, config_path: Path | None):
    return None  # no text: content features take the phones' place


def speakers(cfg: dict, config_path: Path | None) -> dict:
    count = speaker_count(cfg)
    return {"count": count, "input": "speaker_id" if count > 1 else None,
            "names": speaker_names(cfg, config_path)}


def _source_hop(cfg: dict, name: str) -> tuple:
    """(source frame shift in seconds, extractor sample rate, Amphion's source/target hop pair
    after dividing by their gcd) for one content feature, as its aligner computes them."""
    pre = preprocess(cfg)
    target = _int(pre, "hop_size")
    rate = _int(pre, "sample_rate")
    if name == "mert":
        # align_content_feature_length: mert_hop_size against a fixed target hop of 256.
        source, target = int(cfg_get(pre, "mert_hop_size", 320)), 256
        shift = cfg_get(pre, "mert_frameshit", None)
    else:
        shift = float(cfg_get(pre, f"{name}_frameshift", {"whisper": 0.01, "contentvec": 0.02,
                                                          "wenet": 0.01}[name]))
        if name in ("whisper", "wenet"):
            shift *= float(cfg_get(pre, f"{name}_downsample_rate",
                                   {"whisper": 2, "wenet": 4}[name]))
        source = int(shift * rate)
    factor = math.gcd(source, target)
    sr = cfg_get(pre, f"{name}_sample_rate", 16000)
    return (None if shift is None else float(shift)), sr, source // factor, target // factor


def extra_manifest(cfg: dict, config_path: Path | None) -> dict:
    """The svc sections: content (one entry per feature input), f0 and energy."""
    pre = preprocess(cfg)
    hop, rate = hop_length(cfg), sample_rate(cfg)
    features = []
    for name in content_features(cfg):
        shift, extractor_rate, source_hop, target_hop = _source_hop(cfg, name)
        features.append({
            "name": name, "input": f"{name}_feat", "dim": int(condition(cfg, f"{name}_dim")),
            "extractor_sample_rate": extractor_rate, "source_frame_shift_s": shift,
            "align": {"method": "amphion_resolution_transformation",
                      "source_hop": source_hop, "target_hop": target_hop},
        })
    content = {
        "frame_hop_length": hop, "frame_rate_hz": rate / hop, "min_frames": min_frames(cfg),
        "merge_mode": str(condition(cfg, "merge_mode")), "features": features,
        "alignment": "each feature is repeated source_hop times per frame, then averaged over "
                     "groups of target_hop, truncated to the model's frames or padded by "
                     "repeating the last frame (Amphion's offline_resolution_transformation)",
    }
    use_f0 = _use(cfg, "f0")
    melody_bins = int(condition(cfg, "n_bins_melody"))
    f0 = {
        "input": "f0" if use_f0 else None, "unit": "Hz", "unvoiced": 0.0,
        "extractor": cfg_get(pre, "pitch_extractor", None),
        "f0_min": float(cfg_get(pre, "f0_min")), "f0_max": float(cfg_get(pre, "f0_max")),
        "quantised": bool(use_f0 and melody_bins > 0),
        "n_bins": melody_bins if use_f0 else None,
        "uv_from_f0": bool(use_f0 and _use(cfg, "uv") and melody_bins > 0),
        "transpose": "multiply f0 by 2^(semitones/12) before the model",
    }
    use_energy = _use(cfg, "energy")
    energy_bins = int(condition(cfg, "n_bins_loudness"))
    mode = str(cfg_get(pre, "energy_extract_mode", "from_mel"))
    energy = {"input": "energy" if use_energy else None, "extract_mode": mode,
              "n_bins": energy_bins if use_energy else None}
    if use_energy and mode == "from_mel":
        energy["definition"] = ("per frame sqrt(sum over mel bins of exp(log_mel)^2), the "
                                "source's log-mel as described by mel")
        energy["mel"] = mel_description(cfg)
    return {"content": content, "f0": f0, "energy": energy}


SPEC = register(AcousticSpec(
    name="vits_svc", build=build, default_config=default_config, prepare=prepare,
    plausible=plausible, export_module=export_module, reference=reference,
    input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
    example_inputs=example_inputs, input_meanings=input_meanings,
    output_meanings=output_meanings, mel_settings=mel_settings, hop_length=hop_length,
    sample_rate=sample_rate, phones=phones, speakers=speakers, produces="waveform",
    tolerance=1e-3, compared={"audio": "max_abs", "audio_lengths": "exact"},
    task="svc", length_unit="frames", parity_lengths=parity_lengths, batch_rows=(100, 16),
    trace_length=37, derived_axes=derived_axes, extra_manifest=extra_manifest,
    coreml_obstacles=(vits_text.CORE_ML_OBSTACLE, noise.CORE_ML_OBSTACLE)))
