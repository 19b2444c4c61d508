"""Acoustic models side by side: amphora, ONNX Runtime and TorchScript (PyTorch) on the same
package and the same phone ids, each runtime in its own process, interleaved in rounds.

    .venv/bin/python bench/acoustic.py [--models fastspeech2,vits,vits_svc] [--tokens 50,200] \
        [--frames 512] [--threads 1,2] [--rounds 2] [--runs 5]
Exports Amphion-sized random-init packages from bench/configs/ (CONFIGS) into
out/bench-packages/ (once), prints a markdown table and writes it with the raw records to
bench/results/acoustic-<stamp>.{json,md}. The text-to-speech models run on `--tokens` phone ids,
VITS-SVC on `--frames` frames of content features and f0. The seed of the noise and the controls
are fixed, so every runtime synthesises the same audio.
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


# Each family's Amphion-sized config: the LJSpeech recipes for text to speech, Amphion's
# egs/svc/VitsSVC recipe (44.1 kHz, NSF-HiFiGAN of 768 channels) for singing voice conversion.
CONFIGS = {"fastspeech2": "fastspeech2_ljspeech", "vits": "vits_ljspeech",
           "vits_svc": "vits_svc_amphion"}


def package_for(family):
    package = ROOT / "out" / "bench-packages" / CONFIGS[family]
    if not (package / "amphora.json").exists():
        subprocess.run([str(ROOT / "scripts" / "bin" / "amphora-export"), "acoustic", "--family",
                        family, "--random-init", "--seed", "0", "--config",
                        str(BENCH / "configs" / f"{CONFIGS[family]}.json"), "--formats",
                        "onnx,torchscript", "--output", str(package), "--force", "--quiet"],
                       check=True)
    return package


def inputs_for(package, length):
    """One utterance: `length` random phone ids (never the padding id 0), or for SVC `length`
    frames of content features, f0 (a fifth unvoiced) and energy; controls at 1."""
    manifest = json.loads((package / "amphora.json").read_text())
    rng = np.random.default_rng(length)
    values = {"seed": np.array([7]), "speaker_id": np.array([0])}
    if manifest.get("task") == "svc":
        for feature in manifest["content"]["features"]:
            values[feature["input"]] = rng.standard_normal((1, length, feature["dim"]))
        values["f0"] = rng.uniform(80, 800, (1, length)) * (rng.uniform(size=(1, length)) > 0.2)
        values["energy"] = np.exp(rng.uniform(-10, 1, (1, length)))
        values["frame_lengths"] = np.array([length])
    else:
        values["phone_ids"] = rng.integers(1, manifest["phones"]["count"], (1, length))
        values["phone_lengths"] = np.array([length])
    feeds = {}
    for spec in manifest["inputs"]:
        name = spec["name"]
        if name not in values:  # a control
            feeds[name] = np.ones(1, np.float32)
        else:
            feeds[name] = values[name].astype(np.float32 if spec["dtype"] == "float32"
                                              else np.int64)
    return feeds


def worker(runtime, package, inputs_dir, threads, runs):
    """Runs in its own process: loads, runs once, then `runs` timed runs."""
    feeds = {p.stem: np.load(p) for p in sorted(pathlib.Path(inputs_dir).glob("*.npy"))}
    manifest = json.loads((pathlib.Path(package) / "amphora.json").read_text())
    order = [spec["name"] for spec in manifest["inputs"]]
    start = time.perf_counter()
    if runtime == "onnxruntime":
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(pathlib.Path(package) / "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
        run = lambda: session.run(None, feeds)  # noqa: E731
    else:
        import torch
        torch.set_num_threads(threads)
        module = torch.jit.load(str(pathlib.Path(package) / "model.ts")).eval()
        tensors = [torch.from_numpy(feeds[name]) for name in order]

        def run():
            with torch.inference_mode():
                return module(*tensors)
    load_ms = (time.perf_counter() - start) * 1000
    run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"load_ms": load_ms, "median_ms": statistics.median(times),
                      "min_ms": min(times)}))


def measure(runtime, package, inputs_dir, threads, runs):
    if runtime == "amphora":
        args = [str(ROOT / "build" / "amphora"), "bench", str(package), "--threads", str(threads),
                "--runs", str(runs), "--warmup", "1", "--json"]
        for path in sorted(pathlib.Path(inputs_dir).glob("*.npy")):
            args += ["--input", f"{path.stem}={path}"]
    else:
        args = [sys.executable, __file__, "--worker", runtime, str(package), str(inputs_dir),
                str(threads), str(runs)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_line():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor())
    flags = next((line for line in open("/proc/cpuinfo") if line.startswith("flags")), "")
    isa = [name for name, flag in (("AVX2", "avx2"), ("AVX-512", "avx512f"),
                                   ("VNNI", "avx512_vnni")) if f" {flag}" in flags]
    return f"{model}, {os.cpu_count()} cores, {' / '.join(isa)}"


def write_results(name, rows, table):
    """Prints the table and keeps it with the rows under bench/results/NAME-STAMP.{json,md}."""
    print(table)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = BENCH / "results" / f"{name}-{stamp}"
    out.with_suffix(".json").write_text(json.dumps({"cpu": cpu_line(), "rows": rows}, indent=1))
    out.with_suffix(".md").write_text(table)
    print(f"wrote {out.relative_to(ROOT)}.json (+ .md)", file=sys.stderr)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, runtime, package, inputs_dir, threads, runs = sys.argv
        return worker(runtime, package, inputs_dir, int(threads), int(runs))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="fastspeech2,vits,vits_svc")
    parser.add_argument("--tokens", default="50,200", help="phone ids per utterance (TTS)")
    parser.add_argument("--frames", default="512", help="frames per utterance (SVC)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runtimes = ["amphora", "onnxruntime", "torchscript"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.models.split(","):
            package = package_for(family)
            manifest = json.loads((package / "amphora.json").read_text())
            svc = manifest.get("task") == "svc"
            unit = "frames" if svc else "tokens"
            for tokens in map(int, (args.frames if svc else args.tokens).split(",")):
                inputs_dir = pathlib.Path(tmp) / f"{family}-{tokens}"
                inputs_dir.mkdir()
                for name, value in inputs_for(package, tokens).items():
                    np.save(inputs_dir / f"{name}.npy", value)
                for threads in map(int, args.threads.split(",")):
                    times = {r: [] for r in runtimes}
                    for round_ in range(args.rounds):
                        order = runtimes[round_ % 3:] + runtimes[:round_ % 3]
                        for runtime in order:
                            result = measure(runtime, package, inputs_dir, threads, args.runs)
                            times[runtime].append(result["median_ms"])
                            print(f"{family} {tokens} {unit}, {threads} thread(s), round "
                                  f"{round_ + 1}: {runtime} {result['median_ms']:.1f} ms",
                                  file=sys.stderr)
                    ort = statistics.median(times["onnxruntime"])
                    for runtime in runtimes:
                        ms = statistics.median(times[runtime])
                        rows.append({"model": family, "length": f"{tokens} {unit}",
                                     "threads": threads,
                                     "runtime": runtime, "median_ms": ms, "vs_ort": ort / ms,
                                     "rounds": times[runtime],
                                     "hop": manifest["hop_length"],
                                     "sample_rate": manifest["sample_rate"]})
    header = (f"CPU: {cpu_line()}. Median over {args.rounds} interleaved rounds of the median of "
              f"{args.runs} runs; batch 1; Amphion-sized random-init packages "
              f"(bench/configs, named in CONFIGS).\n\n"
              "| model | input | threads | runtime | median ms | vs ORT |\n"
              "| --- | ---: | ---: | --- | ---: | ---: |\n")
    table = header + "".join(
        f"| {r['model']} | {r['length']} | {r['threads']} | {r['runtime']} | "
        f"{r['median_ms']:.1f} | {r['vs_ort']:.2f}x |\n" for r in rows)
    write_results("acoustic", rows, table)


if __name__ == "__main__":
    main()
