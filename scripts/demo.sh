#!/usr/bin/env bash
# The main job: set up what is missing, build, export the default vocoder to ONNX + TorchScript,
# vocode the bundled examples (copy synthesis: wav -> mel -> wav), and print speed and quality.
# Idempotent: the package is re-exported only when it is missing.
#   scripts/demo.sh [--threads N]
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

# The default model: the pretrained HiFi-GAN V1 (universal) that scripts/setup.sh converts into
# Amphion's layout in models/hifigan-universal-v1 (origin and license in its README).
CHECKPOINT="models/hifigan-universal-v1"
if [ ! -f "$PKG/amphora.json" ] || [ "$CHECKPOINT/2500000.pt" -nt "$PKG/amphora.json" ]; then
  echo "== exporting $CHECKPOINT -> $PKG (ONNX + TorchScript, with parity check)"
  amphora-export vocoder --checkpoint "$CHECKPOINT" --formats onnx,torchscript --output "$PKG" --force
fi

echo "== vocoding the examples (offline, $THREADS threads)"
for wav in examples/*.wav; do
  name="$(basename "$wav" .wav)"
  amphora vocode --model "$PKG" --wav "$wav" -o "$OUT/$name.offline.wav" --threads "$THREADS" --force
  amphora compare "$wav" "$OUT/$name.offline.wav" --model "$PKG"
done
# Streaming (stateful, exact) comes with the streaming issue; until then only offline runs.
echo "== results in $OUT"
