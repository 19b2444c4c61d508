#!/usr/bin/env bash
# The main job: set up what is missing, build, export the default vocoder to ONNX + TorchScript,
# vocode the bundled examples (copy synthesis: wav -> mel -> wav) offline and streaming, and
# print speed (real-time factor, first-audio latency) and quality (log-mel L1 vs the input).
# Idempotent: the package is re-exported only when it is missing or its checkpoint changed.
#   scripts/demo.sh [--threads N]     (CHECKPOINT=DIR picks another Amphion release folder)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
THREADS="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) THREADS="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
source scripts/env.sh

OUT="out/demo"
PKG="$OUT/package"
mkdir -p "$OUT"

# The default model: amphora's reference vocoder, a small HiFi-GAN trained on flite speech and
# shipped in Amphion's checkpoint layout (models/hifigan-flite-small/README.md says how).
# CHECKPOINT=models/hifigan-universal-v1 scripts/demo.sh runs the larger pretrained V1 instead.
CHECKPOINT="${CHECKPOINT:-models/hifigan-flite-small}"
WEIGHTS="$(ls "$CHECKPOINT"/*.pt 2>/dev/null | head -n 1)"
if [ -z "$WEIGHTS" ]; then
  echo "demo: no checkpoint (*.pt) in $CHECKPOINT" >&2
  exit 1
fi
if [ ! -f "$PKG/amphora.json" ] || [ "$WEIGHTS" -nt "$PKG/amphora.json" ] ||
   ! grep -q "$(basename "$CHECKPOINT")" "$PKG/.checkpoint" 2>/dev/null; then
  echo "== exporting $CHECKPOINT -> $PKG (ONNX + TorchScript, with parity check)"
  amphora-export vocoder --checkpoint "$CHECKPOINT" --formats onnx,torchscript --output "$PKG" --force
  echo "$CHECKPOINT" > "$PKG/.checkpoint"
fi

echo "== vocoding the examples ($THREADS threads): offline, then streamed in 16-frame pushes"
for wav in examples/*.wav; do
  name="$(basename "$wav" .wav)"
  amphora vocode --model "$PKG" --wav "$wav" -o "$OUT/$name.offline.wav" --threads "$THREADS" --force
  amphora compare "$wav" "$OUT/$name.offline.wav" --model "$PKG"
  amphora vocode --model "$PKG" --wav "$wav" -o "$OUT/$name.stream.wav" --threads "$THREADS" \
    --stream --chunk-frames 16 --subtype float --force
  amphora vocode --model "$PKG" --wav "$wav" -o "$OUT/$name.offline-float.wav" \
    --threads "$THREADS" --subtype float --force > /dev/null
  echo "   streamed vs offline (the same audio, up to float rounding):"
  amphora compare "$OUT/$name.offline-float.wav" "$OUT/$name.stream.wav" --model "$PKG"
done
echo "== results in $OUT"
