"""`amphora optimize` against onnxsim on the same raw exports: nodes, bytes, and ONNX Runtime's
time on the raw file, onnxsim's and amphora's, side by side in one process, interleaved.

    .venv/bin/python bench/optimize.py [--families hifigan,bigvgan,...] [--frames 512] \
        [--threads 1] [--rounds 3] [--runs 5]

Each family is the exporter's default configuration with random weights, exported by
torch.onnx with constant folding off (weight norm, pads and shapes computed in the graph, as a
plain export of a user's model may leave them). Prints a markdown table and writes it with the
raw records to bench/results/optimize-<stamp>.{json,md}.
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from acoustic import cpu_line, write_results  # noqa: E402
from exported_family import example_feed, raw_export  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="hifigan,bigvgan,melgan,nsf_hifigan,vocos,apnet")
    parser.add_argument("--frames", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import onnxsim

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            files = {name: pathlib.Path(tmp) / f"{family}_{name}.onnx"
                     for name in ("raw", "onnxsim", "amphora")}
            feed = example_feed(*raw_export(family, files["raw"]), args.frames)
            simplified, ok = onnxsim.simplify(onnx.load(str(files["raw"])))
            assert ok, family
            onnx.save(simplified, str(files["onnxsim"]))
            subprocess.run([str(ROOT / "build" / "amphora"), "optimize", str(files["raw"]),
                            str(files["amphora"]), "--force"], check=True, capture_output=True)
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            sessions = {name: ort.InferenceSession(str(path), options,
                                                   providers=["CPUExecutionProvider"])
                        for name, path in files.items()}
            times = {name: [] for name in files}
            for _ in range(args.rounds):
                for name, session in sessions.items():
                    session.run(None, feed)
                    for _ in range(args.runs):
                        start = time.perf_counter()
                        session.run(None, feed)
                        times[name].append(1000 * (time.perf_counter() - start))
            for name, path in files.items():
                rows.append({"family": family, "file": name,
                             "nodes": len(onnx.load(str(path)).graph.node),
                             "bytes": path.stat().st_size,
                             "ort_ms_median": float(np.median(times[name])),
                             "ort_ms_min": float(np.min(times[name]))})
            print(f"{family}: done", file=sys.stderr)
    header = (f"CPU: {cpu_line()}; ONNX Runtime {ort.__version__}, {args.threads} thread(s), "
              f"{args.frames} frames, {args.rounds} rounds x {args.runs} runs\n\n"
              "| family | file | nodes | MiB | ORT median ms | ORT min ms |\n"
              "| --- | --- | ---: | ---: | ---: | ---: |\n")
    table = header + "".join(
        f"| {r['family']} | {r['file']} | {r['nodes']} | {r['bytes'] / 2**20:.2f} | "
        f"{r['ort_ms_median']:.1f} | {r['ort_ms_min']:.1f} |\n" for r in rows)
    write_results("optimize", rows, table)


if __name__ == "__main__":
    main()
