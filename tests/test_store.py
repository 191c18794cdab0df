"""The store is the source of truth (RELIABILITY 1, 2, 3, 9): rows round-trip,
writes are idempotent, errors are not results, a kill -9 mid-write loses no
committed batch and leaves no partial one, and bad input changes nothing."""

import json
import math
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from ttscale.errors import InputError
from ttscale.store import Store
from ttscale.types import ModelCard, Sample, SampleKey


def make_sample(problem="p0", index=0, status="ok", run="r", model="m", task="t", config="c", **changes):
    fields = dict(
        key=SampleKey(run, model, task, problem, config, index),
        seed=1000 + index,
        completion=f"answer {index}",
        tokens=(5, 17, 2),
        logprob=-2.25,
        answer=str(index % 3),
        correct=index % 2 == 0,
        verified=index % 3 == 0,
        prompt_tokens=11,
        prefill_flops=1.5e9,
        decode_flops=3.25e8,
        verifier_flops=12.0,
        prefill_shared=True,
        wall_seconds=0.0125,
        status=status,
        error=None if status == "ok" else "connection reset",
    )
    fields.update(changes)
    return Sample(**fields)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "store.sqlite") as s:
        yield s


def test_store_uses_wal_and_creates_its_parent_dir(tmp_path):
    path = tmp_path / "deep" / "er" / "s.sqlite"
    with Store(path) as s:
        assert s.database.query("PRAGMA journal_mode")[0][0] == "wal"
        assert s.integrity_ok()
    assert path.exists()


def test_sample_round_trips_field_by_field(store):
    samples = [
        make_sample(index=0),
        make_sample(index=1, answer=None, verified=None, tokens=(), logprob=float("-inf"), prefill_shared=False),
        make_sample(index=2, completion="ünïcødé\n\"quoted\"", tokens=tuple(range(300))),
    ]
    store.put_samples(samples)
    assert store.samples("r") == samples


def test_nan_floats_come_back_as_nan(store):
    store.put_samples([make_sample(logprob=float("nan"))])
    (back,) = store.samples("r")
    assert math.isnan(back.logprob)


def test_put_is_idempotent(store):
    batch = [make_sample(f"p{p}", i) for p in range(3) for i in range(4)]
    assert store.put_samples(batch) == 12
    assert store.put_samples(batch) == 0  # a retried write changes nothing
    keys = [s.key for s in store.samples("r")]
    assert len(keys) == 12 == len(set(keys))
    assert store.counts("r")["ok"] == 12


def test_error_rows_are_replaced_but_ok_rows_never(store):
    store.put_samples([make_sample("p0", 0, status="error"), make_sample("p0", 1)])
    assert store.done_keys("r", "m", "t", "c") == {("p0", 1)}  # errors are retried on resume
    assert [s.key.sample_index for s in store.samples("r", status="error")] == [0]

    store.put_samples([make_sample("p0", 0, completion="retried")])  # error -> ok
    assert store.done_keys("r", "m", "t", "c") == {("p0", 0), ("p0", 1)}
    assert store.samples("r", status="error") == []

    # an ok row is never overwritten: not by an error, not by a different result
    assert store.put_samples([make_sample("p0", 0, status="error"), make_sample("p0", 1, completion="other")]) == 0
    rows = {s.key.sample_index: s for s in store.samples("r", status=None)}
    assert rows[0].completion == "retried" and rows[0].status == "ok"
    assert rows[1].completion == "answer 1"


def test_counts_report_status_per_cell(store):
    store.put_samples([make_sample("p0", 0), make_sample("p1", 0, status="error"), make_sample("p0", 0, model="m2")])
    counts = store.counts("r")
    assert (counts["ok"], counts["error"]) == (2, 1)
    assert [(c["model"], c["ok"], c["error"], c["problems"]) for c in counts["cells"]] == [
        ("m", 1, 1, 2),
        ("m2", 1, 0, 1),
    ]


def test_samples_come_back_in_a_deterministic_order(store):
    batch = [make_sample(p, i, model=m) for m in ("mb", "ma") for p in ("p2", "p1") for i in (3, 0, 1)]
    store.put_samples(batch)
    order = [(s.key.model, s.key.problem_id, s.key.sample_index) for s in store.samples("r")]
    assert order == sorted(order)
    assert [s.key.model for s in store.samples("r", model="mb")] == ["mb"] * 6


def test_a_bad_sample_fails_the_whole_batch_and_writes_nothing(store):
    store.put_samples([make_sample("p0", 0)])
    with pytest.raises(InputError, match=r"samples\[1\].*status must be one of"):
        store.put_samples([make_sample("p1", 0), make_sample("p1", 1, status="timeout")])
    with pytest.raises(InputError, match="sample_index must be an int >= 0"):
        store.put_samples([make_sample("p1", -1)])
    assert [s.key.problem_id for s in store.samples("r", status=None)] == ["p0"]


def test_models_round_trip(store):
    card = ModelCard(
        name="tiny-d64", params_total=1000, params_non_embedding=800, n_layers=2, d_model=64, n_heads=4,
        d_ff=256, vocab_size=40, context_length=128, train_tokens=10_000, train_flops=4.8e10, provenance="lab",
    )
    store.put_model(card)
    store.put_model(card)
    assert store.get_model("tiny-d64") == card
    assert store.get_model("missing") is None
    assert store.models() == [card]


def test_runs_refuse_a_conflicting_plan_and_leave_rows_untouched(store):
    store.start_run("r", {"n": 4, "tasks": ["a", "b"], "sampling": {"temperature": 1.0}})
    store.start_run("r", {"tasks": ["a", "b"], "n": 4, "sampling": {"temperature": 1.0}})  # same plan: resume
    store.put_samples([make_sample("p0", i) for i in range(4)])
    before = store.samples("r")
    with pytest.raises(InputError, match=r"run 'r' already exists .* different plan \(differs in: n, sampling.temperature\)"):
        store.start_run("r", {"n": 8, "tasks": ["a", "b"], "sampling": {"temperature": 0.5}})
    assert store.samples("r") == before
    assert store.get_run("r")["plan"]["n"] == 4
    assert store.get_run("r")["finished_at"] is None
    store.finish_run("r")
    assert store.get_run("r")["finished_at"] is not None
    with pytest.raises(InputError, match="run 'nope' was never started"):
        store.finish_run("nope")
    with pytest.raises(InputError, match="JSON-serialisable"):
        store.start_run("r2", {"fn": object()})


def test_opening_a_non_sqlite_file_names_the_path(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a database\n" * 200)
    with pytest.raises(InputError, match=r"notes\.txt.* is not a ttscale store"):
        Store(junk)
    assert junk.read_text().startswith("this is not a database")  # untouched

    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(InputError, match=r"other\.sqlite.* not a ttscale store \(tables: people\)"):
        Store(foreign)

    with pytest.raises(InputError, match="is a directory"):
        Store(tmp_path)


def test_frame_and_jsonl_export(store, tmp_path):
    store.put_samples([make_sample("p0", i) for i in range(3)] + [make_sample("p1", 0, status="error")])
    frame = store.samples_frame("r")
    assert len(frame) == 3
    assert frame["n_tokens"].tolist() == [3, 3, 3]
    assert frame["mean_logprob"].tolist() == pytest.approx([-0.75] * 3)
    assert frame["correct"].dtype == bool
    assert len(store.samples_frame("r", status=None)) == 4

    out = tmp_path / "export" / "r.jsonl"
    assert store.export_jsonl(out, "r") == 3
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["tokens"] == [5, 17, 2] and records[0]["correct"] is True
    assert [r["sample_index"] for r in records] == [0, 1, 2]
    assert not (tmp_path / "export" / "r.jsonl.tmp").exists()


def test_two_handles_can_write_the_same_store(tmp_path):
    path = tmp_path / "shared.sqlite"
    errors = []

    def writer(model):
        try:
            with Store(path) as s:
                for p in range(20):
                    s.put_samples([make_sample(f"p{p}", i, model=model) for i in range(5)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(m,)) for m in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(path) as s:
        assert s.counts("r")["ok"] == 200 and s.integrity_ok()


# -------------------------------------------------------------- kill -9

# Writes `batches` batches of `per` samples (one problem per batch), skipping
# keys already done. With kill_batch >= 0 it SIGKILLs itself from SQLite's
# progress handler while batch `kill_batch` is being inserted: a kill that is
# certain to land inside an open write transaction.
WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from ttscale.store import Store
    from ttscale.types import Sample, SampleKey

    db, batches, per, kill_batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    with Store(db) as store:
        store.start_run("r", {"batches": batches, "per": per})
        done = store.done_keys("r", "m", "t", "c")
        state = {"batch": -1, "before": 0, "calls": 0}

        def progress():
            if state["batch"] == kill_batch:
                state["calls"] += 1
                if state["calls"] == 40:
                    inserted = store.database._conn.total_changes - state["before"]
                    print("killing", kill_batch, inserted, flush=True)
                    os.kill(os.getpid(), signal.SIGKILL)
            return 0

        store.database._conn.set_progress_handler(progress, 100)
        for b in range(batches):
            problem = f"p{b:04d}"
            batch = [
                Sample(
                    key=SampleKey("r", "m", "t", problem, "c", i), seed=i, completion="x" * 400,
                    tokens=tuple(range(64)), logprob=-1.0, answer=str(i), correct=True, verified=None,
                    prompt_tokens=8, prefill_flops=1.0, decode_flops=1.0, verifier_flops=0.0,
                    prefill_shared=True, wall_seconds=0.0,
                )
                for i in range(per)
                if (problem, i) not in done
            ]
            if batch:
                print("writing", b, flush=True)
                state["batch"], state["before"] = b, store.database._conn.total_changes
                store.put_samples(batch)
                print("committed", b, flush=True)
    print("finished", flush=True)
    """
)
BATCHES, PER = 40, 200


def run_writer(db, kill_batch=-1, **popen):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, db, str(BATCHES), str(PER), str(kill_batch)], stdout=subprocess.PIPE, text=True, **popen
    )


def check_killed_store_then_resume(db, committed):
    """No partial batch, every acknowledged batch kept, and a re-run completes the plan exactly."""
    with Store(db) as store:
        assert store.integrity_ok()
        per_problem = {}
        for s in store.samples("r"):
            per_problem[s.key.problem_id] = per_problem.get(s.key.problem_id, 0) + 1
        assert set(per_problem.values()) <= {PER}, "a batch was partially committed"
        stored = {int(p[1:]) for p in per_problem}
        assert committed <= stored  # every acknowledged batch survived
        assert stored == set(range(len(stored)))  # and they are a prefix of the plan
        assert len(stored) < BATCHES, "the writer finished before the kill"

    resumed = run_writer(db)
    out, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0
    rewritten = {int(line.split()[1]) for line in out.splitlines() if line.startswith("committed")}
    assert rewritten == set(range(len(stored), BATCHES))  # only the missing batches
    with Store(db) as store:
        keys = [s.key for s in store.samples("r")]
        assert len(keys) == BATCHES * PER == len(set(keys))
        assert store.counts("r")["error"] == 0
        assert store.integrity_ok()


def test_kill_nine_inside_a_write_transaction_leaves_no_partial_batch(tmp_path):
    db = str(tmp_path / "killed.sqlite")
    proc = run_writer(db, kill_batch=6)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    lines = out.splitlines()
    killing = [line for line in lines if line.startswith("killing")]
    assert killing, out
    assert int(killing[0].split()[2]) > 0  # rows of batch 6 were already inserted, uncommitted
    committed = {int(line.split()[1]) for line in lines if line.startswith("committed")}
    assert committed == set(range(6))
    check_killed_store_then_resume(db, committed)
    with Store(db) as store:
        assert len(store.samples("r")) == BATCHES * PER


def test_kill_nine_from_outside_mid_run_then_resume(tmp_path):
    db = str(tmp_path / "killed.sqlite")
    proc = run_writer(db)
    committed = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("committed"):
            committed.add(int(line.split()[1]))
        if line.startswith("writing") and int(line.split()[1]) >= 5:
            time.sleep(0.001)  # let the batch get under way
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert len(committed) >= 5, "the writer never got going"
    check_killed_store_then_resume(db, committed)
