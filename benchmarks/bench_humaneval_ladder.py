"""Greedy HumanEval pass@1 across the real ladder, on all 164 problems, through ``ttscale sweep``.

    .venv/bin/python benchmarks/bench_humaneval_ladder.py [--models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b] [--chat] [--limit K] [--threads 2] [--out DIR] [--write]

The same as ``ttscale sweep --model M ... --task humaneval --n 1 --temperature 0 --top-p 1
--max-tokens 384`` (512 with ``--chat``; resumable into ``--out``: a re-run reads the stored samples). Raw: HumanEval's
prompt is a function to continue, and the task grades prompt + completion with the hidden tests in
the sandbox. ``--chat``: ``--task humaneval-chat --prompt chat``, the function asked for as a chat
turn of the model's own template, the answer's code block graded as a script (the form the instruct
models were tuned on and their authors evaluate them in). Printed per model: pass@1 with its 95%
interval over problems, the share passing the docstring examples (the cheap verifier), and seconds
per problem. The figures their authors publish are for their own harness on unquantized weights; a
large gap from them is a bug to look for.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_md import section, write_section  # noqa: E402

from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.model_sweep import sweep_and_report  # noqa: E402
from ttscale.sweep_settings import SweepSettings  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="qwen2.5-coder-0.5b,qwen2.5-coder-1.5b")
    parser.add_argument("--chat", action="store_true", help="humaneval-chat posed as a chat turn")
    parser.add_argument("--limit", type=int, default=None, help="this many problems (chosen by seed 0), not all 164")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="default humaneval-ladder[-chat]")
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)
    models = tuple(args.models.split(","))
    # A chat answer restates the function (signature and docstring) before its body: more room.
    task, prompt, max_new = ("humaneval-chat", "chat", 512) if args.chat else ("humaneval", "raw", 384)
    out = args.out or Path("humaneval-ladder" + ("-chat" if args.chat else ""))
    settings = SweepSettings(models=models, task=task, n=1, limit=args.limit, threads=args.threads, n_boot=500,
                             prompt=prompt,
                             sampling=SamplingConfig(temperature=0.0, top_p=1.0, max_new_tokens=max_new))
    run, analysis, result = sweep_and_report(settings, out, show_progress=True)
    rows = ["| model | pass@1 [95% CI] | docstring examples pass (a problem without any counts as passing) "
            "| s per problem |", "|---|---|---|---|"]
    for model in models:
        (passed,) = [d for d in analysis.details if d.point.model == model and d.point.technique == "pass@k (oracle)"]
        pools = [p for (name, _, _), cell in analysis.pools.items() if name == model for p in cell]
        verified = [bool(p.verified[0]) for p in pools if p.verified is not None]
        rows.append(f"| {model} | {passed.point.performance:.3f} [{passed.point.ci_low:.3f}, "
                    f"{passed.point.ci_high:.3f}] | {sum(verified) / max(1, len(verified)):.3f} of {len(verified)} | "
                    f"{passed.infer_seconds:.2f} |")
    form = ("chat turns (`humaneval-chat --prompt chat`: the answer's code block run as a script)" if args.chat
            else "raw prompts (the completion continues the function)")
    body = (f"{len(run.problems)} HumanEval problems, one greedy sample each (temperature 0, at most {max_new} new "
            f"tokens), {form}, GGUF weights as packaged, in-process llama.cpp.\n\n" + "\n".join(rows))
    command = (f".venv/bin/python benchmarks/bench_humaneval_ladder.py --models {args.models}"
               + (" --chat" if args.chat else "") + (f" --limit {args.limit}" if args.limit else "")
               + f" --threads {args.threads} --write")
    title = "HumanEval across the real ladder: greedy pass@1" + (", as chat turns" if args.chat else "")
    markdown = section(title, command, None, body)
    print(markdown)
    if args.write:
        write_section("bench_humaneval_ladder" + ("_chat" if args.chat else "") + ("_subset" if args.limit else ""),
                      markdown)


if __name__ == "__main__":
    main()
