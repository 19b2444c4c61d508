"""The Chinese G2P's polyphone BERT: amphora against ONNX Runtime on the same ONNX file, in
sentences per second, each runtime in its own process, interleaved in rounds.

    .venv/bin/python bench/g2p.py [--model models/g2p-zh-polybert-small] [--chars 20,100] \
        [--threads 1,2] [--rounds 3] [--runs 200]

A sentence is one BERT run on [CLS] + one id per character (what ChineseG2P runs once per
sentence that holds a polyphone); the ids are real characters of the vocabulary, fixed by the
seed. ONNX Runtime runs as Amphion's G2P sets it up: ORT_ENABLE_ALL, the CPU provider,
intra-op threads = threads. Prints a markdown table and writes it with the raw records to
bench/results/g2p-<stamp>.{json,md}.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))
from acoustic import cpu_line, write_results  # noqa: E402


def sentence_ids(model, chars, seed=0):
    vocab = (model / "vocab.txt").read_text("utf-8").split("\n")
    ideographs = [i for i, t in enumerate(vocab) if len(t) == 1 and "\u4e00" <= t <= "\u9fff"]
    rng = np.random.default_rng(seed + chars)
    return np.array([[vocab.index("[CLS]")] + list(rng.choice(ideographs, chars))], np.int32)


def worker(model_path, ids_path, threads, runs):
    """ONNX Runtime in its own process: load, one run, then `runs` timed runs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    feeds = {"input_ids": np.load(ids_path)}
    session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"median_ms": statistics.median(times), "min_ms": min(times)}))


def measure(runtime, model_path, ids_path, threads, runs):
    if runtime == "amphora":
        args = [str(ROOT / "build" / "amphora"), "bench", str(model_path), "--input",
                f"input_ids={ids_path}", "--threads", str(threads), "--runs", str(runs),
                "--warmup", "5", "--json"]
    else:
        args = [sys.executable, __file__, "--worker", str(model_path), str(ids_path),
                str(threads), str(runs)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, model_path, ids_path, threads, runs = sys.argv
        return worker(model_path, ids_path, int(threads), int(runs))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=pathlib.Path, default=ROOT / "models" /
                        "g2p-zh-polybert-small")
    parser.add_argument("--chars", default="20,100")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    model_path = args.model / "poly_bert_model.onnx"
    runtimes = ["amphora", "onnxruntime"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for chars in map(int, args.chars.split(",")):
            ids_path = pathlib.Path(tmp) / f"ids{chars}.npy"
            np.save(ids_path, sentence_ids(args.model, chars))
            for threads in map(int, args.threads.split(",")):
                times = {r: [] for r in runtimes}
                for round_ in range(args.rounds):
                    for runtime in runtimes[round_ % 2:] + runtimes[:round_ % 2]:
                        result = measure(runtime, model_path, ids_path, threads, args.runs)
                        times[runtime].append(result["median_ms"])
                        print(f"{chars} chars, {threads} thread(s), round {round_ + 1}: "
                              f"{runtime} {result['median_ms']:.3f} ms", file=sys.stderr)
                ort = statistics.median(times["onnxruntime"])
                for runtime in runtimes:
                    ms = statistics.median(times[runtime])
                    rows.append({"chars": chars, "threads": threads, "runtime": runtime,
                                 "median_ms": ms, "sentences_per_s": 1000 / ms,
                                 "vs_ort": ort / ms, "rounds": times[runtime]})
    header = (f"CPU: {cpu_line()}. Model: {args.model.name}/poly_bert_model.onnx. Median over "
              f"{args.rounds} interleaved rounds of the median of {args.runs} runs; one "
              "sentence per run ([CLS] + one id per character).\n\n"
              "| characters | threads | runtime | median ms | sentences/s | vs ORT |\n"
              "| ---: | ---: | --- | ---: | ---: | ---: |\n")
    table = header + "".join(
        f"| {r['chars']} | {r['threads']} | {r['runtime']} | {r['median_ms']:.3f} | "
        f"{r['sentences_per_s']:.0f} | {r['vs_ort']:.2f}x |\n" for r in rows)
    write_results("g2p", rows, table)


if __name__ == "__main__":
    main()
