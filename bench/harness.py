"""The bench harness: the same model packages and inputs through amphora, ONNX Runtime,
PyTorch eager and TorchScript, interleaved, with the machine's measured FMA peak.

    .venv/bin/python bench/harness.py              # everything (long: run it on a quiet machine)
    .venv/bin/python bench/harness.py --quick      # 2 models, 1 length, 1 round: a smoke run
    .venv/bin/python bench/harness.py --quantized  # int8: amphora's and ONNX Runtime's recipes
Writes bench/results/<stamp>.json, <stamp>.md (the table for RESULTS.md) and <stamp>.png.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PYTHON = sys.executable

# name -> (family, config file under bench/configs, or None for the family's small default)
MODELS = {
    "hifigan_v1": ("hifigan", "hifigan_v1.json"),
    "hifigan_v3": ("hifigan", "hifigan_v3.json"),
    "bigvgan_base": ("bigvgan", "bigvgan_base.json"),
    "melgan": ("melgan", "melgan.json"),
    "vocos_small": ("vocos", "vocos_small.json"),
    "vocos_amphion": ("vocos", "vocos_amphion.json"),
    "tiny_hifigan": ("hifigan", None),  # the family's small default: for tests
}
# name -> exporter arguments: the shipped default vocoder, alone and as the demo exports it.
_QUARTER = ["--checkpoint", str(ROOT / "models" / "hifigan-flite-v1-quarter")]
SHIPPED = {"flite_quarter": _QUARTER, "flite_quarter_mel_magnitude": [*_QUARTER, "--mel-magnitude"]}
RUNTIMES = ["amphora", "onnxruntime", "torch", "torchscript"]
# --quantized: each engine on the float32 file and on int8 files. "amphora-int8" and
# "ort-qdq-int8" run the file `amphora quantize --int8` writes (static QDQ, every layer
# quantized); "ort-dynamic-int8" runs the recipe users follow today: onnxsim, then ONNX Runtime's
# quantize_dynamic(op_types_to_quantize=["MatMul", "Conv"], weight_type=QUInt8).
QUANTIZED_RUNTIMES = ["amphora", "amphora-int8", "onnxruntime", "ort-dynamic-int8", "ort-qdq-int8"]
QUANTIZED_MODELS = ["hifigan_v3", "hifigan_v1", "melgan", "bigvgan_base", "vocos_small"]
# runtime -> (engine, package variant: "" for the float32 package)
ENGINES = {"amphora-int8": ("amphora", "int8"), "ort-qdq-int8": ("onnxruntime", "int8"),
           "ort-dynamic-int8": ("onnxruntime", "ort-dynamic")}


def log(message):
    print(message, file=sys.stderr, flush=True)


def repo_relative(path):
    """`path` relative to the repository when inside it (records stay free of one machine's
    directories); otherwise unchanged."""
    try:
        return str(pathlib.Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def amphora_binary(path):
    binary = pathlib.Path(path or os.environ.get("AMPHORA_BIN", ROOT / "build" / "amphora"))
    if not binary.exists():
        sys.exit(f"harness: amphora binary not found at {binary}; build it or pass --amphora")
    return binary


def fma_peak(threads):
    """GFLOP/s of bench/micro/fma_peak.c at each thread count (compiled on the fly)."""
    with tempfile.TemporaryDirectory() as tmp:
        exe = pathlib.Path(tmp) / "fma_peak"
        subprocess.run(["cc", "-O2", "-mavx2", "-mfma", "-fopenmp",
                        str(BENCH / "micro" / "fma_peak.c"), "-o", str(exe)], check=True)
        return {n: float(subprocess.run([str(exe), str(n)], check=True, capture_output=True,
                                        text=True).stdout.split()[1]) for n in threads}


def machine_info(binary, threads):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    flags = next((line for line in open("/proc/cpuinfo") if line.startswith("flags")), "")
    versions = {"python": platform.python_version()}
    for module in ("onnxruntime", "torch", "numpy"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    dnnl = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libdnnl2"],
                          capture_output=True, text=True)
    versions["onednn"] = dnnl.stdout.strip() or None
    git = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                         capture_output=True, text=True)
    versions["amphora"] = git.stdout.strip() or None
    return {"cpu": cpu, "cores": os.cpu_count(), "avx2": " avx2" in flags,
            "avx512f": " avx512f" in flags, "kernel": platform.release(),
            "load_average_at_start": os.getloadavg(), "fma_peak_gflops": fma_peak(threads),
            "versions": versions, "amphora_binary": repo_relative(binary)}


def export_package(name, workdir, seed=0):
    """Exports (once; cached by config) a random-init package, or a shipped model, with ONNX
    and TorchScript."""
    package = workdir / name
    if name in SHIPPED:
        stamp = {"arguments": SHIPPED[name]}
        source = SHIPPED[name]
    else:
        family, config = MODELS[name]
        config_path = BENCH / "configs" / config if config else None
        stamp = {"family": family, "path": str(config_path) if config_path else None,
                 "seed": seed,
                 "config": json.loads(config_path.read_text()) if config_path else None}
        source = ["--family", family, "--random-init", "--seed", str(seed)]
        source += ["--config", str(config_path)] if config_path else []
    marker = package / "bench_config.json"
    if marker.exists() and json.loads(marker.read_text()) == stamp:
        return package
    log(f"exporting {name} ...")
    cmd = [str(ROOT / "scripts" / "bin" / "amphora-export"), "vocoder", *source,
           "--output", str(package), "--force", "--formats", "onnx,torchscript", "--quiet"]
    subprocess.run(cmd, check=True)
    marker.write_text(json.dumps(stamp))
    return package


def quantized_variants(binary, package):
    """The int8 packages beside `package` (made once, again when the float32 model changes):
    `<package>-int8` by `amphora quantize --int8`, calibrated on two random mels like the
    bench's inputs, every layer quantized (random weights: a quality budget means nothing);
    `<package>-ort-dynamic` by onnxsim and ONNX Runtime's quantize_dynamic."""
    import numpy as np
    source = package / "model.onnx"
    int8, dynamic = package.with_name(package.name + "-int8"), \
        package.with_name(package.name + "-ort-dynamic")
    if not (int8 / "model.onnx").exists() or \
            (int8 / "model.onnx").stat().st_mtime < source.stat().st_mtime:
        log(f"quantizing {package.name} with amphora ...")
        manifest = json.loads((package / "amphora.json").read_text())
        with tempfile.TemporaryDirectory() as tmp:
            rng = np.random.default_rng(0)
            for i in range(2):
                np.save(pathlib.Path(tmp) / f"mel{i}.npy",
                        rng.standard_normal((manifest["n_mels"], 512)).astype(np.float32))
            subprocess.run([str(binary), "quantize", str(package), str(int8), "--int8",
                            "--calibrate", tmp, "--mel-l1-budget", "1000", "--force"],
                           check=True, capture_output=True)
    if not (dynamic / "model.onnx").exists() or \
            (dynamic / "model.onnx").stat().st_mtime < source.stat().st_mtime:
        log(f"quantizing {package.name} with onnxsim + quantize_dynamic ...")
        import onnx
        import onnxsim
        from onnxruntime.quantization import QuantType, quantize_dynamic
        dynamic.mkdir(parents=True, exist_ok=True)
        shutil.copy(package / "amphora.json", dynamic / "amphora.json")
        simplified, valid = onnxsim.simplify(onnx.load(str(source)))
        if not valid:
            sys.exit(f"harness: onnxsim could not check its simplification of {source}")
        onnx.save(simplified, str(dynamic / "simplified.onnx"))
        quantize_dynamic(str(dynamic / "simplified.onnx"), str(dynamic / "model.onnx"),
                         op_types_to_quantize=["MatMul", "Conv"], weight_type=QuantType.QUInt8)
        (dynamic / "simplified.onnx").unlink()
    return {"int8": int8, "ort-dynamic": dynamic}


def measure(runtime, binary, package, frames, threads, runs, profile, torchscript_native):
    runtime, variant = ENGINES.get(runtime, (runtime, ""))
    if variant:
        package = quantized_variants(binary, package)[variant]
    if runtime == "amphora" or (runtime == "torchscript" and torchscript_native):
        cmd = [str(binary), "bench", str(package), "--frames", str(frames), "--threads",
               str(threads), "--warmup", "0", "--runs", str(runs), "--json"]
        if runtime == "torchscript":
            cmd += ["--backend", "torchscript"]
        elif profile:
            cmd.append("--profile")
    else:
        worker = "torchscript-py" if runtime == "torchscript" else runtime
        cmd = [PYTHON, str(BENCH / "harness_worker.py"), worker, str(package), "--frames",
               str(frames), "--threads", str(threads), "--runs", str(runs)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if "model" in result:
        result["model"] = repo_relative(result["model"])
    return result


# The file each runtime loads; PyTorch eager builds the module in Python (no model file).
MODEL_FILES = {"amphora": "model.onnx", "onnxruntime": "model.onnx", "torchscript": "model.ts"}


def model_file_mb(package, runtime):
    runtime, variant = ENGINES.get(runtime, (runtime, ""))
    if variant:
        package = package.with_name(package.name + "-" + variant)
    name = MODEL_FILES.get(runtime)
    return (package / name).stat().st_size / 1e6 if name and (package / name).exists() else None


def run_matrix(args, binary, workdir, checkpoint=lambda rows: None):
    """Measures every (model, frames, threads) cell; `checkpoint(rows)` after each model, so
    that an interrupted run keeps what it measured."""
    help_text = subprocess.run([str(binary), "bench", "--help"], capture_output=True,
                               text=True).stdout
    torchscript_native = "--backend" in help_text
    rows = []
    for name in args.models:
        package = export_package(name, workdir)
        for frames in args.frames:
            gflop = None
            for threads in args.threads:
                samples = {r: [] for r in args.runtimes}
                for round_index in range(args.rounds):
                    # Rotate the order each round so drift and cache warmth hit all alike.
                    order = args.runtimes[round_index % len(args.runtimes):] + \
                        args.runtimes[:round_index % len(args.runtimes)]
                    for runtime in order:
                        try:
                            result = measure(runtime, binary, package, frames, threads,
                                             args.runs, gflop is None, torchscript_native)
                        except subprocess.CalledProcessError as e:
                            log(f"  {runtime} failed on {name}: {e.stderr.strip()[-400:]}")
                            continue
                        if "profile" in result:
                            gflop = result["profile"]["gflop"]
                            result.pop("profile")
                        samples[runtime].append(result)
                        log(f"{name} T={frames} threads={threads} round {round_index + 1}: "
                            f"{runtime} {result['median_ms']:.1f} ms")
                for runtime, results in samples.items():
                    if not results:
                        continue
                    medians = [r["median_ms"] for r in results]
                    row = {"model": name, "frames": frames, "threads": threads,
                           "runtime": runtime, "median_ms": statistics.median(medians),
                           "best_ms": min(r["min_ms"] for r in results), "rounds": results,
                           "p90_ms": statistics.median(r["p90_ms"] for r in results),
                           "model_mb": model_file_mb(package, runtime),
                           "load_ms": statistics.median(r["load_ms"] for r in results),
                           "first_run_ms": statistics.median(r["first_run_ms"] for r in results),
                           "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
                           "rtf": results[0].get("rtf"), "gflop": gflop}
                    if gflop:
                        row["gflops"] = gflop / (row["median_ms"] / 1000)
                    rows.append(row)
        checkpoint(rows)
    return rows


def markdown(result):
    peak = result["machine"]["fma_peak_gflops"]
    lines = ["| model | frames | threads | runtime | median ms | vs ORT | GFLOP/s | % of peak "
             "| first run ms | session ms | peak RSS MB |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    ort = {(r["model"], r["frames"], r["threads"]): r["median_ms"] for r in result["rows"]
           if r["runtime"] == "onnxruntime"}
    for r in result["rows"]:
        key = (r["model"], r["frames"], r["threads"])
        speedup = f"{ort[key] / r['median_ms']:.2f}x" if key in ort else ""
        gflops = r.get("gflops")
        gflops_str = f"{gflops:.1f}" if gflops else ""
        pct = f"{100 * gflops / peak[r['threads']]:.0f}" if gflops and r["threads"] in peak \
            else ""
        lines.append(f"| {r['model']} | {r['frames']} | {r['threads']} | {r['runtime']} | "
                     f"{r['median_ms']:.1f} | {speedup} | {gflops_str} | {pct} | "
                     f"{r['first_run_ms']:.0f} | {r['load_ms']:.0f} | {r['peak_rss_mb']:.0f} |")
    m = result["machine"]
    header = (f"Machine: {m['cpu']}, {m['cores']} cores, AVX2 {m['avx2']}, AVX-512F "
              f"{m['avx512f']}; measured FMA peak "
              + ", ".join(f"{v:.1f} GFLOP/s at {k} thread{'s' if k > 1 else ''}"
                          for k, v in m["fma_peak_gflops"].items())
              + f"; load average at start {m['load_average_at_start'][0]:.2f}.\nVersions: "
              + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".\n"
              f"Command: `{result['command']}`; median of {result['rounds']} interleaved "
              f"rounds of {result['runs']} timed runs each.\n")
    formats = format_table(result)
    quantized = quantized_table(result)
    return header + "\n" + "\n".join(lines) + "\n" + ("\n" + formats if formats else "") + \
        ("\n" + quantized if quantized else "")


def quantized_table(result):
    """--quantized: one row per model, length and threads, every runtime's median side by side
    with the int8 targets' ratios and the file sizes; "" when no int8 runtime was measured."""
    by = {(r["model"], r["frames"], r["threads"], r["runtime"]): r for r in result["rows"]}
    if not any(k[3] in ENGINES for k in by):
        return ""
    lines = ["int8: median ms per runtime (amphora fp32 / amphora int8 / ORT fp32 / ORT on its "
             "own quantize_dynamic file / ORT on amphora's QDQ file), the int8 targets' ratios, "
             "file MB (fp32 / amphora int8 / ORT dynamic).", "",
             "| model | frames | threads | amphora | amphora int8 | ORT | ORT dynamic int8 | "
             "ORT on QDQ | int8 vs ORT fp32 | int8 vs ORT dynamic | int8 vs amphora fp32 | "
             "file MB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for model, frames, threads in sorted({k[:3] for k in by}):
        ms = {rt: by[(model, frames, threads, rt)]["median_ms"] for rt in QUANTIZED_RUNTIMES
              if (model, frames, threads, rt) in by}
        cell = lambda rt: f"{ms[rt]:.1f}" if rt in ms else "-"
        ratio = lambda rt: f"{ms[rt] / ms['amphora-int8']:.2f}x" \
            if rt in ms and "amphora-int8" in ms else "-"
        size = lambda rt: (by.get((model, frames, threads, rt)) or {}).get("model_mb")
        sizes = " / ".join(f"{size(rt):.1f}" if size(rt) else "-"
                           for rt in ("amphora", "amphora-int8", "ort-dynamic-int8"))
        lines.append(f"| {model} | {frames} | {threads} | " +
                     " | ".join(cell(rt) for rt in QUANTIZED_RUNTIMES) +
                     f" | {ratio('onnxruntime')} | {ratio('ort-dynamic-int8')} | "
                     f"{ratio('amphora')} | {sizes} |")
    return "\n".join(lines) + "\n"


# The seed document's comparison: one vocoder, 80x512 mel, batch 1, every format.
FORMAT_CASE = ("hifigan_v1", 512)
FORMAT_NAMES = {"amphora": "ONNX, amphora native engine", "onnxruntime": "ONNX, ONNX Runtime",
                "torchscript": "TorchScript, LibTorch", "torch": "PyTorch eager (no export)"}


def format_rows(result):
    return [r for r in result["rows"]
            if (r["model"], r["frames"]) == FORMAT_CASE and r["runtime"] in RUNTIMES]


def format_table(result):
    """The per-format table, or "" when the run did not measure FORMAT_CASE."""
    rows = format_rows(result)
    if not rows:
        return ""
    lines = [f"Per format: {FORMAT_CASE[0]}, 80x{FORMAT_CASE[1]} mel, batch 1.", "",
             "| format and runtime | threads | median ms | p90 ms | peak RSS MB | model file MB |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(rows, key=lambda r: (r["threads"], RUNTIMES.index(r["runtime"]))):
        size = f"{r['model_mb']:.1f}" if r.get("model_mb") else "-"
        lines.append(f"| {FORMAT_NAMES[r['runtime']]} | {r['threads']} | {r['median_ms']:.0f} | "
                     f"{r['p90_ms']:.0f} | {r['peak_rss_mb']:.0f} | {size} |")
    lines += ["| Core ML | - | not measurable on Linux: Core ML runs only on Apple platforms; "
              "the exporter writes and checks `model.mlpackage` | | | |"]
    return "\n".join(lines) + "\n"


def format_chart(result, path, plt):
    rows = format_rows(result)
    if not rows:
        return
    threads = sorted({r["threads"] for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / len(threads)
    for i, t in enumerate(threads):
        by = {r["runtime"]: r for r in rows if r["threads"] == t}
        names = [n for n in RUNTIMES if n in by]
        xs = [k + i * width for k in range(len(names))]
        axes[0].bar(xs, [by[n]["median_ms"] for n in names], width, label=f"{t} thread(s)",
                    yerr=[[0] * len(names), [by[n]["p90_ms"] - by[n]["median_ms"] for n in names]])
        axes[1].bar(xs, [by[n]["peak_rss_mb"] for n in names], width, label=f"{t} thread(s)")
    for ax, title in zip(axes, ("median latency, ms (bar to p90)", "peak RSS, MB")):
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(names))])
        ax.set_xticklabels([FORMAT_NAMES[n] for n in names], fontsize=7, rotation=20, ha="right")
        ax.set_title(f"{FORMAT_CASE[0]}, 80x{FORMAT_CASE[1]}: {title}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def chart(result, path):
    try:
        import matplotlib
    except ImportError:
        log("matplotlib is not installed (scripts/setup.sh installs it): no chart")
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = sorted({(r["model"], r["frames"], r["threads"]) for r in result["rows"]})
    runtimes = [r for r in RUNTIMES + list(ENGINES)
                if any(row["runtime"] == r for row in result["rows"])]
    fig, axes = plt.subplots(2, 1, figsize=(max(8, len(groups) * 0.9), 8))
    width = 0.8 / max(len(runtimes), 1)
    for i, runtime in enumerate(runtimes):
        by = {(r["model"], r["frames"], r["threads"]): r for r in result["rows"]
              if r["runtime"] == runtime}
        xs = [g + i * width for g in range(len(groups))]
        axes[0].bar(xs, [by[g]["median_ms"] if g in by else 0 for g in groups], width,
                    label=runtime)
        axes[1].bar(xs, [by[g].get("gflops") or 0 if g in by else 0 for g in groups], width,
                    label=runtime)
    labels = [f"{m}\nT={f} t={t}" for m, f, t in groups]
    for ax, title in zip(axes, ("median latency, ms (log)", "GFLOP/s")):
        ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))])
        ax.set_xticklabels(labels, fontsize=7, rotation=45, ha="right")
        ax.set_title(title)
        ax.legend(fontsize=8)
    axes[0].set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    format_chart(result, path.with_name(path.stem + "-formats.png"), plt)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="hifigan_v3 and vocos_small, 128 frames, 1 round of 2 runs")
    parser.add_argument("--quantized", action="store_true",
                        help="int8: amphora and ONNX Runtime on float32 and int8 files of "
                             f"{', '.join(QUANTIZED_MODELS)} at 512 frames "
                             f"(runtimes {', '.join(QUANTIZED_RUNTIMES)})")
    parser.add_argument("--models", help=f"comma list of {', '.join([*MODELS, *SHIPPED])}")
    parser.add_argument("--frames", help="comma list (default 128,512,2048)")
    parser.add_argument("--threads", help="comma list (default 1,2)")
    parser.add_argument("--runtimes",
                        help=f"comma list of {', '.join(RUNTIMES + list(ENGINES))}")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3)")
    parser.add_argument("--runs", type=int, help="timed runs per round (default 3)")
    parser.add_argument("--amphora", help="amphora binary (default $AMPHORA_BIN or build/amphora)")
    parser.add_argument("--workdir", type=pathlib.Path, default=ROOT / "out" / "bench-packages",
                        help="where exported packages are cached (default out/bench-packages)")
    parser.add_argument("--out", type=pathlib.Path, default=BENCH / "results")
    parser.add_argument("--no-chart", action="store_true")
    parser.add_argument("--render", type=pathlib.Path, metavar="JSON",
                        help="only re-write the table and chart of an earlier (or partial) run")
    args = parser.parse_args()
    if args.render:
        result = json.loads(args.render.read_text())
        result["machine"]["fma_peak_gflops"] = {
            int(k): v for k, v in result["machine"]["fma_peak_gflops"].items()}
        table = markdown(result)
        args.render.with_suffix(".md").write_text(table)
        if not args.no_chart:
            chart(result, args.render.with_suffix(".png"))
        print(table)
        return
    quick = args.quick
    split = lambda text, default, kind=str: [kind(x) for x in text.split(",")] if text \
        else default
    args.models = split(args.models, ["hifigan_v3", "vocos_small"] if quick else
                        QUANTIZED_MODELS if args.quantized else
                        [m for m in MODELS if m != "tiny_hifigan"])
    args.frames = split(args.frames, [128] if quick else [512] if args.quantized
                        else [128, 512, 2048], int)
    args.threads = split(args.threads, [2] if quick else [1, 2], int)
    args.runtimes = split(args.runtimes, QUANTIZED_RUNTIMES if args.quantized else RUNTIMES)
    args.rounds = args.rounds or (1 if quick else 3)
    args.runs = args.runs or (2 if quick else 3)
    for name in args.models:
        if name not in MODELS and name not in SHIPPED:
            sys.exit(f"harness: unknown model '{name}'; known: {', '.join([*MODELS, *SHIPPED])}")
    known = RUNTIMES + list(ENGINES)
    for runtime in args.runtimes:
        if runtime not in known:
            sys.exit(f"harness: unknown runtime '{runtime}'; known: {', '.join(known)}")
    binary = amphora_binary(args.amphora)
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    log("measuring the FMA peak ...")
    result = {"command": " ".join(["bench/harness.py"] + sys.argv[1:]),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "rounds": args.rounds, "runs": args.runs,
              "machine": machine_info(binary, args.threads)}
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = args.out / f"{stamp}.json"

    def checkpoint(rows):
        json_path.write_text(json.dumps(dict(result, rows=rows, partial=True), indent=1))

    result["rows"] = run_matrix(args, binary, args.workdir, checkpoint)
    result["machine"]["load_average_at_end"] = os.getloadavg()
    json_path.write_text(json.dumps(result, indent=1))
    table = markdown(result)
    (args.out / f"{stamp}.md").write_text(table)
    charted = not args.no_chart and bool(result["rows"]) and chart(result,
                                                                    args.out / f"{stamp}.png")
    print(table)
    log(f"wrote {json_path} (+ .md{', .png' if charted else ''})")


if __name__ == "__main__":
    if shutil.which("cc") is None:
        sys.exit("harness: a C compiler (cc) is needed for the FMA peak micro-benchmark")
    main()
