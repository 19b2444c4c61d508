"""Trains amphora's reference vocoders on speech synthesised locally by flite.

Nothing is downloaded: the corpus is generated sentences spoken by Debian's flite voices, the
generator is one of the exporter's own families (`hifigan`: V3's layout at half width; `vocos`:
ConvNeXt blocks and an inverse-STFT head at dim 192; `v1-adapter` and `v1-student`, below), and
the result is an Amphion release folder
(args.json + <step>.pt with generator_state_dict) that `amphora-export vocoder --checkpoint`
reads like any other.

    python -m amphora_export.train_reference corpus  [--sentences 3000]   # synthesise the data
    python -m amphora_export.train_reference train   [--steps N]          # resumes if stopped
    python -m amphora_export.train_reference train   --gan --init out/reference-train/best.pt
    python -m amphora_export.train_reference --work out/vocos-train train --family vocos
    python -m amphora_export.train_reference --work out/v1-adapter train --family v1-adapter \
        --init models/hifigan-universal-v1
    python -m amphora_export.train_reference --work out/v1-student train --family v1-student \
        --init models/hifigan-flite-v1
    python -m amphora_export.train_reference --work out/v1-student-256 train --family v1-student \
        --width 256 --init models/hifigan-flite-v1-quarter
    python -m amphora_export.train_reference ship    models/hifigan-flite-v3s

Losses: log-mel L1 + multi-resolution STFT (spectral convergence + log-magnitude L1), the two
quantities its quality bar measures, plus, for Vocos, the phase's derivatives (Losses.phase).
With --gan, HiFi-GAN's adversarial training instead (gan.py: period and scale discriminators,
least squares, feature matching, 45 x log-mel L1), usually from a generator trained the first
way (--init): each step then costs several times more. Seeded and resumable: the work folder
keeps the latest state (weights, optimisers, RNGs, step) and the checkpoint that scored best on
the validation sentences. A work folder holds one run; its corpus/ may be a link to another's.

`--family v1-adapter` fine-tunes the pretrained HiFi-GAN V1 (--init) through a low-rank adapter
(vocoder_adapter.py). `ship` then writes the adapter (2.6 MB at rank 16, against 28 MB for all of
V1 in float16), and `vocoder_adapter merge` applies it to V1 again to make the release folder.
`--family v1-student` trains V1's layout at a quarter of its width (--width), cut out of a trained
V1 (--init, the teacher) by vocoder_student.cut, and picks its checkpoint by PESQ too. Given a
narrower student as --init instead, it widens it (vocoder_student.widen): training then starts
from what that student already does rather than from a fresh cut.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from . import gan as adversarial
from . import quality, reference_model, vocoder_adapter, vocoder_student
from .checkpoint import INT8_KEY, int8_rows, load_generator_weights, packed, save_atomically
from .errors import ExportError
from .vocoders.common import finalize, mel_settings
from .vocoders.hifigan import HiFiGAN
from .vocoders.vocos import Vocos

PROG = "python -m amphora_export.train_reference"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WORK = ROOT / "out" / "reference-train"
VOICES = ("slt", "rms", "awb", "kal16")  # flite's 16 kHz voices: 2 female/male US, Scottish, diphone
TEST_SENTENCES = 60    # never trained on, never used to pick a checkpoint
VALID_SENTENCES = 20   # pick the best checkpoint
SEGMENT_FRAMES = 32
LOSS_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512), (256, 64))

# V3's layout (resblock "2", upsample 8x8x4) at 128 initial channels: 0.40 M parameters, 1.6 MB.
CONFIG = {
    "model_type": "GANVocoder",
    "task_type": "vocoder",
    "dataset": ["flite"],
    "preprocess": {"extract_mel": True, "extract_audio": True, "use_mel": True,
                   "use_audio": True, "sample_rate": 22050, "n_mel": 80, "n_fft": 1024,
                   "win_size": 1024, "hop_size": 256, "fmin": 0, "fmax": 8000},
    "model": {"generator": "hifigan",
              "hifigan": {"resblock": "2", "upsample_rates": [8, 8, 4],
                          "upsample_kernel_sizes": [16, 16, 8],
                          "upsample_initial_channel": 128,
                          "resblock_kernel_sizes": [3, 5, 7],
                          "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]]}},
    "train": {"criterions": ["mel", "mrstft"]},
    "inference": {"batch_size": 1},
}
MEL = mel_settings(CONFIG)

# Amphion's Vocos layout (ConvNeXt blocks at the frame rate, an inverse-STFT head) at dim 192:
# 2.1 M parameters, the same mel. Its head predicts magnitude and phase per frame, which
# trains far faster on a CPU than HiFi-GAN's sample-rate convs; phase is what it lacks first.
VOCOS_CONFIG = {**CONFIG,
                "model": {"generator": "vocos",
                          "vocos": {"input_channels": 80, "dim": 192, "intermediate_dim": 576,
                                    "num_layers": 8, "n_fft": 1024, "hop_size": 256,
                                    "padding": "same"}}}
# The pretrained V1 (models/hifigan-universal-v1, the same mel), adapted rather than retrained.
ADAPTER_FAMILY = "v1-adapter"
# V1's layout at a quarter of its width (128 initial channels, a sixteenth of its multiply-adds)
# or another (--width), cut out of a trained V1 (--init) or widened from a narrower student.
STUDENT_FAMILY = "v1-student"
STUDENT_WIDTH = 128
STUDENT_CONFIG = {**vocoder_student.student_config(reference_model.amphion_config(),
                                                   STUDENT_WIDTH), "dataset": ["flite"]}
CALIBRATION_SEGMENTS, CALIBRATION_FRAMES = 160, 64  # the mels the cut is fitted on
FAMILIES = {"hifigan": (HiFiGAN, CONFIG), "vocos": (Vocos, VOCOS_CONFIG),
            ADAPTER_FAMILY: (HiFiGAN, reference_model.amphion_config()),
            STUDENT_FAMILY: (HiFiGAN, STUDENT_CONFIG)}

# ----------------------------------------------------------------------------- corpus

_SUBJECTS = ["the old fisherman", "a tired student", "my neighbour", "the young doctor",
             "our teacher", "the little girl", "a tall stranger", "the baker", "her brother",
             "the mayor", "a quiet engineer", "the pilot", "his grandmother", "the gardener",
             "a nervous actor", "the shopkeeper", "everyone in the village", "the two sisters",
             "a clever fox", "the orchestra", "my cousin Robert", "the night nurse",
             "a group of hikers", "the librarian", "Professor Wallace", "the twins"]
_VERBS = ["painted", "carried", "forgot", "discovered", "repaired", "ordered", "described",
          "borrowed", "delivered", "questioned", "measured", "photographed", "hid", "opened",
          "cleaned", "sold", "counted", "noticed", "wrapped", "followed", "tested", "dropped"]
_OBJECTS = ["a yellow bicycle", "the broken clock", "three heavy boxes", "an empty bottle",
            "the secret letter", "a map of the islands", "the wooden chair", "forty apples",
            "a silver spoon", "the kitchen window", "an old radio", "the station timetable",
            "a basket of plums", "the missing key", "two paper lanterns", "the violin case",
            "a jar of honey", "the blue umbrella", "a stack of newspapers", "the garden gate"]
_PLACES = ["near the river", "in the market", "behind the church", "at the airport",
           "on the third floor", "under the bridge", "beside the harbour", "in the library",
           "at the edge of town", "inside the museum", "on a crowded train", "by the fountain"]
_TIMES = ["yesterday morning", "last winter", "on Sunday", "at midnight", "after lunch",
          "before the storm", "every Thursday", "in nineteen eighty four", "at half past seven",
          "during the holidays", "three weeks ago", "at dawn"]
_ADVERBS = ["carefully", "quickly", "without a word", "for no reason", "with great pride",
            "twice", "by accident", "in complete silence", "almost immediately", "reluctantly"]
_QUESTIONS = ["Why did {s} leave {o} {p}?", "Have you seen {o} {p}?",
              "Who {v} {o} {t}?", "Where did {s} put {o}?", "Is it true that {s} {v} {o}?"]
_STATEMENTS = ["{S} {v} {o} {p} {t}.", "{T}, {s} {v} {o} {a}.", "{S} {v} {o} {a}, {p}.",
               "{P}, {s} {v} {o}.", "I think {s} {v} {o} {t}.", "{S} {v} {o}, and then {s2} "
               "{v2} {o2}.", "It was {n} degrees when {s} {v} {o}.", "{S} never {v2} {o} {p}!",
               "Call me at {n} {n2}, said {s}.", "{S} paid {n} dollars for {o} {t}."]
_NUMBERS = ["seven", "twelve", "forty two", "ninety", "a hundred and six", "three thousand",
            "eighteen", "sixty five", "two", "eleven"]


def _sentence(rng: random.Random) -> str:
    template = rng.choice(_STATEMENTS if rng.random() < 0.8 else _QUESTIONS)
    s, s2 = rng.sample(_SUBJECTS, 2)
    words = {"s": s, "s2": s2, "v": rng.choice(_VERBS), "v2": rng.choice(_VERBS),
             "o": rng.choice(_OBJECTS), "o2": rng.choice(_OBJECTS), "p": rng.choice(_PLACES),
             "t": rng.choice(_TIMES), "a": rng.choice(_ADVERBS), "n": rng.choice(_NUMBERS),
             "n2": rng.choice(_NUMBERS)}
    words.update({k.upper(): v[0].upper() + v[1:] for k, v in list(words.items())})
    return template.format(**words)


def plan_corpus(count: int, seed: int) -> list[dict]:
    """count distinct sentences, each with a voice, speaking rate and split. The quick start's
    example sentences (quality.EXAMPLES) are excluded, so they stay held out too."""
    rng = random.Random(seed)
    excluded = {text for _, text in quality.EXAMPLES.values()}
    texts: list[str] = []
    seen = set(excluded)
    while len(texts) < count:
        text = _sentence(rng)
        if text not in seen:
            seen.add(text)
            texts.append(text)
    items = []
    for i, text in enumerate(texts):
        split = ("test" if i < TEST_SENTENCES else
                 "valid" if i < TEST_SENTENCES + VALID_SENTENCES else "train")
        items.append({"name": f"{split}_{i:05d}", "text": text, "voice": VOICES[i % len(VOICES)],
                      "stretch": round(rng.uniform(0.85, 1.2), 3), "split": split})
    return items


def amphora_binary() -> str:
    """The C++ CLI: $AMPHORA_BIN, else this checkout's build, else PATH (scripts/env.sh)."""
    for candidate in (os.environ.get("AMPHORA_BIN"), ROOT / "build" / "amphora",
                      shutil.which("amphora")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise ExportError("the amphora binary is missing: build it first (scripts/setup.sh)")


def _synthesise(item: dict, folder: Path) -> None:
    """One sentence spoken by flite through amphora's English front end (`amphora phonemize
    --record`), so that the phones a voice is trained on are the ones the front end gives it:
    the wav at the corpus rate and, beside it, the phones with their end times in seconds."""
    target = folder / f"{item['name']}.wav"
    if target.exists():
        return
    raw = folder / f".{item['name']}.raw.wav"
    try:
        result = subprocess.run([amphora_binary(), "phonemize", "--record", item["voice"],
                                 "--stretch", str(item["stretch"]), "--wav", str(raw), "--force",
                                 item["text"]], check=True, capture_output=True, text=True,
                                timeout=120)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        detail = getattr(e, "stderr", "") or e
        raise ExportError(f"flite failed for voice {item['voice']}: {detail}") from None
    labels = json.loads(result.stdout)
    samples, rate = quality.read_wav(raw)
    quality.write_wav(raw, quality.fft_resample(samples, rate, MEL["sample_rate"]),
                      MEL["sample_rate"])
    (folder / f"{item['name']}.phones.json").write_text(json.dumps(labels["phones"]) + "\n")
    os.replace(raw, target)  # the wav last: an interrupted run resumes cleanly


def make_corpus(work: Path, count: int, seed: int) -> list[dict]:
    folder = work / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    items = plan_corpus(count, seed)
    started, done = time.time(), 0
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for _ in pool.map(lambda item: _synthesise(item, folder), items):
            done += 1
            if done % 250 == 0 or done == len(items):
                print(f"corpus: {done}/{len(items)} sentences ({time.time() - started:.0f} s)",
                      flush=True)
    (folder / "manifest.json").write_text(json.dumps(
        {"seed": seed, "voices": VOICES, "sample_rate": MEL["sample_rate"], "items": items},
        indent=1) + "\n")
    return items


def load_split(work: Path, split: str) -> list[dict]:
    manifest = work / "corpus" / "manifest.json"
    if not manifest.exists():
        raise ExportError(f"{manifest} is missing: run `{PROG} corpus` first")
    items = [dict(item) for item in json.loads(manifest.read_text())["items"]
             if item["split"] == split]
    for item in items:
        item["path"] = work / "corpus" / f"{item['name']}.wav"
        item["phones_path"] = work / "corpus" / f"{item['name']}.phones.json"
    return items


# ----------------------------------------------------------------------------- training

class Losses:
    """log-mel L1 + mean over LOSS_RESOLUTIONS of (spectral convergence + log-magnitude L1)."""

    def __init__(self):
        self.filterbank = quality.slaney_filterbank(MEL)

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> dict:
        mel_l1 = (quality.amphion_mel(output, MEL, self.filterbank) -
                  quality.amphion_mel(target, MEL, self.filterbank)).abs().mean()
        stft = 0.0
        for n_fft, hop in LOSS_RESOLUTIONS:
            out = quality.stft_magnitude(output, n_fft, hop)
            ref = quality.stft_magnitude(target, n_fft, hop)
            convergence = (torch.linalg.norm(ref - out, dim=(1, 2)) /
                           torch.linalg.norm(ref, dim=(1, 2))).mean()
            stft = stft + convergence + (ref.log() - out.log()).abs().mean()
        stft = stft / len(LOSS_RESOLUTIONS)
        return {"total": mel_l1 + stft, "mel_l1": mel_l1, "mr_stft": stft}

    @staticmethod
    def phase(real: torch.Tensor, imag: torch.Tensor, target_audio: torch.Tensor) -> torch.Tensor:
        """For a generator that predicts its spectrum (Vocos): the phase's derivatives against
        the target's (APNet's group delay and instantaneous frequency, anti-wrapped), weighted by
        the target's magnitude. They fix how phase runs across bins and frames, not its
        absolute value, which depends on where the glottal pulses fall and the mel cannot
        tell. Edge frames, computed from reflected audio, are left out."""
        target = quality._amphion_stft(target_audio, MEL)[..., 2:-2]
        predicted = torch.atan2(imag, real)[..., 2:-2]
        actual = torch.angle(target)
        weight = target.abs()
        weight = weight / weight.mean(dim=(1, 2), keepdim=True)

        def wrapped(x):
            return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()

        frequency = wrapped(torch.diff(predicted, dim=2) - torch.diff(actual, dim=2))
        delay = wrapped(torch.diff(predicted, dim=1) - torch.diff(actual, dim=1))
        return (frequency * weight[..., 1:]).mean() + (delay * weight[:, 1:]).mean()


def generate(generator, losses: Losses, mels: torch.Tensor, audio: torch.Tensor):
    """The generator's audio [B, 1, T] and, for one that predicts a spectrum, its phase loss."""
    if not hasattr(generator, "spectrum"):
        return generator(mels), None
    real, imag = generator.spectrum(mels)
    return generator.from_spectrum(real, imag), losses.phase(real, imag, audio)


def _load_audio_and_mels(items: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    loaded = []
    for item in items:
        samples, _ = quality.read_wav(item["path"])
        loaded.append((samples, quality.amphion_mel(samples, MEL).numpy()))
    return loaded


def _batch(data, rng: np.random.Generator, size: int, frames: int = SEGMENT_FRAMES):
    """Random windows of `frames`: mel frames [f, f+F) and the samples they produce."""
    hop = MEL["hop_length"]
    lengths = np.array([max(0, mel.shape[1] - frames) for _, mel in data], dtype=np.float64)
    chosen = rng.choice(len(data), size=size, p=lengths / lengths.sum())
    mels, audio = [], []
    for index in chosen:
        samples, mel = data[index]
        start = int(rng.integers(0, mel.shape[1] - frames + 1))
        mels.append(mel[:, start:start + frames])
        audio.append(samples[start * hop:(start + frames) * hop])
    return torch.from_numpy(np.stack(mels)), torch.from_numpy(np.stack(audio))


def learning_rate(step: int, steps: int, peak: float) -> float:
    """Linear warm-up over 200 steps, then cosine decay to 5 % of the peak."""
    if step < 200:
        return peak * (step + 1) / 200
    progress = min(1.0, (step - 200) / max(1, steps - 200))
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def evaluate_items(generator, data, speech: bool = False) -> dict:
    """Mean log-mel L1 and MR-STFT distance (quality.measure) of whole-utterance copy synthesis;
    with `speech`, also PESQ and STOI (about 0.5 s an utterance)."""
    generator.eval()
    scores = []
    with torch.no_grad():
        for samples, mel in data:
            audio = generator(torch.from_numpy(mel)[None]).reshape(-1).numpy()
            result = quality.measure(samples, audio, MEL, speech=speech)
            scores.append([result["log_mel_l1"], result["mr_stft"]["distance"]] +
                          ([result["pesq"], result["stoi"]] if speech else []))
    generator.train()
    means = [float(m) for m in np.mean(scores, axis=0)]
    return dict(zip(("log_mel_l1", "mr_stft", "pesq", "stoi"), means))


def _start_student(init: Path, train_data, seed: int, config: dict):
    """A STUDENT_FAMILY generator of `config` made from the V1-layout release in `init`: cut
    out of a wider one (a teacher), widened from a narrower one (a student trained before,
    computing exactly what it computed), or that one itself at the same width."""
    spec, init_config, source = quality.load_generator(str(init))
    if (spec.name != "hifigan" or mel_settings(init_config) != MEL or
            vocoder_student.student_config(init_config, STUDENT_WIDTH)["model"] !=
            STUDENT_CONFIG["model"]):
        raise ExportError(f"{init} is not a HiFi-GAN V1 with the corpus's mel "
                          f"(what {STUDENT_FAMILY} starts from)")
    width = config["model"]["hifigan"]["upsample_initial_channel"]
    source_width = init_config["model"]["hifigan"]["upsample_initial_channel"]
    started = time.time()
    if source_width > width:
        mels, _ = _batch(train_data, np.random.default_rng(seed), CALIBRATION_SEGMENTS,
                         CALIBRATION_FRAMES)
        student = vocoder_student.cut(source, config, mels, seed)
        how = "cut out of"
    elif source_width < width:
        student, how = vocoder_student.widen(source, config, seed), "widened from"
    else:
        student, how = source, "started from"
    print(f"train: student of width {width} {how} {init} (width {source_width}) in "
          f"{time.time() - started:.0f} s", flush=True)
    return student


def train(work: Path, steps: int, batch_size: int, peak_lr: float, seed: int, threads: int,
          checkpoint_every: int, eval_every: int, restart: bool, gan: bool = False,
          disc_width: float = 1.0, init: Path | None = None, family: str = "hifigan",
          rank: int = 8, width: int | None = None) -> dict:
    torch.set_num_threads(threads)
    train_data = _load_audio_and_mels(load_split(work, "train"))
    valid_data = _load_audio_and_mels(load_split(work, "valid"))
    if not train_data:
        raise ExportError(f"{work}/corpus has no training sentences")
    print(f"train: {len(train_data)} sentences "
          f"({sum(len(a) for a, _ in train_data) / MEL['sample_rate'] / 3600:.2f} h), "
          f"valid: {len(valid_data)}", flush=True)

    state_path, best_path = work / "state.pt", work / "best.pt"
    state = (torch.load(state_path, weights_only=False)
             if state_path.exists() and not restart else None)
    if state is not None and state.get("family", "hifigan") != family:
        raise ExportError(f"{work} holds a {state.get('family', 'hifigan')} run, not {family}: "
                          "pass that --family, --restart, or another --work")
    generator_class, config = FAMILIES[family]
    if family == STUDENT_FAMILY:
        config = (state["config"] if state is not None else
                  vocoder_student.student_config(STUDENT_CONFIG, width or STUDENT_WIDTH))
        trained_width = config["model"]["hifigan"]["upsample_initial_channel"]
        if width is not None and width != trained_width:
            raise ExportError(f"{work} holds a student of width {trained_width}, not {width}: "
                              "leave --width out to resume it, or pass --restart")
    if mel_settings(config) != MEL:
        raise ExportError(f"--family {family} takes another mel than the corpus's")
    torch.manual_seed(seed)
    generator = generator_class(config).train()
    if family == STUDENT_FAMILY and state is None:
        if init is None:
            raise ExportError(f"--family {STUDENT_FAMILY} is cut out of a trained V1: pass "
                              "--init models/hifigan-flite-v1")
        generator = _start_student(init, train_data, seed, config).train()
    elif state is None and init is not None:
        generator.load_state_dict(load_generator_weights(init))  # strict: the same layout
        print(f"train: generator initialised from {init}", flush=True)
    if family == ADAPTER_FAMILY:
        if state is None and init is None:
            raise ExportError(f"--family {ADAPTER_FAMILY} adapts a pretrained V1: pass --init "
                              "models/hifigan-universal-v1")
        rank = state.get("rank", rank) if state is not None else rank
        trained = vocoder_adapter.attach(generator, rank, seed)
    else:
        trained = list(generator.parameters())
    optimiser = torch.optim.AdamW(trained, peak_lr, betas=(0.8, 0.99))
    discriminators = adversarial.Discriminators(disc_width).train() if gan else None
    disc_optimiser = (torch.optim.AdamW(discriminators.parameters(), peak_lr, betas=(0.8, 0.99))
                      if gan else None)
    rng = np.random.default_rng(seed)
    losses = Losses()
    step, elapsed, best = 0, 0.0, {"score": math.inf}
    if state is not None:
        generator.load_state_dict(state["generator"])
        optimiser.load_state_dict(state["optimiser"])
        if gan and "discriminators" in state:
            discriminators.load_state_dict(state["discriminators"])
            disc_optimiser.load_state_dict(state["disc_optimiser"])
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        step, elapsed, best = state["step"], state["elapsed_s"], state["best"]
        init = Path(state["init"]) if state.get("init") else None  # what the run started from
        print(f"train: resuming at step {step} ({elapsed / 60:.1f} min trained so far)",
              flush=True)

    def checkpoint():
        state = {"generator": generator.state_dict(), "optimiser": optimiser.state_dict(),
                 "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                 "step": step, "elapsed_s": elapsed, "best": best, "config": config,
                 "family": family,
                 "seed": seed, "batch_size": batch_size, "steps": steps, "gan": gan,
                 "peak_lr": peak_lr, "disc_width": disc_width, "rank": rank,
                 "init": str(init) if init else None}
        if gan:
            state["discriminators"] = discriminators.state_dict()
            state["disc_optimiser"] = disc_optimiser.state_dict()
        save_atomically(state_path, state)

    def adversarial_step(mels, audio) -> dict:
        """One discriminator step, then one generator step on the same batch."""
        fake, phase = generate(generator, losses, mels, audio)
        real = audio[:, None]
        disc_loss = adversarial.discriminator_loss(discriminators(real),
                                                   discriminators(fake.detach()))
        disc_optimiser.zero_grad(set_to_none=True)
        disc_loss.backward()
        disc_optimiser.step()
        spectral = losses(fake.squeeze(1), audio)
        with torch.no_grad():
            real_scores = discriminators(real)
        fake_scores = discriminators(fake)
        adv = adversarial.generator_loss(fake_scores)
        matching = adversarial.feature_matching(real_scores, fake_scores)
        total = adv + 2 * matching + 45 * spectral["mel_l1"] + (0 if phase is None else phase)
        return {**spectral, "total": total, "adv": adv, "disc": disc_loss}

    def validate():
        """Scores the generator on the validation sentences; keeps it as best.pt if it wins.
        Adversarial training trades a little magnitude for phase: there PESQ picks the best."""
        nonlocal best
        by_pesq = gan or family in (ADAPTER_FAMILY, STUDENT_FAMILY)  # there to win on PESQ
        scores = evaluate_items(generator, valid_data, speech=by_pesq)
        score = -scores["pesq"] if by_pesq else scores["log_mel_l1"] + scores["mr_stft"]
        marker = ""
        if score < best["score"]:
            best = {"score": score, "step": step, **scores}
            save_atomically(best_path, {"generator_state_dict": generator.state_dict(),
                                        "step": step, "valid": scores, "family": family,
                                        "rank": rank, "config": config})
            marker = "  (best so far)"
        speech = f"  PESQ {scores['pesq']:.3f}  STOI {scores['stoi']:.3f}" if by_pesq else ""
        print(f"valid at step {step}: log-mel L1 {scores['log_mel_l1']:.4f}  "
              f"MR-STFT {scores['mr_stft']:.4f}{speech}{marker}", flush=True)

    if step == 0 and init is not None:
        validate()  # the starting point: training must beat it to replace it in best.pt
    window = []
    while step < steps:
        started = time.time()
        for group in optimiser.param_groups + (disc_optimiser.param_groups if gan else []):
            group["lr"] = learning_rate(step, steps, peak_lr)
        mels, audio = _batch(train_data, rng, batch_size)
        if gan:
            loss = adversarial_step(mels, audio)
        else:
            fake, phase = generate(generator, losses, mels, audio)
            loss = losses(fake.squeeze(1), audio)
            if phase is not None:
                loss["total"] = loss["total"] + phase
        optimiser.zero_grad(set_to_none=True)
        loss["total"].backward()
        torch.nn.utils.clip_grad_norm_(trained, 10.0)
        optimiser.step()
        step += 1
        elapsed += time.time() - started
        window.append([float(loss[k]) for k in ("mel_l1", "mr_stft", "adv", "disc") if k in loss])
        if step % 50 == 0 or step == steps:
            rate = elapsed / step
            means = np.mean(window, axis=0)
            window.clear()
            gan_part = f"  G adv {means[2]:.3f}  D {means[3]:.3f}" if gan else ""
            print(f"step {step}/{steps}  mel L1 {means[0]:.4f}  MR-STFT {means[1]:.4f}{gan_part}  "
                  f"lr {optimiser.param_groups[0]['lr']:.2e}  {rate:.2f} s/step  "
                  f"eta {(steps - step) * rate / 60:.0f} min", flush=True)
        if step % eval_every == 0 or step == steps:
            validate()
        if step % checkpoint_every == 0 or step == steps:
            checkpoint()
    return {"steps": step, "elapsed_s": elapsed, "best": best}


# ----------------------------------------------------------------------------- shipping

def hardware() -> str:
    """What trained it: CPU model, core count, torch version."""
    name = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores, CPU only, torch {torch.__version__}"


def ship(work: Path, output: Path, float16: bool = False, int8: bool = False) -> Path:
    """The best checkpoint as an Amphion release folder: args.json + <step>.pt + training.json.
    With float16 the weights are stored in half precision, with int8 as int8 rows with a scale
    each (checkpoint.int8_rows), for the repository's model budget; the exporter widens them to
    float32 as it loads them."""
    best_path, state_path = work / "best.pt", work / "state.pt"
    if not best_path.exists():
        raise ExportError(f"{best_path} is missing: train first (`{PROG} train`)")
    best = torch.load(best_path, weights_only=False)
    state = torch.load(state_path, weights_only=False) if state_path.exists() else {}
    family = best.get("family", "hifigan")
    generator_class, config = FAMILIES[family]
    config = best.get("config", config)
    width = (config["model"]["hifigan"]["upsample_initial_channel"]
             if family == STUDENT_FAMILY else None)
    generator = generator_class(config)
    if family == ADAPTER_FAMILY:
        vocoder_adapter.attach(generator, best["rank"])
    generator.load_state_dict(best["generator_state_dict"])  # strict: proves the layout
    output.mkdir(parents=True, exist_ok=True)
    for old in output.glob("*.pt"):
        old.unlink()
    if family == ADAPTER_FAMILY:
        vocoder_adapter.save(output, generator, best["step"], Path(state["init"]))
        weights = vocoder_adapter.make_release(Path(state["init"]), output)
    else:
        finalize(generator)
        weights = output / f"{best['step']}.pt"
        weights_dict = {k: v.half() if float16 and v.is_floating_point() else v
                        for k, v in generator.state_dict().items()}
        if int8:
            stored = {INT8_KEY: int8_rows(weights_dict)}
        else:
            stored = {"generator_state_dict": packed(weights_dict) if float16 else weights_dict}
        save_atomically(weights, {**stored, "step": best["step"]})
        (output / "args.json").write_text(json.dumps(config, indent=4) + "\n")
    (output / "training.json").write_text(json.dumps({
        "command": f"{PROG} corpus && {PROG} train --steps {state.get('steps')}"
                   + (f" --family {state['family']}" if state.get("family") else "")
                   + (f" --batch-size {state['batch_size']}" if state.get("batch_size") else "")
                   + (f" --lr {state['peak_lr']}" if state.get("peak_lr") else "")
                   + (f" --rank {state['rank']}" if family == ADAPTER_FAMILY else "")
                   + (f" --width {width}" if width not in (None, STUDENT_WIDTH) else "")
                   + (f" --gan --disc-width {state['disc_width']}" if state.get("gan") else "")
                   + (f" --init {state['init']}" if state.get("init") else ""),
        "seed": state.get("seed"), "batch_size": state.get("batch_size"),
        "storage": "float16 adapter" if family == ADAPTER_FAMILY else
                   "int8 rows, a float16 scale each" if int8 else
                   "float16" if float16 else "float32",
        "segment_frames": SEGMENT_FRAMES, "loss_resolutions": LOSS_RESOLUTIONS,
        "steps_trained": state.get("step"), "best_step": best["step"],
        "training_hours": round(state.get("elapsed_s", 0) / 3600, 2),
        "valid_at_best": best["valid"],
        "hardware": hardware(),
        "voices": VOICES, "test_sentences": TEST_SENTENCES, "valid_sentences": VALID_SENTENCES,
    }, indent=1) + "\n")
    return weights


def trainer_parser(prog: str, doc: str, work_help: str) -> tuple:
    """The command line both trainers share: --work, --seed and the subcommands' parser."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(doc.split("\n\n")[1:]))
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK,
                        help=f"{work_help} (default {DEFAULT_WORK})")
    parser.add_argument("--seed", type=int, default=1234)
    return parser, parser.add_subparsers(dest="command", required=True)


def add_train_command(commands, steps: int, batch_size: int, lr: float, checkpoint_every: int,
                      eval_every: int):
    """`train`, with the options both trainers take (train()'s arguments); returns its parser."""
    run = commands.add_parser("train", help="train, resuming from the work folder's state")
    run.add_argument("--steps", type=int, default=steps)
    run.add_argument("--batch-size", type=int, default=batch_size)
    run.add_argument("--lr", type=float, default=lr, help="peak learning rate")
    run.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    run.add_argument("--checkpoint-every", type=int, default=checkpoint_every)
    run.add_argument("--eval-every", type=int, default=eval_every)
    run.add_argument("--restart", action="store_true", help="ignore a saved state, start over")
    return run


def run_train_command(train_function, args, **extra) -> None:
    result = train_function(args.work, args.steps, args.batch_size, args.lr, args.seed,
                            args.threads, args.checkpoint_every, args.eval_every, args.restart,
                            **extra)
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser, commands = trainer_parser(PROG, __doc__, "corpus and training state")
    corpus = commands.add_parser("corpus", help="synthesise the flite corpus (idempotent)")
    corpus.add_argument("--sentences", type=int, default=3000)
    run = add_train_command(commands, steps=14000, batch_size=16, lr=5e-4,
                            checkpoint_every=250, eval_every=1000)
    run.add_argument("--family", choices=sorted(FAMILIES), default="hifigan",
                     help="the generator: hifigan (V3's layout at half width), vocos (dim 192, "
                          "with phase-derivative losses), v1-adapter (the pretrained V1 given "
                          "by --init, fine-tuned through a low-rank adapter) or v1-student (V1's "
                          "layout at --width, made from the V1 or student given by --init)")
    run.add_argument("--rank", type=int, default=8,
                     help="--family v1-adapter: the adapter's rank (default 8)")
    run.add_argument("--width", type=int,
                     help=f"--family v1-student: its initial channels, a multiple of 16 below "
                          f"V1's 512 (default {STUDENT_WIDTH}, a quarter of V1's; a resumed run "
                          "keeps its own)")
    run.add_argument("--gan", action="store_true",
                     help="train adversarially with HiFi-GAN's discriminators (see gan.py)")
    run.add_argument("--disc-width", type=float, default=1.0,
                     help="--gan: scale of the discriminators' channels (1.0: HiFi-GAN's)")
    run.add_argument("--init", type=Path,
                     help="start the generator from this checkpoint (a release folder or a .pt) "
                          "when the work folder has no state; for v1-adapter, the V1 to adapt; "
                          "for v1-student, the V1 to cut it from or a narrower student to widen")
    out = commands.add_parser("ship", help="write the best checkpoint as a release folder")
    out.add_argument("output", type=Path)
    storage = out.add_mutually_exclusive_group()
    storage.add_argument("--float16", action="store_true",
                         help="store the weights in half precision (half the size)")
    storage.add_argument("--int8", action="store_true",
                         help="store the weights as int8 rows with a float16 scale each (a "
                              "quarter of the size; a HiFi-GAN loses about 0.02 PESQ)")
    args = parser.parse_args(argv)
    try:
        if args.command == "corpus":
            if args.sentences < TEST_SENTENCES + VALID_SENTENCES + 1:
                parser.error(f"--sentences must exceed {TEST_SENTENCES + VALID_SENTENCES} "
                             "(the held-out test and validation sentences)")
            make_corpus(args.work, args.sentences, args.seed)
        elif args.command == "train":
            if args.disc_width <= 0:
                parser.error("--disc-width must be positive")
            if args.rank < 1:
                parser.error("--rank must be at least 1")
            if args.width is not None and (args.width % 16 or not 16 <= args.width < 512):
                parser.error("--width must be a multiple of 16 from 16 to 496")
            run_train_command(train, args, gan=args.gan, disc_width=args.disc_width,
                              init=args.init, family=args.family, rank=args.rank,
                              width=args.width)
        else:
            print(ship(args.work, args.output, args.float16, args.int8))
    except ExportError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
