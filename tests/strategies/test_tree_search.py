"""Tree search over scratchpad steps: greedy equivalence, budgets, the FLOP ledger, determinism, resume."""

import dataclasses

import numpy as np
import pytest
from search_models import RecordingBackend, backend, scratchpad_model, task

from ttscale import flops
from ttscale.errors import InputError
from ttscale.tiny import sampler, tokenizer
from ttscale.store import Store
from ttscale.strategies.beam import BeamSettings
from ttscale.strategies.mcts import MCTSSettings
from ttscale.strategies.step_scorers import LogProbScorer, ValueScorer
from ttscale.strategies.step_search import CodeLines, Node, Step, StepFormat, step_format_for
from ttscale.strategies.step_scorers import ScorerChoice
from ttscale.strategies.tree_search import run_search
from ttscale.techniques.searched import search_points, technique_name
from ttscale.types import SamplingConfig


@pytest.fixture(scope="module")
def problems():
    return task().problems(8, 0, "test")


def _strip_seconds(outcomes):
    return [dataclasses.replace(o, seconds=0.0) for o in outcomes]


# ----------------------------------------------------------------- step format


def test_cut_finds_the_step_end_and_flags_generations_that_ran_past_it():
    fmt = StepFormat(";", "\n", 12, 4)
    assert fmt.cut("1+2+0=03", True, ";") == ("1+2+0=03", ";", True)
    assert fmt.cut("#99\nS1+", False, ";") == ("#99", "\n", False)  # ran past the final end
    assert fmt.cut("#99", True, "\n") == ("#99", "\n", True)
    assert fmt.cut("1+2+0=03;#3", True, "\n") == ("1+2+0=03", ";", False)  # a delimiter came first
    assert fmt.cut("1+2+0=0", False, ";") == ("1+2+0=0", "", True)  # truncated


def test_code_lines_end_at_a_newline_and_the_solution_where_a_stop_sequence_would_begin():
    fmt = CodeLines(ends=("\ndef ", "\nif __name__", "\n#"))
    assert fmt.split("    return x", True, "\n") == ("    return x", "\n", False, True)
    assert fmt.split("    a = 1\n    b", False, "\n") == ("    a = 1", "\n", False, True)  # ran past: cut
    assert fmt.split("", True, "\n") == ("", "\n", False, True)  # a blank line
    assert fmt.split("def helper(x):", True, "\n") == ("", "", True, True)  # a new top-level def: done
    assert fmt.split("# tests", True, "\n") == ("", "", True, True)
    assert fmt.split("    def inner():", True, "\n")[2] is False  # nested: still the body
    assert fmt.split("    return compute(", False, "\n") == ("    return compute(", "", False, True)  # truncated
    # A second blank line in a row ends the solution (a model that is done emits EOS again and again).
    assert fmt.split("", True, "\n", prefix="    return x\n") == ("", "\n", False, True)
    assert fmt.split("  ", True, "\n", prefix="    return x\n\n") == ("", "", True, True)
    assert fmt.split("", True, "\n", prefix="    return x\n    \n") == ("", "", True, True)
    with pytest.raises(InputError, match="start with a newline"):
        CodeLines(ends=("def ",))


def test_a_code_solution_is_its_lines_without_the_line_that_ended_it():
    line = lambda text, end="\n", final=False: Step(text, end, 3, -1.0, 0, final)  # noqa: E731
    node = Node()
    for step in (line("    a = 1"), line("    return a"), line("", "", final=True)):
        node = node.child(step, 0)
    assert node.complete and node.is_terminal(10)
    assert node.completion == "    a = 1\n    return a\n"


def test_a_task_without_steps_has_no_step_format():
    from ttscale.tasks import get_task

    assert step_format_for(task()).max_depth == 4
    with pytest.raises(InputError, match="no step format"):
        step_format_for(get_task("arith:digits=2,operands=2,scratchpad=0"))


# ----------------------------------------------------------------- searches


def test_beam_of_width_one_with_the_logprob_scorer_at_temperature_zero_is_greedy_decoding(problems):
    model, _ = scratchpad_model()
    greedy = sampler.sample_pools(model, tokenizer, [p.prompt for p in problems], 1,
                                  SamplingConfig(temperature=0.0, max_new_tokens=32), [[0]] * len(problems), stop="\n")
    outcomes = run_search(backend(), task(), problems, BeamSettings(width=1, expansions=3, temperature=0.0),
                          LogProbScorer())
    assert [o.completion for o in outcomes] == [pool[0].text for pool in greedy]
    assert all(o.complete for o in outcomes)
    # The step log-probabilities add up to the greedy sample's.
    for o, pool in zip(outcomes, greedy):
        assert np.log(o.value) * len(pool[0].token_ids) == pytest.approx(pool[0].logprob, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("width,expansions", [(1, 2), (2, 3), (3, 2)])
def test_beam_never_exceeds_its_budget(problems, width, expansions):
    settings = BeamSettings(width=width, expansions=expansions)
    depth = step_format_for(task()).max_depth
    outcomes = run_search(backend(), task(), problems, settings, LogProbScorer(), run_seed=3)
    for o in outcomes:
        assert o.step_samples <= settings.max_step_samples(depth)
        assert o.expansions <= 1 + width * (depth - 1)


@pytest.mark.parametrize("budget,branch", [(1, 3), (3, 2), (6, 4)])
def test_mcts_respects_its_expansion_budget(problems, budget, branch):
    settings = MCTSSettings(expansions=budget, branch=branch, scorer="logprob")
    outcomes = run_search(backend(), task(), problems, settings, LogProbScorer(), run_seed=1)
    for o in outcomes:
        assert 1 <= o.expansions <= budget
        assert o.step_samples <= budget * branch


def test_the_flop_ledger_is_the_sum_of_the_per_call_counts(problems):
    recording = RecordingBackend(backend())
    card = recording.card
    calls_seen = []

    class CountingValue:  # a stand-in value model: a constant, with honest FLOPs per text
        def predict(self, prompts, prefixes):
            calls_seen.extend(p + q for p, q in zip(prompts, prefixes))
            return np.full(len(prompts), 0.5)

        def scoring_flops(self, prompts, prefixes):
            return np.array([float(len(p + q)) for p, q in zip(prompts, prefixes)])

    for settings in (BeamSettings(width=2, expansions=2, scorer="value"),
                     MCTSSettings(expansions=3, branch=2, scorer="value")):
        recording.calls.clear()
        calls_seen.clear()
        outcomes = run_search(recording, task(), problems[:4], settings, ValueScorer(CountingValue(), "const"))
        expected = 0.0
        for contexts, seeds, _stop, pools in recording.calls:
            for context, pool in zip(contexts, pools):
                tokens = recording.count_tokens(context)
                expected += flops.prefill_flops(card, tokens)  # once per prompt: the prefill is shared
                expected += sum(flops.decode_flops(card, tokens, len(g.token_ids)) for g in pool)
        assert sum(o.generation_flops for o in outcomes) == pytest.approx(expected, rel=1e-12)
        assert sum(o.scorer_flops for o in outcomes) == pytest.approx(sum(len(t) for t in calls_seen))
        rows = sum(len(s) for _, seeds, _, _ in recording.calls for s in seeds)
        assert sum(o.draws for o in outcomes) == rows
        assert all(o.infer_flops == o.generation_flops + o.scorer_flops for o in outcomes)


def test_a_wrong_stop_hint_costs_redraws_but_gives_the_same_steps(problems):
    hinted = step_format_for(task())
    unhinted = dataclasses.replace(hinted, intermediate_steps=None)  # always tries ";" first
    settings = BeamSettings(width=2, expansions=2)
    a = run_search(backend(), task(), problems, settings, LogProbScorer(), step_format=hinted)
    b = run_search(backend(), task(), problems, settings, LogProbScorer(), step_format=unhinted)
    assert [(o.completion, o.value) for o in a] == [(o.completion, o.value) for o in b]
    assert sum(o.regenerations for o in b) > sum(o.regenerations for o in a)
    assert sum(o.generation_flops for o in b) > sum(o.generation_flops for o in a)


@pytest.mark.parametrize("settings", [BeamSettings(width=2, expansions=3), MCTSSettings(expansions=4, branch=3, scorer="logprob")])
def test_same_seeds_same_result_whatever_the_batch(problems, settings):
    first = run_search(backend(), task(), problems, settings, LogProbScorer(), run_seed=7)
    again = run_search(backend(), task(), problems, settings, LogProbScorer(), run_seed=7)
    one_by_one = [run_search(backend(), task(), [p], settings, LogProbScorer(), run_seed=7)[0] for p in problems[:3]]
    assert _strip_seconds(first) == _strip_seconds(again)
    # Batch composition changes float64 matmul rounding in the last bit only.
    assert [o.completion for o in one_by_one] == [o.completion for o in first[:3]]
    assert [o.value for o in one_by_one] == pytest.approx([o.value for o in first[:3]], rel=1e-12)
    other = run_search(backend(), task(), problems, settings, LogProbScorer(), run_seed=8)
    assert [o.completion for o in other] != [o.completion for o in first]


def test_a_killed_run_resumes_from_the_results_table(problems, tmp_path):
    settings = BeamSettings(width=2, expansions=2)
    with Store(tmp_path / "results.sqlite") as store:
        results = store.search_results
        partial = run_search(backend(), task(), problems[:3], settings, LogProbScorer(), results=results)
        recording = RecordingBackend(backend())
        full = run_search(recording, task(), problems, settings, LogProbScorer(), results=results)
        searched = {c for contexts, *_ in recording.calls for c in contexts}
        assert not any(c.startswith(p.prompt) for c in searched for p in problems[:3])  # not searched again
        assert full[:3] == partial
        recording.calls.clear()
        assert run_search(recording, task(), problems, settings, LogProbScorer(), results=results) == full
        assert recording.calls == [] and results.count() == len(problems)


def test_tree_search_points_name_the_technique_and_charge_the_value_model(problems):
    model, card = scratchpad_model()

    class Value:
        key, total_train_flops, label = "v1", 1.0e9, "learned value"

        class model:
            @staticmethod
            def predict(prompts, prefixes):
                return np.linspace(0.1, 0.9, len(prompts))

            @staticmethod
            def scoring_flops(prompts, prefixes):
                return np.full(len(prompts), 100.0)

    settings = [BeamSettings(width=2, expansions=2), MCTSSettings(expansions=2, branch=2, scorer="value")]
    from ttscale.backends.tiny import TinyBackend

    tiny = TinyBackend(name="m", card=card, model=model)
    value = Value()
    scorers = {"m": ScorerChoice(ValueScorer(value.model, value.key, label=value.label), value.total_train_flops)}
    details = search_points([tiny], task(), problems[:4], settings, value_scorers=scorers, n_boot=50)
    assert [d.point.technique for d in details] == ["beam search, log-prob scorer", "MCTS, learned value"]
    assert details[0].point.train_flops == card.train_flops
    assert details[1].point.train_flops == card.train_flops + 1.0e9
    assert details[1].point.infer_flops > details[1].notes["mean_scorer_flops"] > 0
    assert details[0].point.budget.startswith("beam-logprob:")
    assert technique_name(settings[0], LogProbScorer().label) == "beam search, log-prob scorer"
    # Without a value model the value settings are skipped.
    assert len(search_points([tiny], task(), problems[:2], settings, n_boot=10)) == 1
