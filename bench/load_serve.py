#!/usr/bin/env python3
"""Load and soak test of `amphora serve` on loopback: N clients stream vocoder requests back to
back for a fixed time, each response checked against the offline output (float32 WAV, within
1e-4). Reports first-audio latency and real-time factor under load (p50/p99), requests per
second, failures and the server's resident memory growth after warm-up. Bounded: it stops by
itself after --seconds, then stops the server with SIGTERM (which must exit 0).

  .venv/bin/python bench/load_serve.py                                # 64 clients, 5 minutes
  .venv/bin/python bench/load_serve.py --clients 16 --seconds 20      # the short run CI makes
  .venv/bin/python bench/load_serve.py --model pkg/hifigan --json out.json

Without --model it exports the shipped reference vocoder (models/hifigan-flite-v1-quarter) first.
Exit status 1 when a response failed or differed, or RSS grew more than --max-rss-growth.
"""
import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from e2e_util import amphora_bin  # noqa: E402
from serve_util import Server, Stream, npy_bytes, rss_bytes, wav_samples  # noqa: E402


def cpu_model():
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def prepare(args, work):
    """The package, its mels (one per length) and their offline outputs."""
    model = pathlib.Path(args.model) if args.model else work / "hifigan-flite-v1-quarter"
    if not args.model:
        subprocess.run([str(ROOT / "scripts" / "bin" / "amphora-export"), "vocoder",
                        "--checkpoint", str(ROOT / "models" / "hifigan-flite-v1-quarter"),
                        "--formats", "onnx", "--output", str(model), "--quiet"], check=True, timeout=600)
    manifest = json.loads((model / "amphora.json").read_text())
    inputs = []
    for i, frames in enumerate(args.frames):
        # Log-mel-like values: noise around -5, as a speech mel sits between -11 and 2.
        mel = (np.random.RandomState(i).randn(manifest["n_mels"], frames) - 5).astype(np.float32)
        np.save(work / f"mel{i}.npy", mel)
        subprocess.run([str(amphora_bin()), "vocode", "--model", str(model), "--mel",
                        str(work / f"mel{i}.npy"), "-o", str(work / f"ref{i}.npy"), "--threads",
                        "1"], check=True, capture_output=True, timeout=600)
        inputs.append((npy_bytes(mel), np.load(work / f"ref{i}.npy").ravel()))
    return model, manifest["sample_rate"], inputs


def percentile(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds before the RSS baseline and the latency figures "
                             "(default: 0.4 x --seconds, at least 5: with 64 streams on 2 "
                             "cores the kernel sets and their shape plans fill in for about "
                             "two minutes before RSS levels off)")
    parser.add_argument("--model", help="vocoder package (default: export the shipped one)")
    parser.add_argument("--frames", type=lambda s: [int(x) for x in s.split(",")],
                        default=[100, 200, 400], help="mel lengths the clients cycle through")
    parser.add_argument("--max-streams", type=int, default=None,
                        help="server --max-streams (default: --clients)")
    parser.add_argument("--queue", type=int, default=None, help="server --queue (default: --clients)")
    parser.add_argument("--threads", type=int, default=1, help="server --threads per stream")
    parser.add_argument("--max-rss-growth", type=float, default=0.10)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else max(5.0, 0.4 * args.seconds)

    work = pathlib.Path(tempfile.mkdtemp(prefix="amphora-load-"))
    model, rate, inputs = prepare(args, work)
    server = Server("--model", model, "--max-streams", args.max_streams or args.clients,
                    "--queue", args.queue or args.clients, "--threads", args.threads)
    start = time.monotonic()
    end = start + args.seconds
    lock = threading.Lock()
    records, failures, rss = [], [], []

    def client(index):
        n = 0
        while time.monotonic() < end:
            body, expected = inputs[(index + n) % len(inputs)]
            n += 1
            began = time.monotonic() - start
            try:
                stream = Stream(server, "/v1/vocode?subtype=float", body,
                                {"Content-Type": "application/octet-stream"})
                if stream.status != 200:
                    raise RuntimeError(f"status {stream.status}: {stream.body[:200]!r}")
                samples, got_rate = wav_samples(stream.body)
                if got_rate != rate or samples.shape != expected.shape:
                    raise RuntimeError(f"{samples.shape} samples at {got_rate} Hz, expected "
                                       f"{expected.shape} at {rate}")
                error = float(np.abs(samples - expected).max())
                if error > 1e-4:
                    raise RuntimeError(f"differs from the offline output by {error:.2e}")
                with lock:
                    records.append((began, stream.first_audio_s, stream.total_s,
                                    len(samples) / rate))
            except Exception as e:  # every failure is counted and reported, none stops the run
                with lock:
                    failures.append(f"client {index}: {e}")

    def sample_memory():
        while time.monotonic() < end and server.proc.poll() is None:
            rss.append((time.monotonic() - start, rss_bytes(server.proc.pid)))
            time.sleep(1.0)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    threads.append(threading.Thread(target=sample_memory))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    exit_code = server.stop()

    measured = [r for r in records if r[0] >= warmup] or records
    first_audio = [r[1] * 1000 for r in measured]
    rtf = [r[2] / r[3] for r in measured]
    baseline = max([m for t, m in rss if t <= warmup] or [rss[0][1]])
    peak = max(m for _, m in rss)
    figures = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "clients": args.clients,
        "seconds": args.seconds, "warmup_seconds": warmup, "model": str(model),
        "mel_frames": args.frames, "requests": len(records), "failures": len(failures),
        "requests_per_second": len(records) / args.seconds,
        "audio_seconds_per_second": sum(r[3] for r in records) / args.seconds,
        "first_audio_ms": {"p50": percentile(first_audio, 50), "p99": percentile(first_audio, 99)},
        "rtf": {"p50": percentile(rtf, 50), "p99": percentile(rtf, 99)},
        "rss_mb": {"after_warmup": baseline / 2**20, "peak_after": peak / 2**20},
        "rss_growth": peak / baseline - 1, "server_exit_code": exit_code,
        "rss_mb_every_10s": [round(m / 2**20) for t, m in rss[::10]],
    }
    print(f"amphora serve under load: {args.clients} clients for {args.seconds:g} s "
          f"({figures['cpu']}, {figures['cores']} cores)")
    print(f"  {len(records)} responses ({figures['requests_per_second']:.1f}/s, "
          f"{figures['audio_seconds_per_second']:.1f} s of audio per second), "
          f"{len(failures)} failed or differing")
    print(f"  first audio p50 {figures['first_audio_ms']['p50']:.0f} ms, "
          f"p99 {figures['first_audio_ms']['p99']:.0f} ms; real-time factor (per client) "
          f"p50 {figures['rtf']['p50']:.3f}, p99 {figures['rtf']['p99']:.3f}")
    print(f"  RSS {figures['rss_mb']['after_warmup']:.0f} MB after {warmup:g} s of warm-up, "
          f"peak {figures['rss_mb']['peak_after']:.0f} MB ({100 * figures['rss_growth']:+.1f} %); "
          f"server exit {exit_code}")
    for failure in failures[:10]:
        print("  FAILED", failure)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    ok = not failures and records and figures["rss_growth"] <= args.max_rss_growth \
        and exit_code == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
