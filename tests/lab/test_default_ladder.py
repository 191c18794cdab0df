"""The default ladder's shape: rungs, compute range, overtrained pairs, tasks that fit, a training budget."""

import itertools
import math

import pytest

from ttscale import flops
from ttscale.lab.ladder import PRESETS, TRAIN_MIXTURE, mixture_key
from ttscale.lab.ladder_training import expected_cost
from ttscale.tiny.model import model_card
from ttscale.tasks import get_task

DEFAULT = PRESETS["default"]


def tc(rung) -> float:
    card = model_card(rung.config, rung.name, rung.train_tokens, None)
    return flops.train_flops(card, rung.train_tokens, rung.config.context_length)


def params(rung) -> int:
    return model_card(rung.config, rung.name, rung.train_tokens, None).params_non_embedding


def test_at_least_ten_rungs_over_three_orders_of_magnitude():
    computes = sorted(tc(r) for r in DEFAULT.rungs)
    assert len(DEFAULT.rungs) >= 10
    assert math.log10(computes[-1] / computes[0]) >= 3
    assert len({r.name for r in DEFAULT.rungs}) == len(DEFAULT.rungs)
    assert len({r.config.d_model for r in DEFAULT.rungs}) >= 3 and len({r.config.n_layers for r in DEFAULT.rungs}) >= 3


def test_overtrained_pairs_at_equal_training_compute():
    pairs = [(a, b) for a, b in itertools.combinations(DEFAULT.rungs, 2)
             if params(a) != params(b) and abs(math.log10(tc(a) / tc(b))) < 0.05]
    # in each pair the smaller model is the one trained on more tokens
    assert all((params(a) < params(b)) == (a.train_tokens > b.train_tokens) for a, b in pairs)
    assert len(pairs) >= 2


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_task_fits_the_context_and_the_token_limit(name):
    preset = PRESETS[name]
    for spec in TRAIN_MIXTURE:
        task = get_task(spec)
        for rung in preset.rungs:
            assert 1 + task.prompt_length + task.max_completion_length <= rung.config.context_length, spec
        assert preset.sampling.max_new_tokens >= task.max_completion_length, spec


def test_default_leaves_out_the_value_models_and_keeps_the_training_budget():
    assert DEFAULT.value_calibration_problems == 0 and PRESETS["full"].value_calibration_problems > 0
    assert 0 < DEFAULT.n_search_problems <= DEFAULT.n_problems
    # A bound on the preset's configuration, not a timing: its training FLOPs over 6e10 FLOP/s (roughly one
    # torch thread's throughput on these shapes) stay within a few minutes of one core per rung group.
    assert sum(expected_cost(r) for r in DEFAULT.rungs) / 6e10 < 450
    assert max(expected_cost(r) for r in DEFAULT.rungs) / 6e10 < 120


def test_the_data_key_names_the_mixture_and_its_weights():
    assert all(spec in mixture_key() for spec in TRAIN_MIXTURE)
    assert mixture_key(("a", "b"), (1.0, 1.0)) == "a+b"
    assert mixture_key(("a", "b"), (1.0, 0.5)) == "a*1+b*0.5"
