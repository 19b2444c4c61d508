"""One measurement of one peer runtime in its own process (so that peak RSS and session
creation are its own): ONNX Runtime, PyTorch eager, or TorchScript through torch.jit.

    .venv/bin/python bench/harness_worker.py RUNTIME PKG_DIR --frames F --threads N --runs R
Prints one JSON object with the fields `amphora bench --json` prints (load_ms, first_run_ms,
min_ms, median_ms, p90_ms, max_ms, peak_rss_mb, rtf).
"""
import argparse
import json
import pathlib
import resource
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def peak_rss_mb():
    """This process's own high-water mark (VmHWM). Not ru_maxrss: Linux carries that across exec,
    so every worker would report at least the harness's size at fork."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mel_input(manifest, frames, rng):
    import numpy as np
    spec = manifest["inputs"][0]
    shape = [1 if i == 0 else (d if isinstance(d, int) else frames)
             for i, d in enumerate(spec.get("dims", spec.get("shape", [])))]
    if len(shape) != 3:
        n_mels = manifest.get("n_mels", 80)
        shape = [1, n_mels, frames]
    return rng.standard_normal(shape).astype(np.float32)


def load_ort(package, threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(package / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda mel: session.run(None, {name: mel})


def load_torch(package, threads, scripted):
    import torch
    torch.set_num_threads(threads)
    if scripted:
        module = torch.jit.load(str(package / "model.ts")).eval()
    else:
        sys.path.insert(0, str(ROOT / "python"))
        from amphora_export.progress import Progress
        from amphora_export.sources import clone_generator, load_source
        from amphora_export.weightnorm import fold_weight_norm
        config = json.loads((package / "bench_config.json").read_text())
        source, generator = load_source(None, None, config["path"], None, [], True,
                                        config.get("seed", 0), Progress(1, quiet=True))
        folded = clone_generator(source, generator)
        fold_weight_norm(folded)
        module = source.spec.export_module(folded, source.config).eval()

    def run(mel):
        with torch.inference_mode():
            return module(torch.from_numpy(mel))
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runtime", choices=["onnxruntime", "torch", "torchscript-py"])
    parser.add_argument("package", type=pathlib.Path)
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=0)
    args = parser.parse_args()
    import numpy as np

    manifest = json.loads((args.package / "amphora.json").read_text())
    mel = mel_input(manifest, args.frames, np.random.default_rng(0))
    start = time.perf_counter()
    if args.runtime == "onnxruntime":
        run = load_ort(args.package, args.threads)
    else:
        run = load_torch(args.package, args.threads, scripted=args.runtime == "torchscript-py")
    load_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    run(mel)
    first_ms = (time.perf_counter() - start) * 1000
    for _ in range(args.warmup):
        run(mel)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        run(mel)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    hop, rate = manifest.get("hop_length", 0), manifest.get("sample_rate", 0)
    median = statistics.median(times)
    print(json.dumps({
        "load_ms": load_ms, "first_run_ms": first_ms, "min_ms": times[0], "median_ms": median,
        "p90_ms": times[min(len(times) - 1, int(0.9 * (len(times) - 1) + 0.5))],
        "max_ms": times[-1],
        "peak_rss_mb": peak_rss_mb(),
        "rtf": median / 1000 / (args.frames * hop / rate) if hop and rate else None,
    }))


if __name__ == "__main__":
    main()
