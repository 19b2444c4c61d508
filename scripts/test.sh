#!/usr/bin/env bash
# Runs every test: C++ unit, ONNX conformance (ctest), the exporter and end-to-end suites
# (pytest), a time-bounded fuzzing pass over the parsers (ONNX loader, .npy, audio files, package
# manifest), and the unit and CLI tests again under ASan + UBSan (tests/sanitize/run.sh).
# Installs and builds what is missing first.
#   scripts/test.sh                 # everything
#   AMPHORA_FUZZ_SECONDS=0 ...      # skip fuzzing (default 30 s per target)
#   AMPHORA_SANITIZE=0 ...          # skip the sanitizer build and run
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
source scripts/env.sh

status=0
echo "== C++ tests (ctest)"
(cd build && ctest --output-on-failure -j"$(nproc)") || status=1
echo "== ONNX backend node tests (ops amphora claims)"
build/tests/run_node_tests --skips tests/conformance/skips.txt | tail -n 3 || status=1
echo "== fuzzing (tests/fuzz/run.sh)"
FUZZ_SECONDS="${AMPHORA_FUZZ_SECONDS:-30}"
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  tests/fuzz/run.sh "$FUZZ_SECONDS" 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\] |^#[0-9]+' | tail -n 20 || status=1
fi
echo "== Python tests (pytest)"
.venv/bin/python -m pytest -q tests/python tests/e2e || status=1
echo "== sanitizers (ASan + UBSan: tests/sanitize/run.sh)"
if [ "${AMPHORA_SANITIZE:-1}" != 0 ]; then
  tests/sanitize/run.sh || status=1
fi
exit $status
