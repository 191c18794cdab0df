#!/usr/bin/env bash
# The real-model ladder sweep: sets up (scripts/setup.sh), pulls the two Qwen2.5-Coder rungs
# (1.6 GB, once; verified), then maps the four sizes on two tasks into OUT (default ladder-report):
#   OUT/sums       three- and four-digit sums asked in words: votes, a cascade whose threshold is
#                  chosen on the calibration split, ensembles          (about 3 min on 2 cores)
#   OUT/humaneval  20 HumanEval problems: pass@k, first-verified@k (the docstring examples),
#                  best-of-n by log-probability, a cascade, ensembles  (about 20 min on 2 cores)
# Each sweep is resumable: a killed run picks up where it stopped when this script is run again.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-ladder-report}"
bash scripts/setup.sh
for model in qwen2.5-coder-0.5b qwen2.5-coder-1.5b; do
  .venv/bin/ttscale models pull "$model"
done
LADDER=(--model smollm2-135m --model gemma3-270m --model qwen2.5-coder-0.5b --model qwen2.5-coder-1.5b)
.venv/bin/ttscale sweep "${LADDER[@]}" --task sums:digits=3-4 --n 8 --limit 40 --calibration 40 \
  --temperature 0.8 --top-p 0.95 --max-tokens 8 --n-boot 500 \
  --strategy cascade:k_small=4,k_large=1 --strategy ensemble:k=4 --out "$OUT/sums"
.venv/bin/ttscale sweep "${LADDER[@]}" --task humaneval --n 8 --limit 20 \
  --temperature 0.8 --top-p 0.95 --max-tokens 256 --n-boot 500 \
  --strategy cascade:threshold=0.5,k_small=4,k_large=1 --strategy ensemble:k=4 --out "$OUT/humaneval"
echo "reports: $OUT/sums/index.html $OUT/humaneval/index.html"
