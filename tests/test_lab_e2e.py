"""`ttscale lab --preset smoke` end to end: the report is complete, offline and
consistent with its JSON; a re-run resumes from the store and generates nothing."""

import json
import re
import sqlite3

import pytest
from typer.testing import CliRunner

from ttscale.cli import _load_commands, app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    _load_commands()
    root = tmp_path_factory.mktemp("lab")
    out, cache = root / "report", root / "cache"
    runner = CliRunner()
    args = ["lab", "--preset", "smoke", "--out", str(out), "--cache-dir", str(cache), "--threads", "1"]
    first = runner.invoke(app, args)  # not a terminal: progress as plain lines
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, args + ["--json", "-", "--quiet"])
    assert second.exit_code == 0, second.output
    return out, first.output, second.output


def test_report_files_exist_and_html_is_offline(smoke_report):
    out, _, _ = smoke_report
    for name in ("index.html", "tradeoff.json", "points.csv", "store.sqlite", "iso_performance.png",
                 "exchange_rate.png", "performance_vs_inference.png", "summary_table.png"):
        assert (out / name).stat().st_size > 0, name
    page = (out / "index.html").read_text()
    assert "data:image/png;base64," in page
    # No external resource of any kind: the page must open offline.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page


def test_tradeoff_json_has_the_engine_schema_and_every_point(smoke_report):
    out, _, _ = smoke_report
    result = json.loads((out / "tradeoff.json").read_text())
    techniques = result["techniques"]
    assert {"repeated sampling, cheap verification", "repeated sampling, majority vote", "chain of thought",
            "scaling policy", "best-of-n, log-prob scorer", "beam search, log-prob scorer",
            "MCTS, log-prob scorer"} <= set(techniques)
    for tech in techniques.values():
        for level in tech["levels"].values():
            assert "exchange_rate" in level and "curve" in level
            assert level["exchange_rate"] is not None or level["exchange_rate_reason"]
            assert level["span_oom_train"] >= 0 and level["span_oom_infer"] >= 0
    lab = result["lab"]
    assert len(lab["cards"]) == 5
    tcs = sorted(card["train_flops"] for card in lab["cards"].values())
    assert tcs[-1] / tcs[0] >= 10
    n_points = sum(1 for _ in open(out / "points.csv")) - 1
    assert n_points == len(lab["points"]) > 0


def test_the_record_carries_the_threads_and_how_they_were_chosen(smoke_report):
    out, first, _ = smoke_report
    threads = json.loads((out / "tradeoff.json").read_text())["lab"]["threads"]
    assert threads["threads"] == 1 and threads["given"] is True and threads["usable_cores"] >= 1
    assert "threads: 1 thread(s), given (--threads)" in first
    assert "torch threads" in (out / "index.html").read_text()


def test_a_log_shows_every_stage_start_and_end(smoke_report):
    _, first, second = smoke_report
    for stage in ("train tiny-", "sample tiny-", "tree search", "replay techniques", "tradeoff", "report"):
        assert re.search(rf"^\[\d\d:\d\d:\d\d\] {stage}.*: started", first, re.M), stage
        assert re.search(rf"^\[\d\d:\d\d:\d\d\] {stage}.*: done", first, re.M), stage
    assert ": started" not in second  # --quiet


def test_rerun_resumes_from_the_store_without_generating(smoke_report):
    out, first, second = smoke_report
    assert "(0 new)" in second
    with sqlite3.connect(out / "store.sqlite") as db:
        (rows,) = db.execute("select count(*) from samples").fetchone()
        (distinct,) = db.execute(
            "select count(*) from (select distinct run, model, task, problem_id, config, sample_index from samples)"
        ).fetchone()
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        by_run = dict(db.execute("select run, count(*) from samples group by run").fetchall())
    # 5 models x 8 samples x (test: 3 tasks x 24 problems, calibration: 2 sums tasks x 16 problems), and
    # 12 compression variants x 8 samples x 24 problems of the scratchpad sums only.
    variants = 12 * 8 * 24
    assert rows == distinct == 5 * 8 * (3 * 24 + 2 * 16) + variants
    assert by_run == {"lab-smoke-seed0": 5 * 8 * 3 * 24 + variants, "lab-smoke-seed0/calib": 5 * 8 * 2 * 16}
    # Tree search: 24 problems x 5 models x 5 settings searched once; the re-run only read them.
    with sqlite3.connect(out / "store.sqlite") as db:
        (searched,) = db.execute("select count(*) from search_results").fetchone()
    assert searched == 24 * 5 * 5


def test_tree_search_points_sit_next_to_the_replayed_ones(smoke_report):
    out, _, _ = smoke_report
    points = json.loads((out / "tradeoff.json").read_text())["lab"]["points"]
    beams = [p for p in points if p["technique"] == "beam search, log-prob scorer"]
    assert len(beams) == 5 * 3  # every model at widths 1, 2, 4
    for p in beams:
        assert 0 <= p["performance"] <= 1 and p["infer_flops"] > 0 and p["train_flops"] > 0
    page = (out / "index.html").read_text()
    assert "beam search over steps" in page and "run live, not replayed" in page


def test_json_to_stdout_parses(smoke_report):
    _, _, second = smoke_report
    start = second.index("{")
    decoded, _ = json.JSONDecoder().raw_decode(second[start:])
    assert "techniques" in decoded


def test_bad_preset_and_seed_are_named():
    _load_commands()
    runner = CliRunner()
    result = runner.invoke(app, ["lab", "--preset", "smok"])
    assert result.exit_code != 0 and "--preset" in str(result.exception) and "smoke" in str(result.exception)
    result = runner.invoke(app, ["lab", "--seed", "-1"])
    assert result.exit_code != 0 and "--seed" in str(result.exception)


def test_another_seed_into_the_same_out_is_refused_before_training(smoke_report):
    out, _, _ = smoke_report
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    result = CliRunner().invoke(app, ["lab", "--preset", "smoke", "--seed", "1", "--out", str(out), "--threads", "1",
                                      "--cache-dir", str(out.parent / "other-cache")])
    assert "holds the lab run 'lab-smoke-seed0'" in str(result.exception), result.output
    assert "--out" in str(result.exception) and not (out.parent / "other-cache").exists()  # nothing trained
    with sqlite3.connect(out / "store.sqlite") as db:
        assert [r[0] for r in db.execute("SELECT run FROM runs WHERE run LIKE 'lab-%-seed%' AND run NOT LIKE '%/%' "
                                         "AND run NOT LIKE '%calib'")] == ["lab-smoke-seed0"]
    assert (out / "index.html").stat().st_mtime_ns == before["index.html"]


def test_compression_variants_have_rows_in_flops_and_bytes_and_stay_apart(smoke_report):
    out, _, _ = smoke_report
    result = json.loads((out / "tradeoff.json").read_text())
    compression = {"quantization", "pruning", "distillation", "early exit", "quantization + vote"}
    assert compression <= set(result["techniques"])
    assert compression <= set(result["by_cost"]["bytes"]["techniques"])
    assert result["cost"] == "flops" and result["by_cost"]["bytes"]["cost"] == "bytes"
    variants = {v["variant"]: v for v in result["lab"]["variants"]}
    assert len(variants) == 12
    with sqlite3.connect(out / "store.sqlite") as db:
        tasks = dict(db.execute("select model, group_concat(distinct task) from samples group by model").fetchall())
    for name in variants:
        assert tasks[name] == "arith:digits=1-2,operands=2-5,scratchpad=1", name  # the scratchpad sums only
    ladder = set(result["lab"]["cards"])
    for point in result["lab"]["points"]:
        if point["technique"] not in compression:
            assert point["model"] in ladder or "+" in point["model"], point  # variants stay in their rows
    # A quantized variant reads fewer bytes than its parent at the same FLOPs.
    by_model = {p["model"]: p for p in result["lab"]["points"]
                if p["technique"] == "quantization" and p["k"] == 1}
    parent, quantized = by_model["tiny-d48-l2-160k"], by_model["tiny-d48-l2-160k@rtn4g32"]
    assert quantized["infer_bytes"] < parent["infer_bytes"] / 3
    for v in variants.values():
        assert v["train FLOPs (total)"] >= v["marginal FLOPs"]
    assert (out / "iso_performance_bytes.png").stat().st_size > 0
