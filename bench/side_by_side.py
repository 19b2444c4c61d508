"""Side-by-side latency of amphora and ONNX Runtime on the same ONNX file and input shape,
interleaved so machine drift hits both alike. The seed of the full harness (harness.py).

    .venv/bin/python bench/side_by_side.py MODEL.onnx --frames 512 --threads 2 --rounds 3
Prints one markdown table row per runtime, with the machine and versions.
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import time

import numpy as np
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parents[1]


def amphora_run(binary, model, frames, threads, runs):
    out = subprocess.run([str(binary), "bench", str(model), "--frames", str(frames), "--threads",
                          str(threads), "--warmup", "0", "--runs", str(runs), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def ort_times(model, frames, threads, runs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    feed = {}
    for i in session.get_inputs():
        shape = [1 if axis == 0 and not isinstance(d, int) else (d if isinstance(d, int) else frames)
                 for axis, d in enumerate(i.shape)]
        feed[i.name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    session.run(None, feed)  # first run
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=pathlib.Path)
    parser.add_argument("--frames", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--runs", type=int, default=2, help="timed runs per round")
    parser.add_argument("--amphora", type=pathlib.Path, default=ROOT / "build" / "amphora")
    args = parser.parse_args()

    amphora_ms, ort_ms = [], []
    for round_index in range(args.rounds):
        result = amphora_run(args.amphora, args.model, args.frames, args.threads, args.runs)
        amphora_ms.append(result["median_ms"])
        ort_ms.append(statistics.median(ort_times(args.model, args.frames, args.threads,
                                                  args.runs)))
        print(f"round {round_index + 1}/{args.rounds}: amphora {amphora_ms[-1]:.0f} ms, "
              f"onnxruntime {ort_ms[-1]:.0f} ms", flush=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"\nmachine: {cpu}, {os.cpu_count()} cores; onnxruntime {ort.__version__}")
    print(f"model {args.model.name}, frames {args.frames}, threads {args.threads}\n")
    print("| runtime | median of round medians, ms | best round, ms |\n| --- | --- | --- |")
    for name, times in (("amphora", amphora_ms), ("onnxruntime", ort_ms)):
        print(f"| {name} | {statistics.median(times):.0f} | {min(times):.0f} |")


if __name__ == "__main__":
    main()
