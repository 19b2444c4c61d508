"""Speech measures the field reports, beside quality.py's spectral distances.

log-mel L1 and MR-STFT compare magnitudes only, which is what Griffin-Lim optimises, so they
cannot say whether a vocoder or a voice sounds right or can be understood. Here:
  PESQ     ITU-T P.862.2 wide band (16 kHz), MOS-LQO from about 1.0 to 4.64 (PyPI `pesq`);
  STOI     short-time objective intelligibility, 0 to 1 (PyPI `pystoi`);
  WER      word error rate of a real recogniser, PocketSphinx 5 with the US English acoustic
           model, dictionary and language model it ships (nothing is downloaded).
PESQ and STOI need the test signal time-aligned with its reference; both are resampled to 16 kHz
(quality.fft_resample) and trimmed to their common length. WER needs only the text.

Also here, for quality.py's commands: the held-out sentences both commands score (the flite
corpus's test split), and the intelligibility check of `amphora tts` against flite's own audio.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import quality
from .errors import ExportError

RATE = 16000  # PESQ's wide band mode, and the rate of PocketSphinx's acoustic model


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    return quality.fft_resample(np.asarray(samples, dtype=np.float32), rate, RATE)


def align(reference: np.ndarray, test: np.ndarray,
          max_lag: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The two signals over their common span. With max_lag > 0, test is first shifted by the
    lag (|lag| <= max_lag samples) that maximises its cross-correlation with the reference: for
    systems with a delay. Copy synthesis from a mel is sample-aligned by construction, so the
    default only trims to the shorter length."""
    reference = np.asarray(reference, dtype=np.float32)
    test = np.asarray(test, dtype=np.float32)
    if max_lag > 0:
        size = 1 << int(np.ceil(np.log2(len(reference) + len(test))))
        correlation = np.fft.irfft(np.fft.rfft(test, size) * np.conj(np.fft.rfft(reference, size)),
                                   size)
        lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
        lag = int(lags[np.argmax(correlation[lags])])
        test = test[lag:] if lag > 0 else np.concatenate([np.zeros(-lag, np.float32), test])
    n = min(len(reference), len(test))
    return reference[:n], test[:n]


def pesq_wb(reference: np.ndarray, test: np.ndarray, rate: int, max_lag: int = 0):
    """Wide-band PESQ (MOS-LQO) of test against reference, both at `rate`; None when PESQ finds
    no speech in them (it refuses silence and pure noise)."""
    from pesq import PesqError, pesq

    ref, deg = align(to_16k(reference, rate), to_16k(test, rate), max_lag)
    try:
        return float(pesq(RATE, ref, deg, "wb"))
    except PesqError:
        return None


def stoi(reference: np.ndarray, test: np.ndarray, rate: int, max_lag: int = 0) -> float:
    """STOI of test against reference (classic, not extended), both at `rate`."""
    from pystoi import stoi as pystoi

    ref, deg = align(to_16k(reference, rate), to_16k(test, rate), max_lag)
    return float(pystoi(ref.astype(np.float64), deg.astype(np.float64), RATE, extended=False))


def speech_scores(reference: np.ndarray, test: np.ndarray, rate: int) -> dict:
    """PESQ and STOI, as quality.measure reports them."""
    return {"pesq": pesq_wb(reference, test, rate), "stoi": stoi(reference, test, rate)}


# ----------------------------------------------------------------------------- recogniser

def transcribe(samples: np.ndarray, rate: int) -> str:
    """PocketSphinx's best hypothesis for one whole utterance, in lower case.

    A fresh decoder per utterance: its default cepstral mean normalisation is "live", carried
    from one utterance to the next, and a fresh one makes each transcript independent of what
    was decoded before it (setting it up takes about 0.3 s)."""
    from pocketsphinx import Decoder

    audio = to_16k(samples, rate)
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2").tobytes()
    decoder = Decoder(samprate=RATE)
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr.lower() if hypothesis is not None else ""


# The recogniser's dictionary holds both spellings of these words with one pronunciation, so it
# writes either; a spelling is not a recognition error.
SPELLINGS = {"neighbour": "neighbor", "harbour": "harbor", "colour": "color",
             "favourite": "favorite", "centre": "center", "theatre": "theater", "grey": "gray"}


def normalise(text: str) -> list[str]:
    """Words for scoring: lower case, punctuation removed (apostrophes inside words kept, as the
    recogniser's dictionary spells "don't"), alternate-pronunciation marks "(2)" dropped,
    British spellings (SPELLINGS) made American."""
    text = re.sub(r"\(\d+\)", " ", text.lower())
    text = re.sub(r"[^a-z0-9']+", " ", text)
    words = [word.strip("'") for word in text.split() if word.strip("'")]
    return [SPELLINGS.get(word, word) for word in words]


def word_errors(reference: str, hypothesis: str) -> dict:
    """Levenshtein alignment of the normalised words: substitutions, deletions, insertions and
    the reference's word count. Among alignments of least cost, one is taken deterministically;
    the total is the same for all of them."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    rows, cols = len(ref) + 1, len(hyp) + 1
    cost = np.zeros((rows, cols), dtype=np.int64)
    cost[:, 0] = np.arange(rows)
    cost[0, :] = np.arange(cols)
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i, j] = min(cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]),
                             cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    counts = {"substitutions": 0, "deletions": 0, "insertions": 0}
    i, j = len(ref), len(hyp)
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            counts["substitutions"] += int(ref[i - 1] != hyp[j - 1])
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            counts["deletions"] += 1
            i -= 1
        else:
            counts["insertions"] += 1
            j -= 1
    return {**counts, "errors": int(cost[-1, -1]), "words": len(ref)}


def word_error_rate(reference_text: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words; can exceed 1."""
    counts = word_errors(reference_text, hypothesis)
    if counts["words"] == 0:
        raise ValueError("the reference text has no words")
    return counts["errors"] / counts["words"]


# ----------------------------------------------------------------------------- held-out sentences

# train_reference's default corpus: the plan that gives the corpus's test sentences (the first
# TEST_SENTENCES are the same for any size; each one's speaking rate depends on the size too).
CORPUS_SENTENCES = 3000
CORPUS_SEED = 1234


def held_out(work: Path, count: int, speakers: list[str] | None, scratch: Path) -> list[dict]:
    """The first `count` sentences of the training corpus's test split spoken by `speakers`:
    never trained on, never used to pick a checkpoint. The split cycles through the voices, so
    12 sentences of four voices are three each. Items carry text, voice and path (a 22.05 kHz
    flite wav). Without the corpus, its test sentences are planned as `train_reference corpus`
    plans them and synthesised the same way (flite through amphora's front end) into scratch."""
    from . import train_reference as tr

    speakers = list(speakers or tr.VOICES)
    unknown = sorted(set(speakers) - set(tr.VOICES))
    if unknown:
        raise ExportError(f"unknown speaker(s) {', '.join(unknown)}: the corpus voices are "
                          f"{', '.join(tr.VOICES)}")
    try:
        items, made = tr.load_split(work, "test"), True
    except ExportError:
        items = [item for item in tr.plan_corpus(CORPUS_SENTENCES, CORPUS_SEED)
                 if item["split"] == "test"]
        made = False
    items = [item for item in items if item["voice"] in speakers][:max(0, count)]
    if not items:
        raise ExportError("no held-out sentences selected (--sentences must be at least 1)")
    if not made:
        print(f"{quality.PROG}: {work / 'corpus'} is missing: synthesising {len(items)} held-out "
              "sentences with flite", file=sys.stderr)
        for item in items:
            try:
                tr._synthesise(item, scratch)
            except ExportError as e:
                raise ExportError(f"{e}\nmake the corpus first: python -m "
                                  "amphora_export.train_reference corpus") from None
            item["path"] = scratch / f"{item['name']}.wav"
    return items


# ----------------------------------------------------------------------------- intelligibility

TTS_TARGET_RATIO = 1.5  # amphora's WER may be at most this multiple of flite's on the same text


def speak(binary: str, voice: str, vocoder: str, text: str, speaker: int, output: Path) -> None:
    """One sentence through the C++ text-to-speech command."""
    command = [binary, "tts", "--voice", voice, "--vocoder", vocoder, "--text", text,
               "--speaker", str(speaker), "-o", str(output), "--force"]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=600)
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or e.stdout or "").strip().splitlines()[-3:]
        raise ExportError(f"`amphora tts` failed (exit {e.returncode}) on {text!r}: "
                          + " | ".join(detail)) from None
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ExportError(f"`amphora tts` failed on {text!r}: {e}") from None


def _score(samples: np.ndarray, rate: int, text: str) -> dict:
    transcript = transcribe(samples, rate)
    return {"transcript": transcript, **word_errors(text, transcript)}


def _summary(entries: list[dict], systems: list[str]) -> dict:
    """Corpus-level WER (all errors over all reference words) per system, and amphora's ratio
    to flite with the target it is held to."""
    words = sum(entry["flite"]["words"] for entry in entries)
    summary = {"sentences": len(entries), "words": words}
    for system in systems:
        summary[f"{system}_wer"] = sum(entry[system]["errors"] for entry in entries) / words
    if "amphora" in systems:
        flite, amphora = summary["flite_wer"], summary["amphora_wer"]
        summary["ratio"] = amphora / flite if flite > 0 else None
        summary["meets_target"] = amphora <= TTS_TARGET_RATIO * flite
    return summary


def evaluate_tts(items: list[dict], voice: str | None, vocoder: str | None,
                 out_dir: Path | None = None) -> dict:
    """The recogniser's word errors on flite's own audio of each held-out sentence (the corpus
    wav: what a perfect flite imitation would score) and, given packages, on amphora's (`amphora
    tts`, speaker = the item's voice's index in the corpus voices), per voice and overall."""
    from . import train_reference as tr

    systems = ["flite"] if voice is None else ["flite", "amphora"]
    binary = tr.amphora_binary() if voice is not None else None
    entries = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = out_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for item in items:
            entry = {"name": item["name"], "voice": item["voice"], "text": item["text"],
                     "flite": _score(*quality.read_wav(item["path"]), item["text"])}
            if binary is not None:
                wav = folder / f"{item['name']}_amphora.wav"
                speak(binary, voice, vocoder, item["text"], tr.VOICES.index(item["voice"]), wav)
                entry["amphora"] = _score(*quality.read_wav(wav), item["text"])
            entries.append(entry)
            print(f"{quality.PROG}: {len(entries)}/{len(items)} sentences", file=sys.stderr,
                  flush=True)
    voices = dict.fromkeys(entry["voice"] for entry in entries)
    return {"voice_package": voice, "vocoder_package": vocoder, "recogniser":
            "PocketSphinx 5, US English model (default)", "target_ratio": TTS_TARGET_RATIO,
            "voices": {v: _summary([e for e in entries if e["voice"] == v], systems)
                       for v in voices},
            "overall": _summary(entries, systems), "sentences": entries}


def tts_table(results: dict) -> str:
    amphora = results["voice_package"] is not None
    header = f"{'voice':<8} {'sentences':>9} {'words':>6} {'flite WER':>9}"
    if amphora:
        header += f" {'amphora WER':>11} {'ratio':>6}  target <= {TTS_TARGET_RATIO}x"
    lines = [header]
    rows = list(results["voices"].items()) + [("all", results["overall"])]
    for name, row in rows:
        line = f"{name:<8} {row['sentences']:>9} {row['words']:>6} {row['flite_wer']:>9.3f}"
        if amphora:
            ratio = f"{row['ratio']:>6.2f}" if row["ratio"] is not None else f"{'-':>6}"
            line += (f" {row['amphora_wer']:>11.3f} {ratio}  "
                     f"{'met' if row['meets_target'] else 'NOT met'}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m amphora_export.speech_measures transcribe WAV [--text T]`: what the recogniser
    hears in a wav and, given the text that was meant, its word error rate."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m amphora_export.speech_measures",
                                     description=main.__doc__.split(":", 1)[1].strip())
    commands = parser.add_subparsers(dest="command", required=True)
    heard = commands.add_parser("transcribe", help="transcribe a wav with PocketSphinx")
    heard.add_argument("wav", type=Path)
    heard.add_argument("--text", help="the text that was spoken: also print the word error rate")
    args = parser.parse_args(argv)
    try:
        samples, rate = quality.read_wav(args.wav)
        transcript = transcribe(samples, rate)
    except ExportError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    line = f"   the recogniser (PocketSphinx) heard: \"{transcript}\""
    if args.text:
        errors = word_errors(args.text, transcript)
        line += f"\n   word error rate {errors['errors']}/{errors['words']} = " \
                f"{errors['errors'] / max(1, errors['words']):.2f} against: \"{args.text}\""
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
