"""`ttscale serve --plan`: the model and strategy a real `ttscale plan --json` file chose."""

from __future__ import annotations

import json

import pytest

from ttscale.errors import InputError
from ttscale.planner import plan
from ttscale.serve.plan_choice import served_choice
from ttscale.types import Point


def _points() -> list[Point]:
    # A small model voting and a large one sampling once, both reaching 0.6: which wins depends on N.
    return [Point("maj@k", "small", 1e18, 1e9 * k, 0.3 + 0.1 * k, budget=f"majority:k={k}") for k in (1, 2, 3, 4)] + [
        Point("maj@k", "large", 1e20, 5e9, 0.65, budget="majority:k=1"),
        Point("maj@k", "large", 1e20, 1e10, 0.75, budget="majority:k=2")]


def test_a_measured_choice_is_served_as_it_is(tmp_path):
    chosen = plan(_points(), inferences=1e3, target=0.6)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(chosen))
    model, strategy, words = served_choice(path)
    config = chosen["choice"] if chosen["choice"]["source"] == "measured" else chosen["choice"]["nearest_measured"]
    assert (model, strategy) == ([config["model"]], config["budget"])
    assert strategy.startswith("majority:k=") and "choice" in words


def test_an_interpolated_choice_serves_its_nearest_measured_configuration(tmp_path):
    chosen = plan(_points(), inferences=1e9, target=0.6)
    chosen["choice"]["source"] = "interpolated"  # as the planner writes an optimum between measurements
    chosen["choice"]["nearest_measured"] = {"model": "large", "budget": "majority:k=1", "technique": "maj@k",
                                            "performance": 0.65}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(chosen))
    assert served_choice(path)[:2] == (["large"], "majority:k=1")


def test_a_cascade_choice_serves_its_two_models_small_then_large(tmp_path):
    chosen = plan(_points(), inferences=1e3, target=0.6)
    chosen["choice"].update(source="measured", model="small+large", budget="cascade:k_small=2,k_large=1,threshold=0.6")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(chosen))
    assert served_choice(path)[:2] == (["small", "large"], "cascade:k_small=2,k_large=1,threshold=0.6")


def test_a_file_that_is_no_plan_is_refused_by_name(tmp_path):
    with pytest.raises(InputError, match="--plan: .* does not exist"):
        served_choice(tmp_path / "missing.json")
    bad = tmp_path / "points.json"
    bad.write_text(json.dumps({"techniques": {}}))
    with pytest.raises(InputError, match="has no 'choice'"):
        served_choice(bad)
