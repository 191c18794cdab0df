"""Which way each instruct model of the real ladder needs its prompts: raw text, or a chat turn.

    .venv/bin/python benchmarks/bench_prompt_style.py [--problems 24] [--threads 2] [--write]

One set of arithmetic questions ("Q: What is 47 + 38?\\nA:", two-digit sums and differences made
here, exact answers, graded ``numeric``: the last number of the completion) is swept greedily
(temperature 0, one sample, 48 new tokens) through ``ttscale sweep``'s own code, once with
``--prompt raw`` and once with ``--prompt chat``, for every installed instruct model
(``ttscale models pull NAME``), and under both ways a JSONL completion may end: at the first
newline (``stop=line``) or at a blank line (``stop=blank``). A raw prompt is continued as text: a
model that answers and then goes on writing ("85\\nB: 121\\nC: ...") is graded on the last number
it wrote, so the stop decides as much as the style. Printed: accuracy with its 95% interval, mean
prompt tokens (the template's share of the prefill) and seconds per problem, side by side.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_md import section, write_section  # noqa: E402

from ttscale.backends.chat_posing import PromptStyle  # noqa: E402
from ttscale.cards import installed_path  # noqa: E402
from ttscale.logs import Verbosity, configure  # noqa: E402
from ttscale.model_sweep import sweep_and_report  # noqa: E402
from ttscale.store import Store  # noqa: E402
from ttscale.sweep_settings import SweepSettings  # noqa: E402
from ttscale.types import SamplingConfig  # noqa: E402

INSTRUCT_MODELS = ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def questions(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        if i % 2:
            a, b = max(a, b), min(a, b)
            lines.append({"id": f"q{i}", "prompt": f"Q: What is {a} - {b}?\nA:", "answer": a - b})
        else:
            lines.append({"id": f"q{i}", "prompt": f"Q: What is {a} + {b}?\nA:", "answer": a + b})
    return lines


def measure(model: str, task: str, problems: int, style: PromptStyle, threads: int, out: Path) -> dict:
    settings = SweepSettings(models=(model,), task=task, n=1, limit=problems, threads=threads, n_boot=200,
                             sampling=SamplingConfig(temperature=0.0, top_p=1.0, max_new_tokens=48), prompt=style)
    run, analysis, result = sweep_and_report(settings, out, show_progress=False)
    (figure,) = [f for f in result["sweep"]["figures"] if f["strategy"] == "maj@k" and f["k"] == 1]
    with Store(out / "store.sqlite") as store:
        samples = store.samples(run.run)
    return {"accuracy": figure["performance"], "ci": (figure["ci_low"], figure["ci_high"]),
            "prompt_tokens": sum(s.prompt_tokens for s in samples) / len(samples),
            "seconds": figure["seconds_per_problem"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="replace this section of BENCHMARKS.md")
    args = parser.parse_args()
    configure(Verbosity.quiet)  # llama.cpp's loader lines would bury the table
    models = [m for m in INSTRUCT_MODELS if installed_path(m) is not None]
    rows, figures = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sums.jsonl"
        path.write_text("".join(json.dumps(q) + "\n" for q in questions(args.problems)))
        for model, stop in itertools.product(models, ("line", "blank")):
            task = f"jsonl:{path}?grader=numeric,stop={stop}"
            got = {style: measure(model, task, args.problems, style, args.threads,
                                  Path(tmp) / f"{model}-{stop}-{style.value}")
                   for style in PromptStyle}
            raw, chat = got[PromptStyle.raw], got[PromptStyle.chat]
            rows.append(f"| {model} | {stop} | {raw['accuracy']:.3f} [{raw['ci'][0]:.2f}, {raw['ci'][1]:.2f}] | "
                        f"{chat['accuracy']:.3f} [{chat['ci'][0]:.2f}, {chat['ci'][1]:.2f}] | "
                        f"{raw['prompt_tokens']:.0f} / {chat['prompt_tokens']:.0f} | "
                        f"{raw['seconds']:.2f} / {chat['seconds']:.2f} |")
            figures[f"{model}, stop={stop}: chat - raw accuracy"] = chat["accuracy"] - raw["accuracy"]
            print(rows[-1], flush=True)
    body = ("Greedy accuracy on the same questions posed raw and as a chat turn of each model's own template "
            f"({args.problems} two-digit sums and differences, graded by the last number of the answer; 95% "
            "bootstrap intervals over problems).\n\n"
            "| model | stop | raw accuracy | chat accuracy | prompt tokens raw / chat | s per problem raw / chat |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows))
    command = f".venv/bin/python benchmarks/bench_prompt_style.py --problems {args.problems} --threads {args.threads} --write"
    markdown = section("Real instruct models: prompts posed raw or as a chat turn", command, figures, body)
    print(markdown)
    if args.write:
        write_section("bench_prompt_style", markdown)


if __name__ == "__main__":
    main()
