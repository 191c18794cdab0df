"""The smoke lab's points and tradeoff, pinned across a redesign of the code that produces them.

The fixture is the store of one `ttscale lab --preset smoke` run (seed 0: samples, model cards and
tree-search results) and the points.csv and tradeoff.json that run wrote before the strategies,
sampling, store and techniques were reorganised. Analysing the same store now must give the same
points and the same tradeoff JSON, number for number. Measured seconds (``infer_seconds``) differ
from run to run and are left out; and one difference is intended: a cascade whose threshold is
chosen on calibration was labelled ``threshold=-1`` (a sentinel) and is now simply unset. Fields
added since are added to the pinned JSON and change nothing else: ``levels_words`` (how the levels
were chosen, in words). The inference cost in weight bytes (issue 13: ``infer_bytes`` in the points,
``cost``/``cost_words`` and the bytes tradeoff ``by_cost`` in the JSON) is a new column and new keys,
left out of the comparison: the FLOPs figures must not move. Adaptive votes gained a ``step`` setting
(issue 14: samples drawn per round); its default, ``step=1``, is the pinned behaviour, and is taken out of
the settings column before comparing.

Starting from stored samples keeps the pin independent of the CPU: training on another machine
may round floats differently (docs/RELIABILITY.md, "Threads under load"), which would change the
samples, not the code under test.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from pathlib import Path

import pytest

from ttscale.lab.ladder import get_preset
from ttscale.lab.pipeline import lab_plan
from ttscale.pipeline import analyse_plan, run_plan, searched_details
from ttscale.report.json_out import dumps
from ttscale.report.tradeoff_sections import points_frame
from ttscale.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"


class StoredResultsOnly:
    """The search's stored results are all there: a backend that would generate is a test failure."""

    prefill_shared = True

    def __init__(self, name, card):
        self.name, self.card = name, card

    def count_tokens(self, text: str) -> int:
        raise AssertionError("the pinned searches are stored; nothing should be tokenised")

    def generate(self, *args, **kwargs):
        raise AssertionError("the pinned searches are stored; nothing should be generated")

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    path = tmp_path_factory.mktemp("pin") / "store.sqlite"
    with gzip.open(DATA / "smoke_lab_store.sqlite.gz", "rb") as packed, path.open("wb") as plain:
        shutil.copyfileobj(packed, plain)
    preset, seed = get_preset("smoke"), 0
    with Store(path) as store:
        cards = {card.name: card for card in store.models()}
        # The lab's own plan, run on backends that may not generate: everything is already stored.
        plan = lab_plan(preset, seed, cards, lambda name: StoredResultsOnly(name, cards[name]), path.parent)
        outcomes = run_plan(plan, store, lambda description, total: (lambda n: None))
        analysis = analyse_plan(plan, store, searched_details(outcomes))
    return analysis.details, analysis.result


def test_points_are_the_pinned_ones(analysed):
    details, _ = analysed
    frame = points_frame(details).drop(columns=["infer_seconds", "infer_bytes"])
    text = io.StringIO()
    frame.to_csv(text, index=False, lineterminator="\n")
    with gzip.open(DATA / "smoke_lab_points.csv.gz", "rt") as handle:
        expected = list(csv.DictReader(handle))
    got = list(csv.DictReader(io.StringIO(text.getvalue())))
    for row in got:
        row["settings"] = row["settings"].replace(",step=1", "")
    assert len(got) == len(expected) == 236
    assert got == expected


def test_tradeoff_json_is_the_pinned_one(analysed):
    _, result = analysed
    with gzip.open(DATA / "smoke_lab_tradeoff.json.gz", "rt") as handle:
        expected = json.load(handle)
    got = {k: v for k, v in json.loads(dumps(result)).items() if k not in ("by_cost", "cost", "cost_words")}
    assert result["cost"] == "flops"
    assert got == expected
