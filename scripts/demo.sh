#!/usr/bin/env bash
# The main job: set up what is missing, build, export the default vocoder and the English voice to
# ONNX + TorchScript, vocode the bundled examples (copy synthesis: wav -> mel -> wav) and speak a
# sentence from text, each offline and streaming, and print speed (real-time factor, first-audio
# latency) and quality (log-mel L1 vs the input; what a speech recogniser hears).
# Idempotent: a package is re-exported only when it is missing or its checkpoint changed.
#   scripts/demo.sh [--threads N]     (CHECKPOINT=DIR picks another Amphion release folder;
#                                      MEL_MAGNITUDE=0 exports the generator's own magnitude)
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

# The default model: amphora's reference vocoder, a quarter-width HiFi-GAN V1 trained on flite
# speech and shipped in Amphion's checkpoint layout (models/hifigan-flite-v1-quarter/README.md
# says how).
# It is exported with --mel-magnitude: its phase, the mel's own magnitude (docs/exporter.md).
# CHECKPOINT=models/hifigan-universal-v1 scripts/demo.sh runs the larger pretrained V1 instead.
CHECKPOINT="${CHECKPOINT:-models/hifigan-flite-v1-quarter}"
VOCODER_FLAGS=()
[ "${MEL_MAGNITUDE:-1}" = 0 ] || VOCODER_FLAGS=(--mel-magnitude)
WEIGHTS="$(ls "$CHECKPOINT"/*.pt 2>/dev/null | head -n 1)"
if [ -z "$WEIGHTS" ]; then
  echo "demo: no checkpoint (*.pt) in $CHECKPOINT" >&2
  exit 1
fi
# export_once KIND CHECKPOINT PACKAGE [FLAG...]: exports unless the package is there and was
# exported from that checkpoint with those flags since the checkpoint last changed.
export_once() {
  local weights made_by="$2${4:+ ${*:4}}"
  weights="$(find "$2" -name '*.pt' -o -name pytorch_model.bin | head -n 1)"
  if [ ! -f "$3/amphora.json" ] || [ "$weights" -nt "$3/amphora.json" ] ||
     ! grep -qxF "$made_by" "$3/.checkpoint" 2>/dev/null; then
    echo "== exporting $2 -> $3 (ONNX + TorchScript, with parity check) ${*:4}"
    amphora-export "$1" --checkpoint "$2" --formats onnx,torchscript --output "$3" --force \
      "${@:4}"
    echo "$made_by" > "$3/.checkpoint"
  fi
}
export_once vocoder "$CHECKPOINT" "$PKG" "${VOCODER_FLAGS[@]}"

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
# The English voice: amphora's four-speaker FastSpeech2, trained on flite's voices and shipped in
# Amphion's layout (models/README.md); the sentence below was never in its training data.
VOICE="$OUT/voice"
export_once acoustic models/fastspeech2-flite "$VOICE"
TEXT="The museum opens at nine, but the quiet hour before noon is when the paintings seem to breathe."
echo "== speaking text ($THREADS threads): \"$TEXT\""
amphora tts --voice "$VOICE" --vocoder "$PKG" --text "$TEXT" -o "$OUT/tts.offline.wav" \
  --threads "$THREADS" --force
amphora tts --voice "$VOICE" --vocoder "$PKG" --text "$TEXT" -o "$OUT/tts.stream.wav" \
  --threads "$THREADS" --stream --force
PYTHONPATH=python .venv/bin/python -m amphora_export.speech_measures transcribe \
  "$OUT/tts.offline.wav" --text "$TEXT"
echo "== results in $OUT"
