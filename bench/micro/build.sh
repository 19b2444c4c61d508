#!/usr/bin/env bash
# Builds the micro-benchmarks against a configured build directory's libamphora.a.
# usage: bench/micro/build.sh [BUILD_DIR]   (default: build) -> BUILD_DIR/bench_conv
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
ninja -C "$build" amphora_lib
for name in bench_conv bench_int8; do
  c++ -std=c++20 -O3 -march=haswell -mfma -fopenmp -Wall -Wextra -I"$root/src" -I"$root/include" \
    "$root/bench/micro/$name.cpp" "$build/libamphora.a" \
    -lbenchmark -ldnnl -lfmt -lpthread -o "$build/$name"
done
echo "built $build/bench_conv $build/bench_int8"
