#!/usr/bin/env bash
# Install llama-cpp-python (with its OpenAI-compatible server) into .venv.
#
# There is no binary wheel on the index, so it builds from source (~7-9 min on
# 2 cores). Two things matter on these machines (docs/RELIABILITY.md):
#   * the build must be non-native with the AMX kernels off — the CPUs
#     advertise AMX but ggml's AMX matmul segfaults;
#   * the SIMD flags are then ours to choose, so they are read from
#     /proc/cpuinfo: a machine without AVX-512 gets a build without it.
# The wheel is cached under $TTSCALE_WHEEL_CACHE keyed by version and flags,
# so a second setup (or the next CI run on the same machine) skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE="${TTSCALE_WHEEL_CACHE:-$HOME/.cache/ttscale/wheels}"
PY=.venv/bin/python

if "$PY" - "$VERSION" <<'EOF' 2>/dev/null
import sys, importlib.metadata as md
sys.exit(0 if md.version("llama_cpp_python") == sys.argv[1] else 1)
EOF
then
  # Installed already; make sure the server's own dependencies are there too.
  "$PY" -m pip install --quiet --disable-pip-version-check "llama-cpp-python[server]==$VERSION" >/dev/null
  exit 0
fi

cpu_has() { grep -m1 -qw "$1" /proc/cpuinfo 2>/dev/null; }
onoff() { if cpu_has "$1"; then echo ON; else echo OFF; fi; }

FLAGS="-DGGML_NATIVE=OFF"
FLAGS+=" -DGGML_AVX=$(onoff avx) -DGGML_AVX2=$(onoff avx2) -DGGML_FMA=$(onoff fma) -DGGML_F16C=$(onoff f16c)"
FLAGS+=" -DGGML_AVX512=$(onoff avx512f) -DGGML_AVX512_VNNI=$(onoff avx512_vnni)"
FLAGS+=" -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
FLAGS+=" -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF"

KEY=$(printf '%s %s' "$VERSION" "$FLAGS" | sha256sum | cut -c1-16)
DEST="$CACHE/llama-cpp-python-$KEY"
mkdir -p "$DEST"

if ! ls "$DEST"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $VERSION from source (takes several minutes)"
  echo "  CMAKE_ARGS=$FLAGS"
  TMP=$(mktemp -d "$CACHE/build.XXXXXX")
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --no-binary llama-cpp-python -w "$TMP" "llama-cpp-python==$VERSION"
  # Move into place only when the build finished: a killed build leaves no
  # half-written wheel in the cache.
  mv "$TMP"/llama_cpp_python-*.whl "$DEST"/
  rm -rf "$TMP"
  printf '%s\n' "$FLAGS" > "$DEST/CMAKE_ARGS"
fi

WHEEL=$(ls "$DEST"/llama_cpp_python-*.whl | head -1)
"$PY" -m pip install --quiet --disable-pip-version-check "${WHEEL}[server]"
