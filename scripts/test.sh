#!/usr/bin/env bash
# Runs every test: C++ unit, conformance and end-to-end tests (ctest) and the exporter's pytest
# suite. Installs and builds what is missing first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
source scripts/env.sh

status=0
echo "== C++ tests (ctest)"
(cd build && ctest --output-on-failure -j"$(nproc)") || status=1
echo "== Python tests (pytest)"
.venv/bin/python -m pytest -q tests/python tests/e2e || status=1
exit $status
