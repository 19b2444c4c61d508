"""The short load test of `amphora serve` (bench/load_serve.py; the long one, 64 clients for 5
minutes, is a bench command): 16 clients stream for 20 s on loopback, every response equals the
offline output, RSS stays within 10 % after warm-up, and the server exits 0 on SIGTERM."""
import json
import os
import subprocess
import sys

from e2e_util import ROOT


def test_16_clients_for_20_seconds_get_exact_audio_in_flat_memory(tmp_path):
    # Under AddressSanitizer (tests/sanitize/run.sh) freed memory waits in its quarantine, so
    # RSS measures the sanitizer, not the server: only the responses are checked there.
    max_growth = "100" if "ASAN_OPTIONS" in os.environ else "0.10"
    subprocess.run([str(ROOT / "scripts" / "bin" / "amphora-export"), "vocoder", "--family",
                    "hifigan", "--random-init", "--seed", "0", "--formats", "onnx", "--output",
                    str(tmp_path / "hifigan"), "--quiet"], check=True, timeout=600)
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "load_serve.py"), "--clients",
                           "16", "--seconds", "20", "--model", str(tmp_path / "hifigan"),
                           "--max-rss-growth", max_growth, "--json", str(tmp_path / "load.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads((tmp_path / "load.json").read_text())
    assert figures["failures"] == 0 and figures["requests"] >= 16
    assert figures["rss_growth"] <= float(max_growth) and figures["server_exit_code"] == 0
    assert figures["first_audio_ms"]["p50"] > 0
