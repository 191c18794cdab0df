"""The learned value model: its data never comes from test problems, and it learns a separable rule."""

import random

import numpy as np
import pytest
import torch
from search_models import scratchpad_model, task

from ttscale import flops
from ttscale.errors import InputError
from ttscale.lab.value_calibration import (
    calibration_run,
    sampling_flops,
    train_value_models,
)
from ttscale.lab.value_model import (
    ValueConfig,
    ValueExample,
    step_prefixes,
    value_examples,
)
from ttscale.lab.value_training import train_value_model
from ttscale.store import Store
from ttscale.strategies.step_search import step_format_for
from ttscale.tasks import splits
from ttscale.types import Sample, SampleKey


def _sample(problem, completion, correct, finished=True):
    tokens = tuple(range(len(completion) + (1 if finished else 0)))
    if finished:
        tokens = tokens[:-1] + (3,)  # id 3 is "\n"
    return Sample(SampleKey("r", "m", problem.task, problem.problem_id, "c", 0), 0, completion, tokens, -1.0,
                  None, correct, None, 8, 1.0, 2.0, 0.0, True, 0.0)


def test_prefixes_are_the_ones_a_search_scores():
    fmt = step_format_for(task())
    assert step_prefixes("3+6+0=09;5+4+0=09;#99\n", fmt) == ["3+6+0=09;", "3+6+0=09;5+4+0=09;", "3+6+0=09;5+4+0=09;#99\n"]
    assert step_prefixes("3+6+0=09;5+4", fmt) == ["3+6+0=09;", "3+6+0=09;5+4"]  # truncated at the end


def test_examples_carry_the_final_label_and_refuse_unknown_problems():
    problem = task().problems(1, 0, "calib")[0]
    examples = value_examples([_sample(problem, "1+2+0=03;4+5+0=09;#93", True)], {problem.problem_id: problem},
                              step_format_for(task()))
    assert [e.prefix for e in examples] == ["1+2+0=03;", "1+2+0=03;4+5+0=09;", "1+2+0=03;4+5+0=09;#93\n"]
    assert all(e.prompt == problem.prompt for e in examples)
    assert all(e.label for e in examples)
    with pytest.raises(InputError, match="not among the given problems"):
        value_examples([_sample(problem, "1", False)], {}, step_format_for(task()))


def test_training_refuses_test_problems():
    test_problem = task().problems(1, 0, "test")[0]
    examples = [ValueExample(test_problem.prompt, "1;", True, test_problem.problem_id)]
    with pytest.raises(InputError, match="test problems"):
        train_value_model(examples, ValueConfig(steps=1), test_problem_ids={test_problem.problem_id})


def test_calibrated_value_models_are_trained_on_the_calib_split_only(tmp_path):
    model, card = scratchpad_model()
    sums = task()
    test_ids = {p.problem_id for p in sums.problems(50, 0, "test")}
    config = ValueConfig(d_model=16, n_layers=1, n_heads=1, d_ff=32, context_length=48, steps=20, batch_size=16)
    with Store(tmp_path / "store.sqlite") as store:
        values = train_value_models(store, "run", {"m": model}, {"m": card}, sums, test_ids, n_problems=12,
                                    n_samples=2, config=config, cache_dir=tmp_path / "cache")
        samples = store.samples(calibration_run("run"))
        again = train_value_models(store, "run", {"m": model}, {"m": card}, sums, test_ids, n_problems=12,
                                   n_samples=2, config=config, cache_dir=tmp_path / "cache")
    assert len(samples) == 24
    for s in samples:  # every training problem lies in the calib split, none in test
        operands = tuple(int(x) for x in s.key.problem_id.split("+"))
        assert splits.split_of("arith:" + "+".join(map(str, sorted(operands)))) == "calib"
        assert s.key.problem_id not in test_ids
    value = values["m"]
    assert value.train_flops > 0 and value.data_flops == pytest.approx(sampling_flops(samples))
    # Counted independently: the shared prompt prefilled once per problem, every sample's decode.
    prefill_once = {s.key.problem_id: s.prefill_flops for s in samples}
    assert all(s.prefill_shared for s in samples)
    assert value.data_flops == pytest.approx(sum(prefill_once.values()) + sum(s.decode_flops for s in samples))
    assert value.total_train_flops == value.train_flops + value.data_flops
    assert again["m"].key == value.key  # loaded from the cache, not retrained
    prompts, prefixes = ["S12+34="] * 3, [s.completion for s in samples[:3]]
    assert np.allclose(again["m"].model.predict(prompts, prefixes), value.model.predict(prompts, prefixes))
    calib_ids = {s.key.problem_id for s in samples}
    with Store(tmp_path / "other.sqlite") as other, pytest.raises(InputError, match="test problems"):
        train_value_models(other, "run", {"m": model}, {"m": card}, sums, test_ids | calib_ids,
                           n_problems=12, n_samples=2, config=config)


def _contains_seven(rng, i):
    prefix = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 5)))
    return ValueExample("S", prefix, "7" in prefix, f"p{i}")


def _odd_one_out(rng, i):
    # Positive: all ones; negative: one digit differs. The next-token loss makes
    # the odd digit surprising, which is what the "surprise" readout reads.
    prefix = ["1"] * rng.randint(3, 5)
    good = rng.random() < 0.5
    if not good:
        prefix[rng.randrange(len(prefix))] = rng.choice("023456789")
    return ValueExample("S", "".join(prefix), good, f"p{i}")


@pytest.mark.parametrize("readout,rule", [("last", _contains_seven), ("surprise", _odd_one_out)])
def test_it_learns_a_separable_rule_and_counts_its_flops(readout, rule):
    rng = random.Random(0)
    examples = [rule(rng, i) for i in range(600)]
    config = ValueConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, context_length=16, steps=150, batch_size=32,
                         lr=1e-2, holdout_fraction=0.2, readout=readout)
    value = train_value_model(examples, config)
    assert value.metrics["holdout_accuracy"] > 0.85 and value.metrics["holdout_auc"] > 0.9
    model = value.model
    prompts, prefixes = ["S", "S"], ["1234", "12345"]
    head = [2 * model.head.in_features * (1 if readout == "last" else len(p + q)) for p, q in zip(prompts, prefixes)]
    expected = [flops.prefill_flops(model.card, 1 + len(p + q)) + h for p, q, h in zip(prompts, prefixes, head)]
    assert list(model.scoring_flops(prompts, prefixes)) == expected
    assert 0 < value.train_flops < 3 * config.steps * config.batch_size * flops.prefill_flops(model.card, 7) * 1.01
    again = train_value_model(examples, config)  # deterministic
    assert np.array_equal(again.model.predict(prompts, prefixes), model.predict(prompts, prefixes))


def test_a_frozen_policy_body_trains_only_the_head_and_pays_forward_passes_only():
    model, _ = scratchpad_model()
    rng = random.Random(1)
    examples = [_odd_one_out(rng, i) for i in range(200)]
    config = ValueConfig(init="policy", lr=0.0, steps=20, batch_size=16, lm_weight=0.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    value = train_value_model(examples, config, policy=model.float())
    model.double()
    body = value.model.body.state_dict()
    assert all(torch.equal(body[k], before[k].float()) for k in before)  # the body did not move
    assert value.label == "learned value (policy body)"
    # Forward passes only: at most 20 batches of 16 rows of at most 7 tokens.
    assert value.train_flops < 20 * 16 * (flops.prefill_flops(value.model.card, 7) + 3 * 2 * 2 * 7)
