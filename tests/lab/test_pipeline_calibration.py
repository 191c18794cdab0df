"""The lab samples a calibration split for the cascade tasks, as a run of its
own, resumably; the analysis hands its pools to the techniques as calibration."""

import dataclasses

import torch

from ttscale.backends.tiny import TinyBackend
from ttscale.lab import pipeline
from ttscale.pipeline import analysis, run_plan
from ttscale.lab.ladder import PRESETS, SUMS, SUMS_COT
from ttscale.tiny.model import TinyConfig, TinyGPT, model_card
from ttscale.store import Store
from ttscale.tasks import get_task

MINI = dataclasses.replace(PRESETS["smoke"], rungs=PRESETS["smoke"].rungs[:1], n_problems=3, n_samples=2,
                           n_calibration_problems=2)


def calib_problem_ids(count):
    """Both sums forms share problems (and ids) for the same count, seed and split."""
    ids = {p.problem_id for p in get_task(SUMS).problems(count, 0, "calib")}
    assert ids == {p.problem_id for p in get_task(SUMS_COT).problems(count, 0, "calib")}
    return ids


def no_bar(description, total):
    return lambda n: None


def mini_plan(tmp_path):
    torch.manual_seed(0)
    config = TinyConfig(d_model=16, n_layers=1, n_heads=2, d_ff=32, context_length=64)
    model = TinyGPT(config).eval()
    cards = {"m": model_card(config, "m", 1000, 1e9)}
    return pipeline.lab_plan(MINI, 0, cards, lambda name: TinyBackend(name=name, card=cards[name], model=model),
                             tmp_path)


def sample_mini(store, plan):
    run = pipeline.run_name(MINI, 0)
    store.start_run(run, MINI.plan(0))
    store.start_run(pipeline.calibration_run_name(run), pipeline.calibration_plan(MINI, 0))
    outcomes = run_plan(plan, store, no_bar)
    return run, sum(o.stats.generated for o in outcomes), sum(o.stats.planned for o in outcomes)


def test_calibration_split_is_its_own_run_with_disjoint_problems(tmp_path):
    plan = mini_plan(tmp_path)
    with Store(tmp_path / "store.sqlite") as store:
        run, generated, total = sample_mini(store, plan)
        assert generated == total == 2 * (3 * 3 + 2 * 2)  # samples x (test: 3 tasks x 3, calib: 2 tasks x 2)
        calib = store.samples(f"{run}/calib")
        assert {s.key.task for s in calib} == {get_task(SUMS).name, get_task(SUMS_COT).name}
        test_ids = {s.key.problem_id for s in store.samples(run)}
        calib_ids = {s.key.problem_id for s in calib}
        assert len(calib_ids) == 2 and not calib_ids & test_ids
        assert calib_ids == calib_problem_ids(2)
        # Resumable like the test split: a second pass generates nothing.
        _, again, _ = sample_mini(store, plan)
        assert again == 0


def test_calibration_count_is_not_part_of_the_test_runs_identity():
    bigger = dataclasses.replace(MINI, n_calibration_problems=50)
    assert bigger.plan(0) == MINI.plan(0)
    assert pipeline.calibration_plan(bigger, 0) != pipeline.calibration_plan(MINI, 0)
    assert all(p.n_calibration_problems > 0 for p in PRESETS.values())


def test_analysis_passes_calibration_pools_to_the_techniques(tmp_path, monkeypatch):
    seen = []

    def spy(spec, pools, cards, n_boot=500, seed=0, calibration=None):
        seen.append((pools, calibration))
        return []

    monkeypatch.setattr(analysis, "technique_points", spy)
    monkeypatch.setattr(analysis.tradeoff, "analyse", lambda points, **kw: {})
    plan = mini_plan(tmp_path)
    with Store(tmp_path / "store.sqlite") as store:
        sample_mini(store, plan)
        analysis.analyse_plan(plan, store, [])
    assert seen
    for pools, calibration in seen:
        assert {task for _, task, _ in calibration} == {get_task(SUMS).name, get_task(SUMS_COT).name}
        scored = {p.problem_id for cell in pools.values() for p in cell}
        calib = {p.problem_id for cell in calibration.values() for p in cell}
        assert calib and not calib & scored
        assert calib == calib_problem_ids(2)
