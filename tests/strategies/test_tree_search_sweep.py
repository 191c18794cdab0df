"""`ttscale sweep --strategy beam:...` / `mcts:...`: live tree search on a checkpoint, next to
the replayed strategies, stored per problem so a re-run searches nothing again."""

import json
import math

import pytest
import torch
from search_models import TASK, scratchpad_model
from typer.testing import CliRunner

from ttscale.cli import _load_commands, app
from ttscale.errors import InputError
from ttscale.tiny.checkpoints import save_result
from ttscale.tiny.trainer import TrainResult
from ttscale.store import Store
from ttscale.strategies.beam import BeamSettings
from ttscale.strategies.mcts import MCTSSettings
from ttscale.strategies import REPLAY, resolve

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    _load_commands()
    model, card = scratchpad_model()  # float64 and shared with other tests: save a float32 copy
    copy = type(model)(model.config)
    copy.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
    result = TrainResult(model=copy.eval(), card=card, config=model.config, seed=0, batch_size=16, steps=0,
                         wall_seconds=0.0, achieved_flops_per_second=math.nan, final_loss=math.nan, loss_curve=())
    path = tmp_path_factory.mktemp("ckpt") / "sums.pt"
    save_result(result, path)
    return path


def sweep_args(checkpoint, out, *strategies):
    args = ["sweep", "--model", f"tiny:{checkpoint}#sums", "--task", TASK, "--n", "4", "--limit", "5",
            "--max-tokens", "24", "--temperature", "1", "--top-p", "1", "--n-boot", "10", "--threads", "1",
            "--quiet", "--out", str(out)]
    for spec in strategies:
        args += ["--strategy", spec]
    return args


def test_search_points_sit_next_to_the_replayed_strategies_and_resume(checkpoint, tmp_path):
    out = tmp_path / "report"
    specs = ("beam:width=2,expansions=2", "mcts:expansions=3,branch=2", "majority:k=2")
    previous = torch.get_num_threads()
    try:
        first = runner.invoke(app, sweep_args(checkpoint, out, *specs))
        assert first.exit_code == 0, (first.output, first.exception)
        with Store(out / "store.sqlite") as store:
            assert store.search_results.count() == 2 * 5  # two searches x five problems
        second = runner.invoke(app, sweep_args(checkpoint, out, *specs))
        assert second.exit_code == 0, (second.output, second.exception)
        with Store(out / "store.sqlite") as store:
            assert store.search_results.count() == 2 * 5  # nothing searched again
    finally:
        torch.set_num_threads(previous)
    result = json.loads((out / "tradeoff.json").read_text())
    points = {p["technique"]: p for p in result["sweep"]["points"] if p["model"] == "sums"}
    assert {"beam search, log-prob scorer", "MCTS, log-prob scorer", "majority:k=2"} <= set(points)
    beam = points["beam search, log-prob scorer"]
    assert beam["strategy"] == "beam-logprob" and beam["settings"] == "expansions=2,temperature=1,width=2"
    assert 0 <= beam["performance"] <= 1 and beam["infer_flops"] > 0
    techniques = {t["name"]: t for t in result["sweep"]["techniques"]}
    assert "run live" in techniques["MCTS, log-prob scorer"]["description"]
    assert "beam search," in first.output and "MCTS," in first.output  # rows of the terminal summary


def test_search_specs_parse_into_settings_of_live_only_strategies():
    beam, settings = resolve("beam:width=2,expansions=3")
    assert settings == BeamSettings(width=2, expansions=3, scorer="logprob") and REPLAY not in beam.traits.modes
    mcts, settings = resolve("mcts:expansions=16,exploration=0.5,scorer=logprob")
    assert settings == MCTSSettings(expansions=16, exploration=0.5, scorer="logprob") and REPLAY not in mcts.traits.modes
    majority, _ = resolve("majority:k=2")
    assert REPLAY in majority.traits.modes


@pytest.mark.parametrize(
    "spec, task, words",
    [
        ("beam:widht=2", TASK, ["strategy 'beam'", "unknown parameter 'widht'", "did you mean 'width'"]),
        ("beam:width=0", TASK, ["strategy 'beam': parameter 'width' must be greater than or equal to 1, got '0'"]),
        ("beam:width=1.5", TASK, ["strategy 'beam': parameter 'width' must be a valid integer", "got '1.5'"]),
        ("mcts:scorer=value", TASK, ["scorer=value", "only the lab trains"]),
        ("beam", "arith:digits=2,operands=2", ["'beam'", "no step format"]),
        ("bean:width=2", TASK, ["unknown strategy 'bean'", "did you mean 'beam'"]),
    ],
)
def test_bad_search_specs_are_refused_before_any_work(checkpoint, tmp_path, spec, task, words):
    args = sweep_args(checkpoint, tmp_path / "bad", spec)
    args[args.index("--task") + 1] = task
    result = runner.invoke(app, args)
    assert isinstance(result.exception, InputError), (result.output, result.exception)
    for word in words:
        assert word in str(result.exception), str(result.exception)
    assert not (tmp_path / "bad" / "store.sqlite").exists()
