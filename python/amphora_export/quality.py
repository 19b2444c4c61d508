"""Copy-synthesis quality of a vocoder checkpoint against a Griffin-Lim baseline, and the
intelligibility of amphora's text-to-speech against flite's.

For each input wav (resampled to the model's rate if needed): Amphion's mel
(extract_mel_features, the model's mel settings) -> (a) the PyTorch generator, (b) Griffin-Lim,
64 iterations, on the mel's pseudo-inverse magnitude. Both are compared with the input by the
metrics `amphora compare` prints (src/audio/metrics.hpp), re-implemented here:
  log-mel L1   mean |logmel(input) - logmel(output)|, natural log, the model's mel settings;
  MR-STFT      mean over (512,128), (1024,256), (2048,512) of spectral convergence +
               log-magnitude L1, periodic Hann, center=True, |S| = sqrt(max(re^2+im^2, 1e-7));
and by the speech measures of speech_measures.py, which hear what magnitudes miss:
  PESQ         wide band, 16 kHz (MOS-LQO, higher is better, 4.64 at most);
  STOI         0 to 1, higher is better.
Without wavs, the inputs are held-out sentences of the training corpus (train_reference's test
split: never trained on), averaged per voice and overall.

    python -m amphora_export.quality vocoder --checkpoint models/hifigan-flite-v1-quarter \\
        --mel-magnitude [--sentences 20] [--speakers slt,rms] [--out-dir out/quality] [--json]
    python -m amphora_export.quality vocoder --checkpoint CKPT examples/speech_slt.wav
    python -m amphora_export.quality --checkpoint CKPT WAV...      # the same ("vocoder" implied)
    python -m amphora_export.quality --make-examples examples      # the two flite examples

`tts` speaks the held-out sentences with `amphora tts` (a voice and a vocoder package) and
scores them, and flite's own audio of the same sentences, by a recogniser's word error rate
(PocketSphinx); amphora's should be at most 1.5 times flite's:

    python -m amphora_export.quality tts --voice PKG --vocoder PKG [--sentences 20] [--json]
    python -m amphora_export.quality tts              # flite's audio only: the recogniser's own

No librosa/scipy: the slaney filterbank and the FFT resampler are written out below.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import ExportError
from .mel_magnitude import check_framing
from .mel_magnitude import reference as mel_magnitude_reference

PROG = "python -m amphora_export.quality"
GRIFFIN_LIM_ITERATIONS = 64
# Two baselines: Griffin & Lim's original iteration (momentum 0), and "fast Griffin-Lim"
# (Perraudin et al. 2013) with momentum 0.99, the default of librosa and torchaudio.
GRIFFIN_LIM_VARIANTS = {"griffin_lim": 0.0, "fast_griffin_lim": 0.99}
MR_STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))

# Held-out speech for the reference vocoder: flite voices (never in any vocoder's training set),
# one sentence each, synthesised at 16 kHz and resampled to the model's 22.05 kHz.
EXAMPLES = {
    "speech_slt.wav": ("slt", "The museum opens at nine, but the quiet hour before noon is "
                              "when the paintings seem to breathe."),
    "speech_rms.wav": ("rms", "Seven wooden boats drifted past the harbour lights while a "
                              "cold wind rattled the shutters."),
}
EXAMPLE_RATE = 22050


# ----------------------------------------------------------------------------- audio files

def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """16-bit PCM mono (or downmixed) wav -> float32 samples in [-1, 1), sample rate."""
    try:
        with wave.open(str(path), "rb") as source:
            if source.getsampwidth() != 2:
                raise ExportError(f"{path}: only 16-bit PCM wavs are read here")
            channels, rate = source.getnchannels(), source.getframerate()
            data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    except (wave.Error, EOFError) as e:
        raise ExportError(f"{path}: not a readable wav ({e})") from None
    samples = data.astype(np.float32).reshape(-1, channels).mean(axis=1) / 32768.0
    if samples.size == 0:
        raise ExportError(f"{path}: holds no samples")
    return samples.astype(np.float32), rate


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = np.clip(np.round(np.asarray(samples) * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as sink:
        sink.setnchannels(1)
        sink.setsampwidth(2)
        sink.setframerate(rate)
        sink.writeframes(pcm.tobytes())


def fft_resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of a whole utterance (ideal low-pass in the FFT domain)."""
    if from_rate == to_rate:
        return samples
    length = int(round(len(samples) * to_rate / from_rate))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    resized = np.zeros(length // 2 + 1, dtype=complex)
    keep = min(len(resized), len(spectrum))
    resized[:keep] = spectrum[:keep]
    return (np.fft.irfft(resized, length) * (length / len(samples))).astype(np.float32)


# ----------------------------------------------------------------------------- Amphion's mel

def _hz_to_mel(hz):
    hz = np.asarray(hz, dtype=np.float64)
    log_region = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_region, hz / (200.0 / 3))


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    log_region = 1000.0 * np.exp((math.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_region, mel * (200.0 / 3))


def slaney_filterbank(mel_cfg: dict) -> torch.Tensor:
    """librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax): slaney scale, slaney norm."""
    rate, n_fft = mel_cfg["sample_rate"], mel_cfg["n_fft"]
    fmax = mel_cfg["fmax"] if mel_cfg["fmax"] is not None else rate / 2
    fft_freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    edges = _mel_to_hz(np.linspace(_hz_to_mel(mel_cfg["fmin"]), _hz_to_mel(fmax),
                                   mel_cfg["n_mels"] + 2))
    widths = np.diff(edges)
    rising = (fft_freqs[None, :] - edges[:-2, None]) / widths[:-1, None]
    falling = (edges[2:, None] - fft_freqs[None, :]) / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return torch.from_numpy(weights.astype(np.float32))


def _amphion_stft(samples: torch.Tensor, mel_cfg: dict) -> torch.Tensor:
    """Complex [..., bins, floor(L/hop)] of samples [..., L] with Amphion's framing: reflect pad
    (n_fft-hop)/2, center=False."""
    n_fft, hop, win = mel_cfg["n_fft"], mel_cfg["hop_length"], mel_cfg["win_length"]
    pad = (n_fft - hop) // 2
    padded = F.pad(samples.reshape(-1, 1, samples.shape[-1]), (pad, pad), mode="reflect")[:, 0]
    spectrum = torch.stft(padded, n_fft, hop_length=hop, win_length=win,
                          window=torch.hann_window(win, dtype=samples.dtype,
                                                   device=samples.device),
                          center=False, normalized=False, onesided=True, return_complex=True)
    return spectrum.reshape(*samples.shape[:-1], *spectrum.shape[1:])


def amphion_mel(samples, mel_cfg: dict, filterbank: torch.Tensor | None = None) -> torch.Tensor:
    """Amphion's extract_mel_features in float32, as Amphion computes it: samples [..., L]
    (numpy or torch; torch keeps the graph, for training losses) -> [..., n_mels, frames]."""
    if not isinstance(samples, torch.Tensor):
        samples = torch.from_numpy(np.array(samples, dtype=np.float32))
    if filterbank is None:
        filterbank = slaney_filterbank(mel_cfg)
    spectrum = _amphion_stft(samples, mel_cfg)
    magnitude = torch.sqrt(spectrum.real ** 2 + spectrum.imag ** 2 + 1e-9)
    mel = torch.log(torch.clamp(filterbank @ magnitude, min=1e-5))
    if mel_cfg.get("norm"):
        mel = (mel - mel_cfg["norm"]["mean"]) / mel_cfg["norm"]["std"]
    return mel


# ----------------------------------------------------------------------------- Griffin-Lim

def _amphion_istft(spectrum: torch.Tensor, mel_cfg: dict, length: int) -> torch.Tensor:
    """Least-squares inverse of _amphion_stft (overlap-add, divided by the window envelope)."""
    n_fft, hop, win = mel_cfg["n_fft"], mel_cfg["hop_length"], mel_cfg["win_length"]
    window = F.pad(torch.hann_window(win, dtype=torch.float64),
                   ((n_fft - win) // 2, n_fft - win - (n_fft - win) // 2))
    frames = torch.fft.irfft(spectrum, n_fft, dim=0) * window[:, None]  # [n_fft, T]
    count = spectrum.shape[1]
    span = (count - 1) * hop + n_fft
    signal = F.fold(frames[None], (1, span), (1, n_fft), stride=(1, hop)).reshape(-1)
    envelope = F.fold((window ** 2)[None, :, None].expand(1, n_fft, count), (1, span),
                      (1, n_fft), stride=(1, hop)).reshape(-1)
    pad = (n_fft - hop) // 2
    signal = signal / torch.clamp(envelope, min=1e-8)
    out = torch.zeros(length, dtype=signal.dtype)
    usable = min(length, span - pad)
    out[:usable] = signal[pad:pad + usable]
    return out


def griffin_lim(mel: torch.Tensor, mel_cfg: dict, momentum: float = 0.0,
                iterations: int = GRIFFIN_LIM_ITERATIONS, seed: int = 0) -> np.ndarray:
    """Audio of frames*hop samples from a log-mel: magnitude by the filterbank's pseudo-inverse
    (negative values clipped), phase by Griffin-Lim (fast Griffin-Lim when momentum > 0) from a
    seeded random start."""
    if mel_cfg.get("norm"):
        mel = mel * mel_cfg["norm"]["std"] + mel_cfg["norm"]["mean"]
    basis = slaney_filterbank(mel_cfg).to(torch.float64)
    magnitude = torch.clamp(torch.linalg.pinv(basis) @ torch.exp(mel.to(torch.float64)), min=0)
    length = mel.shape[1] * mel_cfg["hop_length"]
    generator = torch.Generator().manual_seed(seed)
    angles = torch.exp(2j * math.pi * torch.rand(magnitude.shape, generator=generator,
                                                 dtype=torch.float64))
    previous = torch.zeros_like(angles)
    for _ in range(iterations):
        audio = _amphion_istft(magnitude * angles, mel_cfg, length)
        rebuilt = _amphion_stft(audio, mel_cfg)
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous
        angles = accelerated / torch.clamp(accelerated.abs(), min=1e-16)
        previous = rebuilt
    return _amphion_istft(magnitude * angles, mel_cfg, length).numpy().astype(np.float32)


# ----------------------------------------------------------------------------- metrics

def log_mel_l1(reference: np.ndarray, test: np.ndarray, mel_cfg: dict) -> float:
    """mean |logmel(reference) - logmel(test)| over their common prefix."""
    n = min(len(reference), len(test))
    return float((amphion_mel(reference[:n], mel_cfg) - amphion_mel(test[:n], mel_cfg))
                 .abs().mean())


def stft_magnitude(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """|STFT| of x [..., L] as the MR-STFT distance takes it: periodic Hann, center=True,
    sqrt(max(re^2 + im^2, 1e-7))."""
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, hop, n_fft, window, center=True,
                      pad_mode="reflect", return_complex=True)
    return torch.sqrt(torch.clamp(spec.real ** 2 + spec.imag ** 2, min=1e-7))


def mr_stft_distance(reference: np.ndarray, test: np.ndarray) -> dict:
    """Spectral convergence + log-magnitude L1, averaged over MR_STFT_RESOLUTIONS."""
    n = min(len(reference), len(test))
    a = torch.from_numpy(np.asarray(reference[:n], dtype=np.float64))
    b = torch.from_numpy(np.asarray(test[:n], dtype=np.float64))
    convergence, log_l1, used = 0.0, 0.0, 0
    for n_fft, hop in MR_STFT_RESOLUTIONS:
        if n_fft // 2 >= n:
            continue  # reflect padding impossible, as in the C++ metric
        mag_a, mag_b = stft_magnitude(a, n_fft, hop), stft_magnitude(b, n_fft, hop)
        convergence += float(torch.linalg.norm(mag_a - mag_b) / torch.linalg.norm(mag_a))
        log_l1 += float((torch.log(mag_a) - torch.log(mag_b)).abs().mean())
        used += 1
    if used == 0:
        raise ExportError(f"signals of {n} samples are too short for the MR-STFT distance")
    return {"spectral_convergence": convergence / used, "log_magnitude_l1": log_l1 / used,
            "distance": (convergence + log_l1) / used, "resolutions": used}


def measure(reference: np.ndarray, test: np.ndarray, mel_cfg: dict, speech: bool = True) -> dict:
    """log-mel L1 and MR-STFT; with `speech`, also wide-band PESQ and STOI (speech_measures),
    which hear what magnitude distances miss but cost about 0.5 s an utterance (the trainer's
    frequent validation leaves them out)."""
    result = {"log_mel_l1": log_mel_l1(reference, test, mel_cfg),
              "mr_stft": mr_stft_distance(reference, test)}
    if speech:
        from .speech_measures import speech_scores

        result.update(speech_scores(reference, test, mel_cfg["sample_rate"]))
    return result


# ----------------------------------------------------------------------------- evaluation

def load_generator(checkpoint: str, config: str | None = None):
    """(spec, config, generator) exactly as `amphora-export vocoder --checkpoint` loads it."""
    from .progress import Progress
    from .sources import load_source

    source, generator = load_source(None, checkpoint, config, None, [], False, 0,
                                    Progress(1, quiet=True))
    return source.spec, source.config, generator


def evaluate(checkpoint: str, wavs: list[Path], out_dir: Path | None = None,
             config: str | None = None, voices: dict | None = None,
             mel_magnitude: bool = False) -> dict:
    """Every metric of `measure` for the model and both Griffin-Lim baselines, per file and on
    average; with `voices` (str(path) -> voice), also averaged per voice. With `mel_magnitude`
    the model's audio is what `amphora-export --mel-magnitude` exports."""
    spec, cfg, generator = load_generator(checkpoint, config)
    mel_cfg = spec.mel_settings(cfg)
    if mel_magnitude:
        check_framing(mel_cfg)
    rate = mel_cfg["sample_rate"]
    systems = ["model", *GRIFFIN_LIM_VARIANTS]
    results = {"checkpoint": checkpoint, "family": spec.name, "mel": mel_cfg,
               "mel_magnitude": mel_magnitude,
               "baselines": {name: {"iterations": GRIFFIN_LIM_ITERATIONS, "momentum": momentum,
                                    "magnitude": "mel filterbank pseudo-inverse, clipped at 0"}
                             for name, momentum in GRIFFIN_LIM_VARIANTS.items()},
               "files": {}}
    for path in wavs:
        samples, source_rate = read_wav(path)
        samples = fft_resample(samples, source_rate, rate)
        mel = amphion_mel(samples, mel_cfg)
        with torch.no_grad():
            audio = spec.reference_audio(generator, cfg, (mel[None],))
            if mel_magnitude:
                audio = mel_magnitude_reference(audio, mel[None], mel_cfg).float()
            outputs = {"model": audio.reshape(-1).numpy()}
        for name, momentum in GRIFFIN_LIM_VARIANTS.items():
            outputs[name] = griffin_lim(mel, mel_cfg, momentum)
        entry = {"seconds": len(samples) / rate, "frames": int(mel.shape[1])}
        if voices:
            entry["voice"] = voices[str(path)]
        for name in systems:
            entry[name] = measure(samples, outputs[name], mel_cfg)
            if out_dir is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                label = spec.name if name == "model" else name
                write_wav(out_dir / f"{path.stem}_{label}.wav", outputs[name], rate)
        results["files"][str(path)] = entry
    files = list(results["files"].values())
    results["mean"] = _means(files, systems)
    if voices:
        results["voices"] = {voice: _means([f for f in files if f["voice"] == voice], systems)
                             for voice in dict.fromkeys(f["voice"] for f in files)}
    return results


def _means(entries: list[dict], systems: list[str]) -> dict:
    """Mean of each metric per system over entries (PESQ over the entries where it is defined)."""
    def mean(values):
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    return {name: {"sentences": len(entries),
                   "log_mel_l1": mean(e[name]["log_mel_l1"] for e in entries),
                   "mr_stft": mean(e[name]["mr_stft"]["distance"] for e in entries),
                   "pesq": mean(e[name]["pesq"] for e in entries),
                   "stoi": mean(e[name]["stoi"] for e in entries)} for name in systems}


def make_examples(directory: Path, rate: int = EXAMPLE_RATE) -> list[Path]:
    """Synthesises EXAMPLES with flite (16 kHz voices) and resamples them to `rate`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, (voice, text) in EXAMPLES.items():
            raw = Path(scratch) / name
            try:
                subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)],
                               check=True, capture_output=True, timeout=60)
            except (OSError, subprocess.CalledProcessError) as e:
                raise ExportError(f"flite failed for voice {voice}: {e} (apt-get install "
                                  "flite)") from None
            samples, source_rate = read_wav(raw)
            write_wav(directory / name, fft_resample(samples, source_rate, rate), rate)
            written.append(directory / name)
    return written


def _number(value, width: int, digits: int) -> str:
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def _table(results: dict) -> str:
    """Per file and their mean, or, for held-out sentences, per voice and all together."""
    labels = {"model": results["family"], "griffin_lim": "griffin-lim",
              "fast_griffin_lim": "fast-gl"}
    lines = [f"{'file' if 'voices' not in results else 'voice':<24} {'system':<12} "
             f"{'log-mel L1':>10} {'MR-STFT':>8} {'PESQ':>6} {'STOI':>6}"]
    if "voices" in results:
        groups = [(f"{voice} ({means['model']['sentences']})", means)
                  for voice, means in results["voices"].items()]
        groups.append((f"all ({results['mean']['model']['sentences']})", results["mean"]))
    else:
        groups = [(Path(path).name, {name: {"log_mel_l1": entry[name]["log_mel_l1"],
                                             "mr_stft": entry[name]["mr_stft"]["distance"],
                                             "pesq": entry[name]["pesq"],
                                             "stoi": entry[name]["stoi"]} for name in labels})
                  for path, entry in results["files"].items()]
        groups.append(("mean", results["mean"]))
    for name, scores in groups:
        for system, label in labels.items():
            row = scores[system]
            lines.append(f"{name:<24} {label:<12} {_number(row['log_mel_l1'], 10, 4)} "
                         f"{_number(row['mr_stft'], 8, 4)} {_number(row['pesq'], 6, 3)} "
                         f"{_number(row['stoi'], 6, 3)}")
    return "\n".join(lines) + "\n"


def _speaker_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    commands = parser.add_subparsers(dest="command", required=True)
    vocoder = commands.add_parser(
        "vocoder", help="copy synthesis by a vocoder checkpoint against Griffin-Lim (the "
        "command when none is named)")
    vocoder.add_argument("wavs", nargs="*", type=Path,
                         help="input speech (16-bit PCM wav); without any, held-out sentences "
                              "of the training corpus")
    vocoder.add_argument("--checkpoint", help="Amphion checkpoint (file or release folder)")
    vocoder.add_argument("--config", help="config, when not beside the checkpoint")
    vocoder.add_argument("--mel-magnitude", action="store_true",
                         help="the model's phase on the mel's magnitude, as amphora-export "
                              "--mel-magnitude exports it")
    vocoder.add_argument("--make-examples", type=Path, metavar="DIR",
                         help="write the flite example wavs to DIR and exit")
    tts = commands.add_parser(
        "tts", help="intelligibility: the recogniser's word error rate on `amphora tts` and on "
        "flite's own audio of held-out sentences")
    tts.add_argument("--voice", help="acoustic model package (amphora tts --voice)")
    tts.add_argument("--vocoder", help="vocoder package (amphora tts --vocoder); without "
                                       "--voice and --vocoder, only flite's audio is scored")
    for command in (vocoder, tts):
        command.add_argument("--sentences", type=int, default=20,
                             help="held-out sentences to use, cycling through the speakers "
                                  "(default 20; the split holds 60)")
        command.add_argument("--speakers", type=_speaker_list, metavar="LIST",
                             help="comma-separated corpus voices (default slt,rms,awb,kal16)")
        command.add_argument("--work", type=Path, help="the training work folder holding "
                             "corpus/ (default out/reference-train)")
        command.add_argument("--out-dir", type=Path, help="also write the outputs here")
        command.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser, {"vocoder": vocoder, "tts": tts}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("vocoder", "tts", "-h", "--help"):
        argv.insert(0, "vocoder")  # the original form: --checkpoint CKPT WAV... | --make-examples
    parser, commands = _parser()
    args = parser.parse_args(argv)
    command = commands[args.command]
    try:
        if args.command == "vocoder" and args.make_examples:
            for path in make_examples(args.make_examples):
                print(path)
            return 0
        if args.command == "vocoder" and not args.checkpoint:
            command.error("give --checkpoint (or --make-examples DIR)")
        if args.command == "tts" and (args.voice is None) != (args.vocoder is None):
            command.error("give both --voice and --vocoder, or neither (flite only)")
        from . import speech_measures, train_reference

        work = args.work or train_reference.DEFAULT_WORK
        with tempfile.TemporaryDirectory() as scratch:
            if args.command == "vocoder" and args.wavs:
                results = evaluate(args.checkpoint, args.wavs, args.out_dir, args.config,
                                   mel_magnitude=args.mel_magnitude)
            elif args.command == "vocoder":
                items = speech_measures.held_out(work, args.sentences, args.speakers, Path(scratch))
                results = evaluate(args.checkpoint, [item["path"] for item in items],
                                   args.out_dir, args.config,
                                   voices={str(item["path"]): item["voice"] for item in items},
                                   mel_magnitude=args.mel_magnitude)
            else:
                items = speech_measures.held_out(work, args.sentences, args.speakers, Path(scratch))
                results = speech_measures.evaluate_tts(items, args.voice, args.vocoder,
                                                       args.out_dir)
    except ExportError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2, default=str) + "\n")
    elif args.command == "tts":
        sys.stdout.write(speech_measures.tts_table(results))
    else:
        sys.stdout.write(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
