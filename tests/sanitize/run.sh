#!/usr/bin/env bash
# Builds the unit tests and the `amphora` CLI with clang under AddressSanitizer (with
# LeakSanitizer) and UndefinedBehaviorSanitizer in build-asan, and runs them: ctest (unit tests
# and ONNX conformance), then the pytest suites that drive the CLI, pointed at the sanitized
# binary. Any sanitizer report fails the run, even from a process whose non-zero exit a test
# expected: every report goes to a file under build-asan/reports, and the run fails when one
# appears. Prints a few lines; the logs' tails only when something failed.
#   tests/sanitize/run.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/tests/sanitize"
BUILD="$ROOT/build-asan"
CXX_COMPILER="$(command -v clang++ || command -v clang++-14 || true)"
if [ -z "$CXX_COMPILER" ]; then
  echo "sanitize: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

# -O2 keeps the runs short; line tables are all a report's stack trace needs and keep compiling
# and linking fast. NDEBUG stays off so that library asserts (nlohmann::json's on out-of-range
# access) fire too. Instrumentation defeats some `omp simd` loops: -Wno-pass-failed hushes that.
SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$CXX_COMPILER" -DAMPHORA_WERROR=OFF \
  -DCMAKE_CXX_FLAGS="$SANITIZE -Wno-pass-failed" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
echo "sanitize: building (log: build-asan/build.log)"
if ! ninja -C "$BUILD" -j"$(nproc)" >"$BUILD/build.log" 2>&1; then
  grep -E 'error|FAILED' -A3 "$BUILD/build.log" | head -40 >&2
  echo "sanitize: build failed; see $BUILD/build.log" >&2
  exit 1
fi

REPORTS="$BUILD/reports"
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1"
ASAN_OPTIONS+=":check_initialization_order=1:strict_string_checks=1:log_path=$REPORTS/asan"
export ASAN_OPTIONS
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$REPORTS/ubsan"
export LSAN_OPTIONS="suppressions=$HERE/lsan.supp:print_suppressions=0"

# ctest runs everything, the ONNX conformance suites included (about half a minute under ASan),
# but install_tree and capi_c_program: they build unsanitized programs against the install of
# this (sanitized) library, which cannot link without the sanitizer runtimes; they check
# packaging and the C ABI's results, not memory, and the regular ctest runs them.
# The tests that make LibTorch refuse an archive run apart, with the slow unwinder that the
# suppression in lsan.supp needs (8-15x slower, so only for them).
LIBTORCH_LEAK_CTEST="IncompatiblePyTorch"
LIBTORCH_LEAK_PYTEST="incompatible_pytorch"
SLOW_UNWIND="$ASAN_OPTIONS:fast_unwind_on_malloc=0"

status=0
echo "sanitize: ctest (log: build-asan/ctest.log)"
if ! (cd "$BUILD" &&
  ctest --output-on-failure -j"$(nproc)" \
    -E "install_tree|capi_c_program|$LIBTORCH_LEAK_CTEST" &&
  ASAN_OPTIONS="$SLOW_UNWIND" ctest --output-on-failure -R "$LIBTORCH_LEAK_CTEST") \
  >"$BUILD/ctest.log" 2>&1; then
  grep -E '\*\*\*|tests passed' "$BUILD/ctest.log" | tail -n 20 >&2
  status=1
fi
grep -E 'tests passed' "$BUILD/ctest.log" | sed 's/^/sanitize: ctest: /'

echo "sanitize: pytest over the CLI (log: build-asan/pytest.log)"
export AMPHORA_BIN="$BUILD/amphora"
PYTEST=("$ROOT/.venv/bin/python" -m pytest -q -p no:cacheprovider)
CLI_SUITES=(tests/e2e tests/python/test_vocode_cli.py tests/python/test_audio_parity.py
  tests/python/test_reference_model.py::test_metrics_match_amphora_compare
  tests/python/test_bench_harness.py tests/python/test_torchscript_backend.py)
if ! { "${PYTEST[@]}" "${CLI_SUITES[@]}" -k "not $LIBTORCH_LEAK_PYTEST" &&
  ASAN_OPTIONS="$SLOW_UNWIND" "${PYTEST[@]}" tests/python/test_torchscript_backend.py \
    -k "$LIBTORCH_LEAK_PYTEST"; } >"$BUILD/pytest.log" 2>&1; then
  tail -n 30 "$BUILD/pytest.log" >&2
  status=1
fi
grep -E '^[0-9]+ (passed|failed)|passed|failed' "$BUILD/pytest.log" | tail -n 2 |
  sed 's/^/sanitize: pytest: /'

reports=("$REPORTS"/*)
if [ -e "${reports[0]}" ]; then
  echo "sanitize: ${#reports[@]} sanitizer report(s); the first:" >&2
  head -n 40 "${reports[0]}" >&2
  echo "sanitize: all reports in $REPORTS" >&2
  status=1
fi
exit $status
