"""What quantizing a vocoder does to its audio: copy synthesis by the float32 package and by its
quantized copy (`amphora quantize`), both run by amphora, on held-out speech (the examples and
held-out sentences of the flite corpus, as `amphora_export.quality` uses). Reported per voice
and overall:
  against the input   log-mel L1, MR-STFT, PESQ (wide band) and STOI of each package, and the
                      change the quantized copy brings (log-mel L1 increase, PESQ drop);
  against float32     the same measures of the quantized output with the float32 output as
                      the reference (how far quantization moved the audio).
Bounds (checked, exit status 1 when exceeded): fp16 log-mel L1 increase <= 0.001; int8 log-mel
L1 increase <= 0.03 and PESQ drop <= 0.1.

    python -m amphora_export.quantized_quality --reference PKG --quantized PKG \\
        [--sentences 12] [--record] [--json]

--record writes the figures into the quantized package's manifest (quantization.quality).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import ExportError
from . import quality

PROG = "python -m amphora_export.quantized_quality"
ROOT = Path(__file__).resolve().parents[2]
BOUNDS = {"float16": {"log_mel_l1_increase": 0.001},
          "int8": {"log_mel_l1_increase": 0.03, "pesq_drop": 0.1}}


def _manifest(package: Path) -> dict:
    try:
        return json.loads((package / "amphora.json").read_text())
    except (OSError, ValueError) as e:
        raise ExportError(f"{package}: not a package directory with an amphora.json ({e})")


def _vocode(amphora: Path, package: Path, mel: Path, out: Path) -> np.ndarray:
    proc = subprocess.run([str(amphora), "vocode", "--model", str(package), "--mel", str(mel),
                           "-o", str(out), "--force"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ExportError(f"amphora vocode on {package} failed: {proc.stderr.strip()}")
    return np.load(out).reshape(-1)


def _inputs(sentences: int, scratch: Path) -> list[tuple[str, Path]]:
    """(voice, wav): the two examples, then held-out corpus sentences."""
    from . import speech_measures, train_reference

    items = [(voice, ROOT / "examples" / name) for name, (voice, _) in quality.EXAMPLES.items()]
    held = speech_measures.held_out(train_reference.DEFAULT_WORK, sentences, None, scratch)
    return items + [(item["voice"], item["path"]) for item in held]


def evaluate(reference: Path, quantized: Path, sentences: int, amphora: Path) -> dict:
    ref_manifest, q_manifest = _manifest(reference), _manifest(quantized)
    scheme = q_manifest.get("quantization", {}).get("weights")
    if scheme not in BOUNDS:
        raise ExportError(f"{quantized}: the manifest records no quantization amphora knows "
                          f"(quantization.weights is {scheme!r})")
    mel_cfg = ref_manifest["mel"]
    if q_manifest.get("mel") != mel_cfg:
        raise ExportError(f"{quantized} and {reference} have different mel settings: not a "
                          "quantized copy of it")
    rate = mel_cfg["sample_rate"]
    rows = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for i, (voice, wav) in enumerate(_inputs(sentences, scratch)):
            samples, source_rate = quality.read_wav(wav)
            samples = quality.fft_resample(samples, source_rate, rate)
            mel = quality.amphion_mel(samples, mel_cfg).numpy()[None].astype(np.float32)
            np.save(scratch / f"{i}.npy", mel)
            full = _vocode(amphora, reference, scratch / f"{i}.npy", scratch / f"{i}_fp32.npy")
            low = _vocode(amphora, quantized, scratch / f"{i}.npy", scratch / f"{i}_q.npy")
            n = min(len(samples), len(full), len(low))
            rows.append({"voice": voice, "file": Path(wav).name,
                         "float32": quality.measure(samples[:n], full[:n], mel_cfg),
                         "quantized": quality.measure(samples[:n], low[:n], mel_cfg),
                         "against_float32": quality.measure(full[:n], low[:n], mel_cfg)})

    def mean(key, system, group):
        values = [r[system][key] if key != "mr_stft" else r[system][key]["distance"]
                  for r in group]
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    def summary(group):
        s = {system: {k: mean(k, system, group) for k in ("log_mel_l1", "mr_stft", "pesq", "stoi")}
             for system in ("float32", "quantized", "against_float32")}
        s["log_mel_l1_increase"] = s["quantized"]["log_mel_l1"] - s["float32"]["log_mel_l1"]
        s["pesq_drop"] = s["float32"]["pesq"] - s["quantized"]["pesq"]
        s["utterances"] = len(group)
        return s

    voices = {v: summary([r for r in rows if r["voice"] == v])
              for v in dict.fromkeys(r["voice"] for r in rows)}
    overall = summary(rows)
    bounds = BOUNDS[scheme]
    within = all(overall[k] <= limit for k, limit in bounds.items())
    return {"reference": str(reference), "quantized": str(quantized), "scheme": scheme,
            "inputs": "examples/ and held-out flite corpus sentences", "voices": voices,
            "all": overall, "bounds": bounds, "within_bounds": within}


def _table(results: dict) -> str:
    lines = [f"{results['scheme']} copy synthesis vs float32 ({results['quantized']})",
             f"{'voice':<12} {'n':>3} {'log-mel L1 fp32 / q / +':>28} {'PESQ fp32 / q / -':>22} "
             f"{'vs fp32: PESQ':>13} {'STOI':>6}"]
    groups = list(results["voices"].items()) + [("all", results["all"])]
    for name, s in groups:
        f, q, a = s["float32"], s["quantized"], s["against_float32"]
        lines.append(f"{name:<12} {s['utterances']:>3} "
                     f"{f['log_mel_l1']:>8.4f} / {q['log_mel_l1']:.4f} / {s['log_mel_l1_increase']:+.5f} "
                     f"{f['pesq']:>6.3f} / {q['pesq']:.3f} / {s['pesq_drop']:+.3f} "
                     f"{a['pesq']:>13.3f} {a['stoi']:>6.3f}")
    bounds = ", ".join(f"{k} <= {v}" for k, v in results["bounds"].items())
    lines.append(f"bounds: {bounds}: {'met' if results['within_bounds'] else 'NOT met'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--reference", type=Path, required=True, help="the float32 package")
    parser.add_argument("--quantized", type=Path, required=True,
                        help="its copy written by `amphora quantize`")
    parser.add_argument("--sentences", type=int, default=12,
                        help="held-out corpus sentences besides the two examples (default 12)")
    parser.add_argument("--amphora", type=Path, default=ROOT / "build" / "amphora",
                        help="the amphora binary (default build/amphora)")
    parser.add_argument("--record", action="store_true",
                        help="write the figures into the quantized package's manifest")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    try:
        results = evaluate(args.reference, args.quantized, args.sentences, args.amphora)
    except ExportError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    if args.record:
        path = args.quantized / "amphora.json"
        manifest = json.loads(path.read_text())
        manifest["quantization"]["quality"] = {
            "against": "float32 copy synthesis, " + results["inputs"],
            "utterances": results["all"]["utterances"],
            "log_mel_l1_increase": results["all"]["log_mel_l1_increase"],
            "pesq_drop": results["all"]["pesq_drop"],
            "pesq_vs_float32": results["all"]["against_float32"]["pesq"],
            "stoi_vs_float32": results["all"]["against_float32"]["stoi"],
            "within_bounds": results["within_bounds"]}
        path.write_text(json.dumps(manifest, indent=2) + "\n")
    sys.stdout.write(json.dumps(results, indent=2) + "\n" if args.json else _table(results))
    return 0 if results["within_bounds"] else 1


if __name__ == "__main__":
    sys.exit(main())
