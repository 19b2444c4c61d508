#!/usr/bin/env bash
# Streaming numbers for bench/RESULTS.md, on a HiFi-GAN V3 random-init package:
#   1. `amphora bench --stream` at 16-frame pushes, 1 and 2 threads: first-audio latency,
#      per-push p50/p99, throughput relative to the offline run (interleaved in one process);
#   2. peak RSS streaming 10 s and 10 min of mel (--skip-offline; the input is made per push),
#      which must agree within 10 %.
# Prints a markdown table. Run on a quiet machine:  bench/streaming.sh [AMPHORA_BIN]
# Another HiFi-GAN config from bench/configs:  STREAM_CONFIG=hifigan_v1 bench/streaming.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
AMPHORA="${1:-${AMPHORA_BIN:-build/amphora}}"
CONFIG="${STREAM_CONFIG:-hifigan_v3}"
PKG="out/bench-packages/$CONFIG-stream"
if [ ! -f "$PKG/amphora.json" ]; then
  scripts/bin/amphora-export vocoder --family hifigan --random-init --seed 0 \
    --config "bench/configs/$CONFIG.json" --formats onnx --output "$PKG" --force --quiet
fi
field() { .venv/bin/python -c "import json,sys; print(round(json.load(open('$1'))['$2'], 3))"; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "amphora $(git rev-parse --short HEAD); package $PKG (22.05 kHz, hop 256)"
echo
echo "| threads | push | first audio (ms) | push p50 / p99 (ms) | stream RTF | throughput vs offline |"
echo "|---|---|---|---|---|---|"
for threads in 1 2; do
  "$AMPHORA" bench "$PKG" --stream --chunk-frames 16 --frames 512 --threads "$threads" \
    --warmup 1 --runs 5 --json > "$TMP/s$threads.json"
  j="$TMP/s$threads.json"
  echo "| $threads | 16 frames | $(field "$j" first_audio_ms) | $(field "$j" chunk_p50_ms) / $(field "$j" chunk_p99_ms) | $(field "$j" stream_rtf) | $(field "$j" throughput_vs_offline)x |"
done
echo
echo "| input | frames | peak RSS (MB) |"
echo "|---|---|---|"
for frames in 861 51680; do
  "$AMPHORA" bench "$PKG" --stream --chunk-frames 16 --frames "$frames" --threads 2 \
    --warmup 0 --runs 1 --skip-offline --json > "$TMP/m$frames.json"
  label=$([ "$frames" = 861 ] && echo "10 s" || echo "10 min")
  echo "| $label | $frames | $(field "$TMP/m$frames.json" peak_rss_mb) |"
done
