"""Hand-made pools for the strategy tests (no model, no store); a module of its own, not
``conftest``, so that tests import it by a name no other test folder uses."""

import numpy as np

from ttscale.sampling.pools import Pool


def build_pool(problem_id, answers, right=None, verified=None, decode=10.0, scores=None, prefill=100.0):
    """A pool whose samples answer ``answers``; an answer equal to ``right`` is correct."""
    n = len(answers)
    return Pool(
        model="m",
        task="t",
        problem_id=problem_id,
        config="cfg",
        answers=tuple(answers),
        correct=np.array([a is not None and a == right for a in answers], dtype=bool),
        verified=None if verified is None else np.asarray(verified, dtype=bool),
        scores=np.zeros(n) if scores is None else np.asarray(scores, dtype=float),
        prefill_flops=prefill,
        prefill_shared=True,
        decode_flops=np.full(n, decode) if np.isscalar(decode) else np.asarray(decode, dtype=float),
        verifier_flops=np.ones(n),
        wall_seconds=np.full(n, 0.5),
        n_tokens=np.full(n, 3.0),
    )


def mixed_pool(problem_id, n, shares, rng, right="a"):
    """A pool of n answers drawn with the given {answer: share}; leftover share is spread thin."""
    names = list(shares) + [f"noise{i}" for i in range(n)]
    rest = max(0.0, 1.0 - sum(shares.values()))
    probs = np.array(list(shares.values()) + [rest / n] * n)
    answers = rng.choice(names, size=n, p=probs / probs.sum())
    return build_pool(problem_id, [str(a) for a in answers], right=right)


def replay(strategy, cells, raw_settings, calibration=None, seed=0):
    """A strategy's replay mode with raw settings (checked the way a spec's values are)."""
    from ttscale.strategies import settings_of

    settings = raw_settings if not isinstance(raw_settings, dict) else settings_of(strategy, raw_settings)
    return strategy.replay(cells, settings, calibration, seed)
