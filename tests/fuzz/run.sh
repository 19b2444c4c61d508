#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz and runs each for a bounded time with a
# fixed seed, starting from a small seed corpus (valid .npy files and ONNX node-test models).
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
ninja -C "$BUILD" -j"$(nproc)" fuzz_npy fuzz_onnx_loader

# Seed corpora: a few numpy-style files and the smallest ONNX node-test models.
SEEDS="$BUILD/seeds"
mkdir -p "$SEEDS/npy" "$SEEDS/onnx" "$BUILD/findings"
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

status=0
for target in fuzz_npy fuzz_onnx_loader; do
  corpus="$SEEDS/npy"; [ "$target" = fuzz_onnx_loader ] && corpus="$SEEDS/onnx"
  work="$BUILD/corpus-$target"
  mkdir -p "$work"
  echo "== $target: ${SECONDS_PER_TARGET}s, seed 1"
  set +e
  "$BUILD/tests/$target" -seed=1 -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 \
    -max_len=65536 -artifact_prefix="$BUILD/findings/$target-" -print_final_stats=1 \
    "$work" "$corpus" >"$BUILD/$target.log" 2>&1
  rc=$?
  set -e
  tail -n 12 "$BUILD/$target.log"
  if [ $rc != 0 ]; then
    echo "fuzz: $target FAILED (exit $rc); see $BUILD/$target.log and $BUILD/findings/" >&2
    status=1
  fi
done
exit $status
