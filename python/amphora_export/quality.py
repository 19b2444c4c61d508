"""Copy-synthesis quality of a vocoder checkpoint against a Griffin-Lim baseline.

For each input wav (resampled to the model's rate if needed): Amphion's mel
(extract_mel_features, the model's mel settings) -> (a) the PyTorch generator, (b) Griffin-Lim,
64 iterations, on the mel's pseudo-inverse magnitude. Both are compared with the input by the
metrics `amphora compare` prints (src/audio/metrics.hpp), re-implemented here:
  log-mel L1   mean |logmel(input) - logmel(output)|, natural log, the model's mel settings;
  MR-STFT      mean over (512,128), (1024,256), (2048,512) of spectral convergence +
               log-magnitude L1, periodic Hann, center=True, |S| = sqrt(max(re^2+im^2, 1e-7)).

    python -m amphora_export.quality --checkpoint models/hifigan-flite-small \\
        examples/speech_slt.wav examples/speech_rms.wav [--out-dir out/quality] [--json]
    python -m amphora_export.quality --make-examples examples   # the two flite examples

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


def measure(reference: np.ndarray, test: np.ndarray, mel_cfg: dict) -> dict:
    return {"log_mel_l1": log_mel_l1(reference, test, mel_cfg),
            "mr_stft": mr_stft_distance(reference, test)}


# ----------------------------------------------------------------------------- evaluation

def load_generator(checkpoint: str, config: str | None = None):
    """(spec, config, generator) exactly as `amphora-export vocoder --checkpoint` loads it."""
    from .progress import Progress
    from .sources import load_source

    source, generator = load_source(None, checkpoint, config, None, [], False, 0,
                                    Progress(1, quiet=True))
    return source.spec, source.config, generator


def evaluate(checkpoint: str, wavs: list[Path], out_dir: Path | None = None,
             config: str | None = None) -> dict:
    spec, cfg, generator = load_generator(checkpoint, config)
    mel_cfg = spec.mel_settings(cfg)
    rate = mel_cfg["sample_rate"]
    systems = ["model", *GRIFFIN_LIM_VARIANTS]
    results = {"checkpoint": checkpoint, "family": spec.name, "mel": mel_cfg,
               "baselines": {name: {"iterations": GRIFFIN_LIM_ITERATIONS, "momentum": momentum,
                                    "magnitude": "mel filterbank pseudo-inverse, clipped at 0"}
                             for name, momentum in GRIFFIN_LIM_VARIANTS.items()},
               "files": {}}
    for path in wavs:
        samples, source_rate = read_wav(path)
        samples = fft_resample(samples, source_rate, rate)
        mel = amphion_mel(samples, mel_cfg)
        with torch.no_grad():
            outputs = {"model": spec.reference_audio(generator, cfg, (mel[None],))
                       .reshape(-1).numpy()}
        for name, momentum in GRIFFIN_LIM_VARIANTS.items():
            outputs[name] = griffin_lim(mel, mel_cfg, momentum)
        entry = {"seconds": len(samples) / rate, "frames": int(mel.shape[1])}
        for name in systems:
            entry[name] = measure(samples, outputs[name], mel_cfg)
            if out_dir is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                label = spec.name if name == "model" else name
                write_wav(out_dir / f"{path.stem}_{label}.wav", outputs[name], rate)
        results["files"][str(path)] = entry
    results["mean"] = {name: {
        "log_mel_l1": float(np.mean([f[name]["log_mel_l1"] for f in results["files"].values()])),
        "mr_stft": float(np.mean([f[name]["mr_stft"]["distance"]
                                  for f in results["files"].values()]))} for name in systems}
    return results


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


def _table(results: dict) -> str:
    labels = {"model": results["family"], "griffin_lim": "griffin-lim",
              "fast_griffin_lim": "fast-gl"}
    lines = [f"{'file':<24} {'system':<12} {'log-mel L1':>10} {'MR-STFT':>8}"]
    rows = [(Path(p).name, entry) for p, entry in results["files"].items()]
    for name, entry in rows + [("mean", None)]:
        for system, label in labels.items():
            if entry is None:
                l1, mr = results["mean"][system]["log_mel_l1"], results["mean"][system]["mr_stft"]
            else:
                l1, mr = entry[system]["log_mel_l1"], entry[system]["mr_stft"]["distance"]
            lines.append(f"{name:<24} {label:<12} {l1:>10.4f} {mr:>8.4f}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("wavs", nargs="*", type=Path, help="input speech (16-bit PCM wav)")
    parser.add_argument("--checkpoint", help="Amphion checkpoint (file or release folder)")
    parser.add_argument("--config", help="config, when not beside the checkpoint")
    parser.add_argument("--out-dir", type=Path, help="also write the copy syntheses here")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--make-examples", type=Path, metavar="DIR",
                        help="write the flite example wavs to DIR and exit")
    args = parser.parse_args(argv)
    try:
        if args.make_examples:
            for path in make_examples(args.make_examples):
                print(path)
            return 0
        if not args.checkpoint or not args.wavs:
            parser.error("give --checkpoint and at least one wav (or --make-examples DIR)")
        results = evaluate(args.checkpoint, args.wavs, args.out_dir, args.config)
    except ExportError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(results, indent=2) + "\n" if args.json else _table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
