"""Rungs trained side by side in worker processes are the rungs a single process trains."""

import functools

import torch

from ttscale.lab.ladder import PRESETS, mixture_key
from ttscale.lab.ladder_training import train_rungs
from ttscale.lab.pipeline import ladder_documents

RUNGS = PRESETS["smoke"].rungs[:3]
DATA = mixture_key()


def bars():
    filled: dict[str, int] = {}

    def add(description, total):
        filled[description] = 0

        def advance(n):
            filled[description] += n

        return advance

    return add, filled


def test_parallel_training_gives_the_same_weights_and_fills_every_bar(tmp_path):
    documents = functools.partial(ladder_documents, 0)
    add, filled = bars()
    parallel = train_rungs(RUNGS, 0, documents, DATA, tmp_path / "parallel", 16, add, workers=2)
    serial = train_rungs(RUNGS, 0, documents, DATA, tmp_path / "serial", 16, bars()[0], workers=1)
    assert set(parallel) == set(serial) == {r.name for r in RUNGS}
    for name in parallel:
        a, b = parallel[name].model.state_dict(), serial[name].model.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
        assert parallel[name].card.train_flops == serial[name].card.train_flops
    assert filled == {f"train {r.name}": parallel[r.name].card.train_tokens for r in RUNGS}
    # Everything cached now: nothing trains, the bars fill from the cache.
    add, filled = bars()
    again = train_rungs(RUNGS, 0, documents, DATA, tmp_path / "parallel", 16, add, workers=2)
    assert all(again[name].cached for name in again)
    assert filled == {f"train {r.name}": again[r.name].card.train_tokens for r in RUNGS}
