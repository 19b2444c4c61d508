"""Trains amphora's English voice: a four-speaker FastSpeech2 on the flite corpus.

The corpus is the reference vocoder's (`train_reference corpus`): sentences spoken by flite's
voices through amphora's English front end, each with the phones the front end gives and where
flite's voice ended each one. Targets, as Amphion's FastSpeech2 recipe computes them: the mel
(the vocoders' settings, so any of them plays it), frames per phone, and per-phone pitch (WORLD's
DIO + StoneMask, unvoiced frames interpolated) and energy (the frame's STFT magnitude norm), both
standardised over the corpus. The model is the exporter's own `fastspeech2` family, so what is
trained is exactly what `amphora-export acoustic` loads, in Amphion's experiment layout.

    python -m amphora_export.train_reference corpus        # the corpus (shared, idempotent)
    python -m amphora_export.train_voice prepare           # targets (idempotent)
    python -m amphora_export.train_voice train [--steps N] # resumes if stopped
    python -m amphora_export.train_voice measure [--vocoder CKPT]  # PESQ/STOI, held out
    python -m amphora_export.train_voice ship models/fastspeech2-flite

Seeded and resumable like the vocoder trainer: the work folder keeps the latest state and the
checkpoint with the lowest validation mel loss.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import quality
from . import train_reference as corpus
from .acoustic.fastspeech2 import FastSpeech2
from .acoustic.length_regulator import expand, padding_mask
from .acoustic.symbols import LEXICON_SYMBOLS
from .errors import ExportError

PROG = "python -m amphora_export.train_voice"
DEFAULT_WORK = corpus.DEFAULT_WORK
SPEAKERS = {voice: index for index, voice in enumerate(corpus.VOICES)}
N_BINS = 256

# Amphion's FastSpeech2 structure, narrower than its LJSpeech recipe (256 wide, 1024 filters):
# flite's speech is regular enough, the CPU trains it in hours, and it fits the model budget.
CONFIG = {
    "model_type": "FastSpeech2",
    "task_type": "tts",
    "dataset": ["flite"],
    "preprocess": {**corpus.CONFIG["preprocess"], "use_frame_pitch": False,
                   "use_frame_energy": False, "phone_extractor": "lexicon",
                   "spk2id": "spk2id.json"},
    "model": {"transformer": {"encoder_layer": 4, "encoder_head": 2, "encoder_hidden": 128,
                              "decoder_layer": 4, "decoder_head": 2, "decoder_hidden": 128,
                              "conv_filter_size": 384, "conv_kernel_size": [9, 1],
                              "encoder_dropout": 0.2, "decoder_dropout": 0.2},
              "variance_predictor": {"filter_size": 128, "kernel_size": 3, "dropout": 0.5},
              "variance_embedding": {"pitch_quantization": "linear",
                                     "energy_quantization": "linear", "n_bins": N_BINS},
              "max_seq_len": 1000, "n_speakers": len(SPEAKERS)},
    "train": {"multi_speaker_training": True},
}
MEL = corpus.MEL
SYMBOL_IDS = {symbol: index for index, symbol in enumerate(LEXICON_SYMBOLS)}

# ----------------------------------------------------------------------------- targets


def frame_durations(ends_s: list[float], frames: int) -> np.ndarray:
    """Phone end times (seconds) -> frames per phone summing to `frames`: each phone ends at the
    frame nearest its end time, the last at the mel's end."""
    rate = MEL["sample_rate"] / MEL["hop_length"]
    bounds = np.minimum(np.round(np.asarray(ends_s) * rate).astype(np.int64), frames)
    bounds[-1] = frames
    bounds = np.maximum.accumulate(bounds)
    return np.diff(bounds, prepend=0)


def frame_pitch(samples: np.ndarray, frames: int) -> np.ndarray:
    """F0 in Hz per mel frame, unvoiced frames linearly interpolated from their neighbours."""
    import pyworld  # a training-only dependency (setup installs it)

    audio = samples.astype(np.float64)
    period_ms = 1000.0 * MEL["hop_length"] / MEL["sample_rate"]
    f0, times = pyworld.dio(audio, MEL["sample_rate"], frame_period=period_ms)
    f0 = pyworld.stonemask(audio, f0, times, MEL["sample_rate"])[:frames]
    f0 = np.pad(f0, (0, frames - len(f0)), mode="edge")
    voiced = np.nonzero(f0 > 0)[0]
    if len(voiced) < 2:
        return np.zeros(frames)
    return np.interp(np.arange(frames), voiced, f0[voiced])


def per_phone(values: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """Mean of frame values over each phone's frames (0 for a phone given no frame)."""
    ends = np.cumsum(durations)
    out = np.zeros(len(durations))
    for i, (start, end) in enumerate(zip(ends - durations, ends)):
        if end > start:
            out[i] = values[start:end].mean()
    return out


def item_targets(item: dict) -> dict:
    samples, _ = quality.read_wav(item["path"])
    mel = quality.amphion_mel(samples, MEL)
    frames = mel.shape[1]
    labels = json.loads(Path(item["phones_path"]).read_text())
    phones = [phone for phone, _ in labels]
    unknown = [p for p in phones if "@" + p not in SYMBOL_IDS]
    if unknown:
        raise ExportError(f"{item['name']}: phones {unknown} are not Amphion lexicon symbols")
    durations = frame_durations([end for _, end in labels], frames)
    magnitude = quality._amphion_stft(torch.from_numpy(samples), MEL).abs()
    energy = torch.linalg.norm(magnitude, dim=0).numpy()[:frames]
    return {"name": item["name"], "speaker": SPEAKERS[item["voice"]],
            "ids": np.array([SYMBOL_IDS["@" + p] for p in phones], dtype=np.int64),
            "durations": durations, "mel": mel.numpy().T.astype(np.float32),
            "pitch": per_phone(frame_pitch(samples, frames), durations),
            "energy": per_phone(energy, durations)}


def prepare(work: Path) -> Path:
    """Targets for every split in one file, pitch and energy standardised with the training
    split's statistics, and the bin edges the variance adaptor quantises them with."""
    target = work / "voice_targets.pt"
    if target.exists():
        return target
    data, started = {}, time.time()
    for split in ("train", "valid", "test"):
        items = corpus.load_split(work, split)
        data[split] = []
        for i, item in enumerate(items):
            data[split].append(item_targets(item))
            if (i + 1) % 500 == 0:
                print(f"prepare: {split} {i + 1}/{len(items)} ({time.time() - started:.0f} s)",
                      flush=True)
    stats = {}
    for key in ("pitch", "energy"):
        values = np.concatenate([d[key][d["durations"] > 0] for d in data["train"]])
        mean, std = float(values.mean()), float(values.std())
        for split in data.values():
            for d in split:
                d[key] = ((d[key] - mean) / std).astype(np.float32)
        normalised = np.concatenate([d[key] for d in data["train"]])
        stats[key] = {"mean": mean, "std": std, "min": float(normalised.min()),
                      "max": float(normalised.max())}
    torch.save({"data": data, "stats": stats}, target)
    print(f"prepare: {sum(len(v) for v in data.values())} sentences -> {target}", flush=True)
    return target


# ----------------------------------------------------------------------------- training


def build_model(stats: dict) -> FastSpeech2:
    model = FastSpeech2(CONFIG)
    adaptor = model.variance_adaptor
    for key, bins in (("pitch", adaptor.pitch_bins), ("energy", adaptor.energy_bins)):
        bins.data = torch.linspace(stats[key]["min"], stats[key]["max"], N_BINS - 1)
    return model


def collate(batch: list[dict]) -> dict:
    def pad(key, dtype):
        longest = max(len(d[key]) for d in batch)
        out = torch.zeros((len(batch), longest, *batch[0][key].shape[1:]), dtype=dtype)
        for row, d in enumerate(batch):
            out[row, :len(d[key])] = torch.as_tensor(d[key], dtype=dtype)
        return out
    return {"ids": pad("ids", torch.long), "durations": pad("durations", torch.long),
            "pitch": pad("pitch", torch.float32), "energy": pad("energy", torch.float32),
            "mel": pad("mel", torch.float32),
            "phone_lengths": torch.tensor([len(d["ids"]) for d in batch]),
            "speaker": torch.tensor([d["speaker"] for d in batch])}


def decode(model: FastSpeech2, batch: dict, true_variance: bool) -> tuple:
    """The true durations expand the phones; pitch and energy are the true ones (training, as
    Amphion trains) or the model's own predictions. -> (mel, postnet mel, frame padding,
    source padding, (log duration, pitch, energy) predictions)."""
    adaptor = model.variance_adaptor
    src_padding = padding_mask(batch["phone_lengths"], batch["ids"])
    x = model.encoder(batch["ids"], src_padding)
    x = x + model.speaker_emb(batch["speaker"]).unsqueeze(1)
    log_duration = adaptor.duration_predictor(x, src_padding)
    pitch = adaptor.pitch_predictor(x, src_padding)
    energy = adaptor.energy_predictor(x, src_padding)
    pitch_in, energy_in = (batch["pitch"], batch["energy"]) if true_variance else (pitch, energy)
    x = x + adaptor.pitch_embedding(torch.bucketize(pitch_in, adaptor.pitch_bins))
    x = x + adaptor.energy_embedding(torch.bucketize(energy_in, adaptor.energy_bins))
    x, frames = expand(x, batch["durations"])
    frame_padding = padding_mask(frames, x)
    mel = model.mel_linear(model.decoder(x, frame_padding))
    return (mel, model.postnet(mel) + mel, frame_padding, src_padding,
            (log_duration, pitch, energy))


def teacher_forced(model: FastSpeech2, batch: dict) -> dict:
    """Amphion's training forward: the predictors are trained on the encoder's output while the
    true pitch, energy and durations drive the decoder. -> losses."""
    mel, postnet_mel, frame_padding, src_padding, predicted = decode(model, batch, True)
    log_duration, pitch, energy = predicted

    target = batch["mel"][:, :mel.shape[1]]
    frame_mask = ~frame_padding.unsqueeze(-1)
    phone_mask = ~src_padding

    def l1(pred):
        return (pred - target).abs().masked_select(frame_mask).mean()

    def mse(pred, true):
        return F.mse_loss(pred.masked_select(phone_mask), true.masked_select(phone_mask))

    losses = {"mel": l1(mel), "postnet_mel": l1(postnet_mel),
              "duration": mse(log_duration, torch.log(batch["durations"].float() + 1)),
              "pitch": mse(pitch, batch["pitch"]), "energy": mse(energy, batch["energy"])}
    losses["total"] = sum(losses.values())
    return losses


def evaluate(model: FastSpeech2, data: list[dict]) -> dict:
    model.eval()
    totals: dict = {}
    with torch.no_grad():
        for start in range(0, len(data), 16):
            for key, value in teacher_forced(model, collate(data[start:start + 16])).items():
                totals[key] = totals.get(key, 0.0) + float(value) * len(data[start:start + 16])
    model.train()
    return {key: value / len(data) for key, value in totals.items()}


def train(work: Path, steps: int, batch_size: int, peak_lr: float, seed: int, threads: int,
          checkpoint_every: int, eval_every: int, restart: bool) -> dict:
    torch.set_num_threads(threads)
    targets_path = work / "voice_targets.pt"
    if not targets_path.exists():
        raise ExportError(f"{targets_path} is missing: run `{PROG} prepare` first")
    targets = torch.load(targets_path, weights_only=False)
    train_data, valid_data = targets["data"]["train"], targets["data"]["valid"]
    print(f"train: {len(train_data)} sentences, valid: {len(valid_data)}", flush=True)

    torch.manual_seed(seed)
    model = build_model(targets["stats"]).train()
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], peak_lr,
                                  betas=(0.9, 0.98), weight_decay=0.0)
    rng = np.random.default_rng(seed)
    state_path, best_path = work / "voice_state.pt", work / "voice_best.pt"
    step, elapsed, best = 0, 0.0, {"score": math.inf}
    if state_path.exists() and not restart:
        state = torch.load(state_path, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        step, elapsed, best = state["step"], state["elapsed_s"], state["best"]
        print(f"train: resuming at step {step} ({elapsed / 60:.1f} min trained so far)",
              flush=True)

    window = []
    while step < steps:
        started = time.time()
        for group in optimiser.param_groups:
            group["lr"] = corpus.learning_rate(step, steps, peak_lr)
        batch = collate([train_data[i] for i in rng.choice(len(train_data), batch_size)])
        losses = teacher_forced(model, batch)
        optimiser.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        step += 1
        elapsed += time.time() - started
        window.append({k: float(v) for k, v in losses.items()})
        if step % 50 == 0 or step == steps:
            rate = elapsed / step
            mean = {k: np.mean([w[k] for w in window]) for k in window[0]}
            window.clear()
            print(f"step {step}/{steps}  " + "  ".join(f"{k} {v:.3f}" for k, v in mean.items())
                  + f"  {rate:.2f} s/step  eta {(steps - step) * rate / 60:.0f} min", flush=True)
        if step % eval_every == 0 or step == steps:
            scores = evaluate(model, valid_data)
            marker = ""
            if scores["postnet_mel"] < best["score"]:
                best = {"score": scores["postnet_mel"], "step": step, **scores}
                corpus.save_atomically(best_path, {"model": model.state_dict(), "step": step,
                                                   "valid": scores})
                marker = "  (best so far)"
            print(f"valid at step {step}: " + "  ".join(f"{k} {v:.3f}" for k, v in
                                                          scores.items()) + marker, flush=True)
        if step % checkpoint_every == 0 or step == steps:
            corpus.save_atomically(state_path, {
                "model": model.state_dict(), "optimiser": optimiser.state_dict(),
                "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                "step": step, "elapsed_s": elapsed, "best": best, "seed": seed,
                "batch_size": batch_size, "steps": steps})
    return {"steps": step, "elapsed_s": elapsed, "best": best}


def measure(work: Path, vocoder: str, count: int) -> dict:
    """PESQ and STOI against flite's audio of held-out (test) sentences, of the best checkpoint
    driven with flite's durations (its own pitch and energy) through a vocoder checkpoint: how
    close the voice's sound is to flite's once timing is taken out of the comparison."""
    from . import speech_measures

    targets = torch.load(work / "voice_targets.pt", weights_only=False)
    model = build_model(targets["stats"])
    model.load_state_dict(torch.load(work / "voice_best.pt", weights_only=False)["model"])
    model.eval()
    spec, cfg, generator = quality.load_generator(vocoder)
    items = {item["name"]: item for item in corpus.load_split(work, "test")}
    scores = []
    with torch.no_grad():
        for target in targets["data"]["test"][:count]:
            mel = decode(model, collate([target]), False)[1][0].T
            audio = spec.reference_audio(generator, cfg, (mel[None],)).reshape(-1).numpy()
            reference, _ = quality.read_wav(items[target["name"]]["path"])
            scores.append(speech_measures.speech_scores(reference, audio, MEL["sample_rate"]))
    return {"sentences": len(scores), "vocoder": vocoder,
            **{key: float(np.mean([s[key] for s in scores])) for key in scores[0]}}


# ----------------------------------------------------------------------------- shipping


def save_sharded(state: dict, folder: Path, max_bytes: int) -> Path:
    """`state` as safetensors shards of at most `max_bytes` beside model.safetensors.index.json,
    the layout accelerate's save_model(max_shard_size=...) writes. Returns the index."""
    import safetensors.torch

    shards, current, size = [], {}, 0
    for key, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if current and size + nbytes > max_bytes:
            shards.append(current)
            current, size = {}, 0
        current[key] = tensor.contiguous()
        size += nbytes
    shards.append(current)
    weight_map = {}
    for number, shard in enumerate(shards, 1):
        name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        safetensors.torch.save_file(shard, str(folder / name))
        weight_map.update({key: name for key in shard})
    index = folder / "model.safetensors.index.json"
    total = sum(t.numel() * t.element_size() for t in state.values())
    index.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map},
                                indent=1) + "\n")
    return index


def ship(work: Path, output: Path) -> Path:
    """The best checkpoint in Amphion's experiment layout: args.json, spk2id.json and
    checkpoint/<step>/ holding the weights in float16 (the model budget; the exporter widens
    them), sharded under 8 MB a file as accelerate shards a large model."""
    best_path, state_path = work / "voice_best.pt", work / "voice_state.pt"
    if not best_path.exists():
        raise ExportError(f"{best_path} is missing: train first (`{PROG} train`)")
    best = torch.load(best_path, weights_only=False)
    state = torch.load(state_path, weights_only=False) if state_path.exists() else {}
    FastSpeech2(CONFIG).load_state_dict(best["model"])  # strict: proves the layout
    for old in (output / "checkpoint").glob("*"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    folder = output / "checkpoint" / f"step-{best['step']:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    weights = save_sharded({k: v.half() if v.is_floating_point() else v
                            for k, v in best["model"].items()}, folder, 8 << 20)
    (output / "args.json").write_text(json.dumps(CONFIG, indent=4) + "\n")
    (output / "spk2id.json").write_text(json.dumps(SPEAKERS, indent=1) + "\n")
    (output / "training.json").write_text(json.dumps({
        "command": f"python -m amphora_export.train_reference corpus && {PROG} prepare && "
                   f"{PROG} train --steps {state.get('steps')} --batch-size {state.get('batch_size')}",
        "seed": state.get("seed"), "batch_size": state.get("batch_size"),
        "steps_trained": state.get("step"), "best_step": best["step"],
        "training_hours": round(state.get("elapsed_s", 0) / 3600, 2),
        "valid_at_best": best["valid"], "hardware": corpus.hardware(),
        "speakers": SPEAKERS, "test_sentences": corpus.TEST_SENTENCES,
        "valid_sentences": corpus.VALID_SENTENCES,
    }, indent=1) + "\n")
    return weights


def main(argv: list[str] | None = None) -> int:
    parser, commands = corpus.trainer_parser(PROG, __doc__, "corpus, targets and training state")
    commands.add_parser("prepare", help="compute the training targets (idempotent)")
    corpus.add_train_command(commands, steps=8000, batch_size=16, lr=1e-3, checkpoint_every=200,
                             eval_every=500)
    scored = commands.add_parser("measure", help="PESQ/STOI with flite's durations, held out")
    scored.add_argument("--vocoder", default="models/hifigan-flite-v1-quarter",
                        help="vocoder checkpoint (default: the reference vocoder)")
    scored.add_argument("--sentences", type=int, default=60)
    out = commands.add_parser("ship", help="write the best checkpoint as an Amphion experiment")
    out.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            print(prepare(args.work))
        elif args.command == "measure":
            print(json.dumps(measure(args.work, args.vocoder, args.sentences), indent=1))
        elif args.command == "train":
            corpus.run_train_command(train, args)
        else:
            print(ship(args.work, args.output))
    except ExportError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
