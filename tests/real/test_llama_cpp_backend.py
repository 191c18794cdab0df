"""The in-process llama.cpp backend on the real Gemma 3 270M."""

from __future__ import annotations

import numpy as np
import pytest

from ttscale.backends.registry import backend_from_spec
from ttscale.errors import InputError
from ttscale.types import SamplingConfig

PROMPT = 'def add(a, b):\n    """Return the sum of a and b."""\n'


def test_greedy_matches_llama_cpp_pythons_own_generation(gemma, gemma_path):
    config = SamplingConfig(temperature=0.0, max_new_tokens=12)
    ours = gemma.generate([PROMPT], [[1, 2, 3]], config, stop="\n\n\n\n")[0]
    reference = llama_cpp_greedy(gemma_path, PROMPT, 12)
    # Greedy ignores the seed: every sequence of the batch is the same completion,
    # and it is what llama-cpp-python's high-level API produces.
    assert {g.text for g in ours} == {reference}
    assert all(len(g.token_ids) == 12 and not g.finished for g in ours)


def llama_cpp_greedy(path, prompt: str, max_tokens: int) -> str:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=1, verbose=False)
    try:
        out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0)
        return out["choices"][0]["text"]
    finally:
        llm.close()


def test_each_sample_has_its_own_seed_and_a_repeated_call_repeats_it(gemma):
    config = SamplingConfig(temperature=1.0, max_new_tokens=10)
    pool = gemma.generate([PROMPT], [list(range(8))], config, stop="\n\n")[0]
    assert [g.seed for g in pool] == list(range(8))
    assert len({g.text for g in pool}) >= 3  # distinct seeds, distinct samples
    again = gemma.generate([PROMPT], [list(range(8))], config, stop="\n\n")[0]
    assert [(g.text, g.logprob) for g in again] == [(g.text, g.logprob) for g in pool]


def test_several_prompts_share_a_wave_and_keep_their_order(gemma):
    # Greedy, so the comparison with each prompt alone does not hinge on the
    # last bits of the logits (llama.cpp's kernels round differently with the
    # batch's shape; see the backend's docstring).
    config = SamplingConfig(temperature=0.0, max_new_tokens=6)
    prompts = ["def mul(a, b):\n    return", "x = [1, 2, 3]\nprint(len(", "1, 2, 3, 4,"]
    pools = gemma.generate(prompts, [[1, 2], [3], [4, 5, 6]], config, stop="\n")
    assert [len(p) for p in pools] == [2, 1, 3]
    assert [g.seed for p in pools for g in p] == [1, 2, 3, 4, 5, 6]
    for pool, prompt in zip(pools, prompts):
        alone = gemma.generate([prompt], [[0]], config, stop="\n")[0][0]
        assert {g.text for g in pool} == {alone.text}


def test_stop_string_is_cut_and_its_tokens_counted(gemma):
    config = SamplingConfig(temperature=0.0, max_new_tokens=40)
    g = gemma.generate([PROMPT], [[0]], config, stop="\n")[0][0]
    assert g.finished and "\n" not in g.text
    assert 1 <= len(g.token_ids) < 40
    assert g.logprob < 0 and np.isfinite(g.logprob)


def test_logprob_is_the_models_own_score(gemma):
    # At temperature 0 the chosen token is the argmax, whose log-probability is
    # the largest in the row; a confident continuation scores close to 0.
    g = gemma.generate(["1, 2, 3, 4, 5,"], [[0]], SamplingConfig(temperature=0.0, max_new_tokens=4), stop="\n")[0][0]
    assert g.text.startswith(" 6")
    assert -3.0 < g.logprob < 0


def test_count_tokens_includes_bos(gemma):
    assert gemma.count_tokens("hello") == len(gemma.engine.tokenize("hello", add_bos=False)) + 1


def test_a_pool_larger_than_max_seqs_is_split_into_waves(gemma):
    config = SamplingConfig(temperature=1.0, max_new_tokens=3)
    pool = gemma.generate(["def f():\n"], [list(range(11))], config, stop="\n")[0]
    assert [g.seed for g in pool] == list(range(11))


def test_prompt_too_long_for_the_context_is_refused(gemma):
    with pytest.raises(InputError, match="exceeds the context"):
        gemma.generate(["word " * 3000], [[0]], SamplingConfig(max_new_tokens=8), stop="\n")


def test_spec_errors_name_the_value():
    with pytest.raises(InputError, match="no such GGUF file"):
        backend_from_spec("gguf:/nonexistent/model.gguf")
    with pytest.raises(InputError, match="takes nothing after it"):
        backend_from_spec("gemma3-270m:extra")
    with pytest.raises(InputError, match="max_seqs"):
        backend_from_spec("gemma3-270m", max_seqs=0)


def test_the_first_of_several_stop_strings_ends_the_sample(gemma):
    config = SamplingConfig(temperature=0.0, max_new_tokens=40)
    one = gemma.generate([PROMPT], [[0]], config, stop="\n")[0][0]
    several = gemma.generate([PROMPT], [[0]], config, stop=("never-produced", "\n"))[0][0]
    assert several.text == one.text and several.token_ids == one.token_ids and several.finished


def test_each_sample_is_handed_back_once_as_it_finishes(gemma):
    """Streaming: a sample that stops early reaches the sink steps before one that runs to the limit."""
    config = SamplingConfig(temperature=0.0, max_new_tokens=12)
    prompts = ["def mul(a, b):\n    return", "1, 2, 3, 4,"]  # stops at the newline; runs on to 12 tokens
    handed: list[list] = []
    pools = gemma.generate_streaming(prompts, [[1, 2], [3]], config, "\n",
                                     lambda done: handed.append([(f.prompt, f.slot, f.generation) for f in done]))
    assert [len(batch) for batch in handed] == [2, 1]  # the stopped pair first, together, then the long one
    assert [(p, s) for p, s, _ in handed[0]] == [(0, 0), (0, 1)] and handed[1][0][:2] == (1, 0)
    assert {(p, s): g for batch in handed for p, s, g in batch} == {
        (p, s): g for p, pool in enumerate(pools) for s, g in enumerate(pool)}
    assert pools[0][0].finished and len(pools[1][0].token_ids) == 12


def test_a_sweep_call_stores_finished_samples_before_the_call_returns(gemma, tmp_path):
    from ttscale.sampling.draw import Work, draw_work
    from ttscale.store import Store
    from ttscale.tasks import get_task

    task = get_task("arith:digits=1,operands=2,scratchpad=0")
    problems = task.problems(2, seed=0, split="test")
    config = SamplingConfig(temperature=1.0, max_new_tokens=10)
    seen: list[int] = []
    with Store(tmp_path / "s.sqlite") as store:
        def stored_so_far(count: int) -> None:  # called after each store, inside the backend call
            seen.append(len(store.samples("r")))

        drawn = draw_work(store, "r", gemma, task, [Work(p, tuple(range(4))) for p in problems], config,
                          run_seed=0, progress=stored_so_far)
        assert drawn.samples == 8 and len(store.samples("r")) == 8
    assert len(seen) > 1 and 0 < seen[0] < 8  # some samples were in the store while others still decoded


QUIET_LOAD = """
import sys
from ttscale.logs import Verbosity, configure
configure(Verbosity[sys.argv[1]])
from ttscale.backends.llama_cpp import LlamaCppBackend
from ttscale.types import SamplingConfig
backend = LlamaCppBackend.gemma3_270m(n_threads=1, max_seqs=2, n_ctx=256)
backend.generate(["1 + 1 ="], [[1, 2]], SamplingConfig(temperature=1.0, max_new_tokens=3), "\\n")
backend.close()
"""


def test_quiet_loads_and_samples_without_a_native_line():
    """A fresh process (llama.cpp's first load prints the most): --quiet leaves stdout and stderr empty."""
    import subprocess
    import sys

    def run(verbosity: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", QUIET_LOAD, verbosity], capture_output=True, text=True,
                              timeout=120, check=True)

    quiet = run("quiet")
    assert (quiet.stdout, quiet.stderr) == ("", "")
    loud = run("verbose")  # the same load does print: the quiet run hid it
    assert "llama_model_loader: loaded meta data" in loud.stderr
    assert all(line.startswith("ttscale.native.llama_cpp: ") for line in loud.stderr.splitlines())
