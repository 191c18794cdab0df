"""The lab's tree-search techniques: beam search and MCTS over scratchpad steps.

A search cannot be replayed from stored pools (it chooses which prefixes to
extend), so unlike the other techniques it runs live, after the sampling
step, on the same test problems of the scratchpad task, with every model of
the ladder. Its per-problem results go to the run's store
(``Store.search_results``), so a killed lab resumes and a re-run only reads them.

Scorers: the model's own log-probability (free), and, when the preset asks
for it (``value_calibration_problems`` > 0), a learned value model per model,
trained on that model's samples of the *calib* split (never test); what
training it and sampling its data cost is added to the point's training
compute.
"""

from __future__ import annotations

from pathlib import Path

from ttscale.lab.ladder import SUMS_COT, LabPreset
from ttscale.lab.value_calibration import train_value_models
from ttscale.store import Store
from ttscale.backends.tiny import TinyBackend
from ttscale.strategies.step_scorers import ScorerChoice, ValueScorer
from ttscale.strategies.tree_search import default_search_settings
from ttscale.tasks import get_task
from ttscale.techniques import PointDetail
from ttscale.techniques.searched import search_points
from ttscale.types import ModelCard

SEARCH_TASK = SUMS_COT
# Samples per calibration problem for the value models: many problems, few
# samples each (the value model must see many digit combinations).
VALUE_SAMPLES_PER_PROBLEM = 4


def search_ladder(
    preset: LabPreset,
    seed: int,
    run: str,
    models,
    cards: dict[str, ModelCard],
    store: Store,
    cache_dir: Path,
    add_bar,
) -> list[PointDetail]:
    """Tree-search points of every model of the ladder (none when the preset searches no problems)."""
    if preset.n_search_problems <= 0:
        return []
    task = get_task(SEARCH_TASK)
    problems = task.problems(preset.n_search_problems, seed, "test")
    values = None
    if preset.value_calibration_problems > 0:
        test_ids = {p.problem_id for p in task.problems(preset.n_problems, seed, "test")}
        test_ids |= {p.problem_id for p in problems}
        advance = add_bar("train value models", len(models))
        values = {}
        for name in models:  # one at a time, for the progress bar
            values.update(train_value_models(
                store, run, {name: models[name]}, cards, task, test_ids, seed=seed,
                cache_dir=cache_dir / "value-models", n_problems=preset.value_calibration_problems,
                n_samples=VALUE_SAMPLES_PER_PROBLEM,
            ))
            advance(1)
    settings = default_search_settings(("logprob", "value") if values is not None else ("logprob",))
    advance = add_bar("tree search", len(problems) * len(settings) * len(models))
    backends = [TinyBackend(name=name, card=cards[name], model=model) for name, model in models.items()]
    scorers = {name: ScorerChoice(ValueScorer(v.model, v.key, label=v.label), float(v.total_train_flops))
               for name, v in (values or {}).items()}
    return search_points(backends, task, problems, settings, value_scorers=scorers, results=store.search_results,
                         run_seed=seed, n_boot=preset.n_boot, progress=advance)

