#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz and runs each for a bounded time with a
# fixed seed, starting from a small seed corpus (valid .npy files, ONNX node-test models, audio
# files in several formats, package manifests). Prints one line per target; a log's tail only
# when something failed.
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]   (default 60)
# Exits non-zero when a target finds a crash (the reproducer is left in build-fuzz/findings).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SECONDS_PER_TARGET="${1:-60}"
BUILD="$ROOT/build-fuzz"
CXX_COMPILER="$(command -v clang++ || command -v clang++-14 || true)"
if [ -z "$CXX_COMPILER" ]; then
  echo "fuzz: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$CXX_COMPILER" -DAMPHORA_WERROR=OFF -DAMPHORA_BUILD_FUZZERS=ON \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
TARGETS=(fuzz_npy fuzz_onnx_loader fuzz_wav fuzz_manifest fuzz_serve_request)
if ! ninja -C "$BUILD" -j"$(nproc)" "${TARGETS[@]}" >"$BUILD/build.log" 2>&1; then
  grep -E 'error|FAILED' -A3 "$BUILD/build.log" | head -40 >&2
  echo "fuzz: build failed; see $BUILD/build.log" >&2
  exit 1
fi

# Seed corpora: a few numpy-style files and the smallest ONNX node-test models.
SEEDS="$BUILD/seeds"
mkdir -p "$SEEDS/npy" "$SEEDS/onnx" "$SEEDS/wav" "$SEEDS/manifest" "$SEEDS/serve" "$BUILD/findings"
PYTHON="$ROOT/.venv/bin/python"
[ -x "$PYTHON" ] || PYTHON=python3
"$PYTHON" - "$SEEDS/npy" <<'PY' || echo "fuzz: numpy not available, .npy corpus starts empty"
import sys, numpy as np
out = sys.argv[1]
for i, a in enumerate([np.zeros((2, 3), np.float32), np.arange(5, dtype=np.int64),
                       np.array(True), np.ones((1, 0, 4), np.uint8), np.float64(1.5),
                       np.asfortranarray(np.ones((2, 2), np.int32))]):
    np.save(f"{out}/seed{i}.npy", a)
PY
NODE_DATA=/usr/share/libonnx-testdata/data/node
if [ -d "$NODE_DATA" ]; then
  for t in test_add test_relu test_conv_with_strides_padding test_reshape_reordered_all_dims \
           test_slice test_pad test_constant test_cast_FLOAT_to_DOUBLE test_matmul_2d; do
    if [ -f "$NODE_DATA/$t/model.onnx" ]; then cp "$NODE_DATA/$t/model.onnx" "$SEEDS/onnx/$t.onnx"; fi
  done
fi
# Audio: libsndfile itself writes one short file per container and encoding the reader should
# take, since the fuzzer cannot find a new container on its own (libsndfile is not instrumented).
python3 - "$SEEDS/wav" <<'PY' || echo "fuzz: libsndfile not reachable, audio corpus starts empty"
import ctypes, math, sys
lib = ctypes.CDLL("libsndfile.so.1")
class SfInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]
lib.sf_open.restype = ctypes.c_void_p
lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SfInfo)]
lib.sf_writef_float.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                               ctypes.c_int64]
lib.sf_close.argtypes = [ctypes.c_void_p]
WAV, AIFF, AU, W64 = 0x10000, 0x20000, 0x30000, 0xB0000
WAVEX, FLAC, CAF = 0x130000, 0x170000, 0x180000
PCM_U8, PCM_16, PCM_24, PCM_32, FLOAT, ULAW, IMA_ADPCM, MS_ADPCM = 5, 2, 3, 4, 6, 0x10, 0x12, 0x13
cases = [("pcm16_mono.wav", WAV | PCM_16, 16000, 1), ("pcm16_stereo.wav", WAV | PCM_16, 22050, 2),
         ("pcm24.wav", WAV | PCM_24, 24000, 1), ("pcm32.wav", WAV | PCM_32, 8000, 1),
         ("float.wav", WAV | FLOAT, 44100, 1), ("u8.wav", WAV | PCM_U8, 8000, 1),
         ("ulaw.wav", WAV | ULAW, 8000, 1), ("ima_adpcm.wav", WAV | IMA_ADPCM, 16000, 1),
         ("ms_adpcm.wav", WAV | MS_ADPCM, 16000, 2), ("wavex.wav", WAVEX | PCM_16, 48000, 3),
         ("pcm16.w64", W64 | PCM_16, 16000, 1), ("pcm16.aiff", AIFF | PCM_16, 22050, 1),
         ("float.au", AU | FLOAT, 16000, 1), ("pcm16.caf", CAF | PCM_16, 16000, 1),
         ("pcm16.flac", FLAC | PCM_16, 22050, 2)]
frames = 256
for name, fmt, rate, channels in cases:
    info = SfInfo(0, rate, channels, fmt, 0, 0)
    handle = lib.sf_open(f"{sys.argv[1]}/{name}".encode(), 0x20, ctypes.byref(info))
    if not handle:
        raise SystemExit(f"libsndfile cannot write {name}")
    n = frames * channels
    samples = (ctypes.c_float * n)(
        *[0.5 * math.sin(0.05 * (i // channels) * (1 + i % channels)) for i in range(n)])
    lib.sf_writef_float(handle, samples, frames)
    lib.sf_close(handle)
PY
# Manifests: a minimal hand-written one (short enough for mutations to reach its values soon),
# and those the exporter writes for a waveform head (HiFi-GAN), an ISTFT head with mel
# normalisation (Vocos) and extra inputs (NSF-HiFiGAN), exported once, then kept.
printf '%s' '{"family": "hifigan", "sample_rate": 16000, "hop_length": 32, "n_mels": 20,
  "head": {"type": "waveform"}, "inputs": [{"name": "mel"}]}' >"$SEEDS/manifest/minimal.json"
for family in hifigan vocos nsf_hifigan; do
  [ -f "$SEEDS/manifest/$family.json" ] && continue
  if "$ROOT/scripts/bin/amphora-export" vocoder --family "$family" --random-init --formats onnx \
    --output "$BUILD/packages/$family" >"$BUILD/export.log" 2>&1; then
    cp "$BUILD/packages/$family/amphora.json" "$SEEDS/manifest/$family.json"
  else
    echo "fuzz: exporting $family failed (see $BUILD/export.log); its manifest seed is left out"
  fi
done

# Requests to `amphora serve`: query, Accept and subtype lines, then a body (a speech request, or
# a small mel .npy).
printf '%s\n' '/v1/vocode?model=hifigan&subtype=float' 'audio/wav;q=0.9, audio/L16' 'float' \
  '{"text": "Hello there.", "voice": "v", "speaker": 1, "speed": 1.5}' >"$SEEDS/serve/speech"
{ printf '%s\n' '/v1/vocode?model=a%20b' 'audio/L16' 'pcm16'; cat "$SEEDS/npy/seed0.npy"; } \
  >"$SEEDS/serve/mel" 2>/dev/null || true

status=0
for target in "${TARGETS[@]}"; do
  case "$target" in
    fuzz_npy) corpus="$SEEDS/npy" ;;
    fuzz_onnx_loader) corpus="$SEEDS/onnx" ;;
    fuzz_wav) corpus="$SEEDS/wav" ;;
    fuzz_manifest) corpus="$SEEDS/manifest" ;;
    fuzz_serve_request) corpus="$SEEDS/serve" ;;
  esac
  work="$BUILD/corpus-$target"
  mkdir -p "$work"
  dict=()
  [ -f "$ROOT/tests/fuzz/$target.dict" ] && dict=(-dict="$ROOT/tests/fuzz/$target.dict")
  set +e
  "$BUILD/tests/$target" -seed=1 -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 \
    -max_len=65536 -artifact_prefix="$BUILD/findings/$target-" -print_final_stats=1 \
    "${dict[@]}" "$work" "$corpus" >"$BUILD/$target.log" 2>&1
  rc=$?
  set -e
  if [ $rc != 0 ]; then
    tail -n 15 "$BUILD/$target.log"
    echo "fuzz: $target FAILED (exit $rc); see $BUILD/$target.log and $BUILD/findings/" >&2
    status=1
  else
    echo "fuzz: $target: $(grep -m1 '^Done ' "$BUILD/$target.log" || echo 'finished'), no crash"
  fi
done
exit $status
