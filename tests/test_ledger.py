"""The ledger, rebuilt from scripted validation / run / score records of a fake campaign."""

import errno
import os
import random
import time
from pathlib import Path

import pytest
from conftest import REPO, with_direction

from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.state import campaign_state, write_state
from flcampaign.evidence.cost import campaign_cost
from flcampaign.evidence.ledger import (
    COLUMNS,
    build_rows,
    fixed_digest,
    read_tsv,
    to_tsv,
    write_ledger,
)
from flcampaign.files import read_json, write_json
from flcampaign.records import STATUSES, format_row
from flcampaign.task import Task

TASK_ROOT = REPO / "flcampaign" / "tasks" / "heart_disease"
FIXED = {"profile.yaml": "hash-of-profile", "src/fl_data.py": "hash-of-fl-data"}
SANDBOX = {"kind": "bubblewrap", "detail": "/usr/bin/bwrap"}


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(TASK_ROOT)


def add_candidate(
    results: Path,
    cid: str,
    created: str | None,
    score: float | None = None,
    *,
    baseline: bool = False,
    validation_state: str = "ok",
    run_state: str = "ok",
    score_state: str = "ok",
    reason: str = "",
    tree: str | None = None,
    args: dict | None = None,
    runtime: float = 12.5,
    write_run: bool = True,
    write_score: bool = True,
    title: str | None = None,
) -> None:
    """Write the records the workflow would write for one candidate at search seed 0."""
    meta = {"title": title or f"candidate {cid}", "hypothesis": f"why {cid}", "family": "fedavg"}
    if created is not None:
        meta["created"] = created
    validation = {
        "candidate": cid,
        "state": validation_state,
        "reason": reason if validation_state != "ok" else "",
        "meta": meta,
        "parent": "baseline",
        "args": args or {},
        "is_baseline": baseline,
        "changed_files": [] if baseline or args else ["client.py"],
        "patch_sha256": f"patch-{cid}",
        "tree_sha256": tree or f"tree-{cid}",
        "budget_sha256": "budget",
        "fixed_sha256": FIXED,
        "effective_args": {"lr": 0.001, **(args or {})},
    }
    write_json(results / "candidates" / cid / "validation.json", validation)
    run_dir = results / "runs" / "search" / cid / "seed0"
    if validation_state != "ok":
        run_state, score_state = "skipped", "skipped"
    if write_run:
        run = {"candidate": cid, "phase": "search", "seed": 0, "state": run_state, "device": "cpu", "sandbox": SANDBOX}
        run["reason"] = reason if run_state not in ("ok", "skipped") else ""
        if run_state == "ok":
            run["model_sha256"] = f"model-{cid}"
        if run_state != "skipped":
            run["runtime_seconds"] = runtime
        write_json(run_dir / "run.json", run)
    if run_state != "ok":
        score_state = "skipped"
    if write_score:
        record = {"candidate": cid, "state": score_state, "reason": reason if score_state == "crash" else ""}
        if score_state == "ok":
            record["score"] = score
        write_json(run_dir / "score.json", record)


def t(minute: int) -> str:
    return f"2026-11-24T00:{minute:02d}:00+00:00"


def scripted(results: Path) -> list[str]:
    """A campaign whose id order differs from its creation order; returns the ids in creation order."""
    add_candidate(results, "z-base", t(0), 0.70, baseline=True)
    add_candidate(results, "y-better", t(1), 0.75, args={"lr": 0.01})
    add_candidate(results, "x-small-gain", t(2), 0.755, tree="tree-shared", args={"local_steps": 200})
    add_candidate(results, "w-tie", t(3), 0.75)
    add_candidate(results, "v-crash", t(4), run_state="crash", reason="simulator exit code 1;\n  see sim.log")
    add_candidate(results, "u-timeout", t(5), run_state="timeout", reason="no result within 900 s")
    add_candidate(results, "s-invalid", t(6), validation_state="invalid", reason="client.py: forbidden call")
    add_candidate(results, "r-best", t(7), 0.80)
    add_candidate(results, "q-dup", t(8), 0.755, tree="tree-shared", args={"local_steps": 200})
    add_candidate(results, "p-predict", t(9), score_state="crash", reason="prediction step failed (exit code 1)")
    return [
        "z-base",
        "y-better",
        "x-small-gain",
        "w-tie",
        "v-crash",
        "u-timeout",
        "s-invalid",
        "r-best",
        "q-dup",
        "p-predict",
    ]


@pytest.fixture
def campaign(tmp_path) -> tuple[Path, list[str]]:
    results = tmp_path / "results"
    return results, scripted(results)


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["candidate"]: row for row in rows}


def test_rows_follow_creation_order_not_id_order(task, campaign):
    results, order = campaign
    for ids in (sorted(order), list(reversed(order)), random.Random(1).sample(order, len(order))):
        rows = build_rows(task, results, ids, 0, 0.01)
        assert [row["candidate"] for row in rows] == order
        assert [row["order"] for row in rows] == list(range(1, len(order) + 1))


def test_created_ties_break_on_id_and_times_compare_in_utc(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "b", t(5), 0.6, baseline=True)
    add_candidate(results, "a", t(5), 0.6)
    add_candidate(results, "c", "2026-11-24T00:30:00+01:00", 0.6)  # 23:30 UTC the day before
    add_candidate(results, "d", None, 0.6)  # no timestamp: last
    rows = build_rows(task, results, ["d", "c", "b", "a"], 0, 0.0)
    assert [row["candidate"] for row in rows] == ["c", "a", "b", "d"]


@pytest.fixture
def new_york_time(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_naive_and_unknown_times_do_not_depend_on_the_local_timezone(task, tmp_path, new_york_time):
    results = tmp_path / "results"
    add_candidate(results, "a", t(3), 0.6, baseline=True)
    add_candidate(results, "b", "2026-11-24T00:04:00", 0.6)  # naive: UTC, not New York time
    add_candidate(results, "c", t(5), 0.6)
    add_candidate(results, "d", None, 0.6)
    add_candidate(results, "e", "not a date", 0.6)
    rows = build_rows(task, results, ["e", "d", "c", "b", "a"], 0, 0.0)
    assert [row["candidate"] for row in rows] == ["a", "b", "c", "d", "e"]


def test_statuses_and_running_best(task, campaign):
    results, order = campaign
    rows = build_rows(task, results, order, 0, 0.01)
    status = {cid: row["status"] for cid, row in by_id(rows).items()}
    assert status == {
        "z-base": "baseline",
        "y-better": "keep",  # +0.05 > keep_margin
        "x-small-gain": "discard",  # +0.005 < keep_margin
        "w-tie": "discard",
        "v-crash": "crash",
        "u-timeout": "timeout",
        "s-invalid": "invalid",
        "r-best": "keep",
        "q-dup": "discard",
        "p-predict": "crash",
    }
    assert [row["best_so_far"] for row in rows] == [0.7] + [0.75] * 6 + [0.8] * 3
    assert [row["score"] for row in rows] == [0.7, 0.75, 0.755, 0.75, None, None, None, 0.8, 0.755, None]
    assert {row["status"] for row in rows} <= set(STATUSES)


def test_small_gain_is_kept_without_a_keep_margin(task, campaign):
    results, order = campaign
    rows = by_id(build_rows(task, results, order, 0, 0.0))
    assert rows["x-small-gain"]["status"] == "keep"
    assert rows["w-tie"]["status"] == "discard"  # a tie never beats the incumbent
    assert rows["q-dup"]["best_so_far"] == 0.8


def test_failure_reasons_are_carried_on_one_line(task, campaign):
    results, order = campaign
    rows = by_id(build_rows(task, results, order, 0, 0.01))
    assert rows["v-crash"]["failure_reason"] == "simulator exit code 1; see sim.log"
    assert rows["u-timeout"]["failure_reason"] == "no result within 900 s"
    assert rows["s-invalid"]["failure_reason"] == "client.py: forbidden call"
    assert rows["p-predict"]["failure_reason"] == "prediction step failed (exit code 1)"
    assert rows["z-base"]["failure_reason"] == "" and rows["r-best"]["failure_reason"] == ""
    assert rows["v-crash"]["runtime_seconds"] == 12.5
    assert rows["s-invalid"]["runtime_seconds"] is None


def test_row_fields(task, campaign):
    results, order = campaign
    rows = by_id(build_rows(task, results, order, 0, 0.01))
    base, better = rows["z-base"], rows["y-better"]
    assert base["kind"] == "baseline" and better["kind"] == "argument_only" and rows["w-tie"]["kind"] == "source_edit"
    assert base["metric"] == task.metric["name"] and base["split"] == "search_val" and base["seed"] == 0
    assert better["description"] == "candidate y-better" and better["family"] == "fedavg"
    assert rows["w-tie"]["changed_files"] == "client.py"
    assert better["tree_sha256"] == "tree-y-better" and better["patch_sha256"] == "patch-y-better"
    assert better["artifacts"] == "results/runs/search/y-better/seed0"  # from the campaign folder, wherever it is


def test_rows_carry_fixed_model_and_sandbox_hashes(task, campaign):
    results, order = campaign
    rows = by_id(build_rows(task, results, order, 0, 0.01))
    digest = fixed_digest(FIXED)
    assert len(digest) == 64 and digest == fixed_digest(dict(reversed(FIXED.items())))  # key order does not matter
    assert digest != fixed_digest(FIXED | {"profile.yaml": "changed"})
    assert all(rows[cid]["fixed_sha256"] == digest for cid in order)
    assert (
        rows["y-better"]["model_sha256"] == "model-y-better" and rows["p-predict"]["model_sha256"] == "model-p-predict"
    )
    for cid in ("v-crash", "u-timeout", "s-invalid"):  # no final model
        assert rows[cid]["model_sha256"] == ""
    assert rows["y-better"]["sandbox"] == "bubblewrap" and rows["v-crash"]["sandbox"] == "bubblewrap"
    assert rows["s-invalid"]["sandbox"] == ""  # skipped: its code never ran


def test_rows_without_recorded_hashes_leave_them_blank(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "base", t(0), 0.7, baseline=True)
    validation = read_json(results / "candidates" / "base" / "validation.json")
    del validation["fixed_sha256"]
    write_json(results / "candidates" / "base" / "validation.json", validation)
    run_path = results / "runs" / "search" / "base" / "seed0" / "run.json"
    write_json(run_path, {key: value for key, value in read_json(run_path).items() if key != "sandbox"})
    event = {"id": "lit-0001", "created": t(1), "title": "review", "sources": []}
    rows = build_rows(task, results, ["base"], 0, 0.0, [event])
    assert [(row["fixed_sha256"], row["sandbox"]) for row in rows] == [("", ""), ("", "")]
    assert [row["model_sha256"] for row in rows] == ["model-base", ""]


def test_candidate_scored_before_the_baseline_is_kept(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "early", t(0), 0.72)
    add_candidate(results, "later", t(2), 0.71)
    rows = by_id(build_rows(task, results, ["early", "later"], 0, 0.0))
    assert rows["early"]["status"] == "keep"
    assert rows["early"]["best_so_far"] == 0.72
    assert rows["later"]["status"] == "discard"
    state = campaign_state(task, list(rows.values()), GuardConfig(plateau=8, material_gain=0.0))
    assert state["baseline"] is None
    assert state["best"] == {"candidate": "early", "score": 0.72}
    assert state["next_action"] == "run_baseline"


def test_baseline_scored_after_another_candidate_is_still_the_baseline(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "early", t(0), 0.72)
    add_candidate(results, "base", t(1), 0.70, baseline=True)
    rows = build_rows(task, results, ["early", "base"], 0, 0.0)
    state = campaign_state(task, rows, GuardConfig(plateau=8, material_gain=0.0))
    assert state["baseline"] == {"candidate": "base", "score": 0.70}
    assert state["next_action"] != "run_baseline"
    assert [row["status"] for row in rows] == ["keep", "baseline"]
    assert state["best"] == {"candidate": "early", "score": 0.72}
    assert rows[-1]["best_so_far"] == 0.72


def test_direction_min_flips_keep_and_discard(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "a", t(0), 0.70, baseline=True)
    add_candidate(results, "b", t(1), 0.75)  # worse under min
    add_candidate(results, "c", t(2), 0.65)  # better by 0.05
    add_candidate(results, "d", t(3), 0.645)  # better by 0.005 < keep_margin
    add_candidate(results, "e", t(4), 0.60)
    ids = ["a", "b", "c", "d", "e"]
    low = with_direction(task, "min")
    assert task.metric["direction"] == "max"  # the shared profile is untouched
    rows = build_rows(low, results, ids, 0, 0.01)
    assert [row["status"] for row in rows] == ["baseline", "discard", "keep", "discard", "keep"]
    assert [row["best_so_far"] for row in rows] == [0.7, 0.7, 0.65, 0.65, 0.6]
    high = build_rows(task, results, ids, 0, 0.01)
    assert [row["status"] for row in high] == ["baseline", "keep", "discard", "discard", "discard"]
    state = campaign_state(low, rows, GuardConfig(plateau=8, material_gain=0.01))
    assert state["best"] == {"candidate": "e", "score": 0.60}


def test_duplicates_point_to_the_first_same_effect(task, campaign):
    results, order = campaign
    rows = by_id(build_rows(task, results, order, 0, 0.01))
    assert rows["q-dup"]["duplicate_of"] == "x-small-gain"
    assert rows["x-small-gain"]["duplicate_of"] == ""
    assert all(rows[c]["duplicate_of"] == "" for c in order if c != "q-dup")


def test_same_tree_with_other_args_is_not_a_duplicate(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "a", t(0), 0.7, baseline=True, tree="same")
    add_candidate(results, "b", t(1), 0.7, tree="same", args={"lr": 0.01})
    add_candidate(results, "c", t(2), 0.7, tree="same", args={"lr": 0.01})
    rows = by_id(build_rows(task, results, ["a", "b", "c"], 0, 0.0))
    assert rows["b"]["duplicate_of"] == ""
    assert rows["c"]["duplicate_of"] == "b"


def test_missing_records_are_crashes(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "base", t(0), 0.7, baseline=True)
    add_candidate(results, "no-run", t(1), 0.9, write_run=False, write_score=False)
    add_candidate(results, "no-score", t(2), 0.9, write_score=False)
    rows = by_id(build_rows(task, results, ["base", "no-run", "no-score"], 0, 0.0))
    for cid in ("no-run", "no-score"):
        assert rows[cid]["status"] == "crash"
        assert rows[cid]["failure_reason"] == "stage did not produce its record"
        assert rows[cid]["score"] is None
        assert rows[cid]["best_so_far"] == 0.7


def test_tsv_round_trip_and_columns(task, campaign, tmp_path):
    results, order = campaign
    add_candidate(results, "o-quoted", t(10), 0.5, title='FedProx "mu"\twith a tab')
    rows = build_rows(task, results, [*order, "o-quoted"], 0, 0.01)
    assert all(tuple(row) == COLUMNS for row in rows)
    text = to_tsv(rows)
    assert text.splitlines()[0].split("\t") == list(COLUMNS)
    path = tmp_path / "results.tsv"
    path.write_text(text, encoding="utf-8")
    back = read_tsv(path)
    assert back == rows  # typed on the way in and out
    assert back[-1]["description"] == 'FedProx "mu"\twith a tab'


def test_campaign_state_counts_best_and_baseline(task, campaign):
    results, order = campaign
    rows = build_rows(task, results, order, 0, 0.01)
    state = campaign_state(task, rows, GuardConfig(plateau=8, material_gain=0.01))
    assert state["counts"] == {
        "baseline": 1, "keep": 2, "discard": 3, "crash": 2, "timeout": 1, "invalid": 1, "literature": 0, "total": 10,
    }  # fmt: skip
    assert state["baseline"] == {"candidate": "z-base", "score": 0.70}
    assert state["best"] == {"candidate": "r-best", "score": 0.80}
    assert state["facts"]["scored_since_reset"] == 1  # q-dup after r-best; failures do not count
    assert state["next_action"] == "propose_candidate"
    assert (
        state["task"] == "heart_disease" and state["guard"]["material_gain"] == 0.01 and state["guard"]["plateau"] == 8
    )


def test_plateau_triggers_the_literature_loop(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "c0", t(0), 0.70, baseline=True)
    ids = ["c0"]
    for k in range(1, 4):
        add_candidate(results, f"c{k}", t(k), 0.69)
        ids.append(f"c{k}")
    add_candidate(results, "c9", t(9), run_state="crash", reason="boom")
    rows = build_rows(task, results, ids, 0, 0.0)
    assert (
        campaign_state(task, rows[:3], GuardConfig(plateau=3, material_gain=0.0))["next_action"] == "propose_candidate"
    )
    state = campaign_state(task, rows, GuardConfig(plateau=3, material_gain=0.0))
    assert state["facts"]["scored_since_reset"] == 3
    assert state["next_action"] == "run_literature_loop"
    # Crashes are not scored: they neither reset nor advance the plateau counter.
    with_crash = build_rows(task, results, [*ids, "c9"], 0, 0.0)
    assert (
        campaign_state(task, with_crash, GuardConfig(plateau=4, material_gain=0.0))["next_action"]
        == "propose_candidate"
    )
    # A gain resets the counter.
    add_candidate(results, "c5", t(5), 0.80)
    rows = build_rows(task, results, [*ids, "c5"], 0, 0.0)
    state = campaign_state(task, rows, GuardConfig(plateau=3, material_gain=0.0))
    assert (state["facts"]["scored_since_reset"], state["next_action"]) == (0, "propose_candidate")


def test_no_baseline_means_run_baseline(task, tmp_path):
    assert campaign_state(task, [], GuardConfig(plateau=3, material_gain=0.0))["next_action"] == "run_baseline"
    results = tmp_path / "results"
    add_candidate(results, "base", t(0), baseline=True, run_state="crash", reason="boom")
    rows = build_rows(task, results, ["base"], 0, 0.0)
    state = campaign_state(task, rows, GuardConfig(plateau=3, material_gain=0.0))
    assert state["baseline"] is None and state["best"] is None
    assert state["counts"]["crash"] == 1
    assert state["next_action"] == "run_baseline"


def test_write_ledger_writes_both_files_and_no_temporaries(task, campaign, tmp_path):
    results, order = campaign
    out = tmp_path / "out"
    tsv, state_path = out / "results.tsv", out / "campaign_state.json"
    guard = GuardConfig(plateau=8)
    rows = write_ledger(task, results, list(reversed(order)), 0, 0.01, [], tsv)
    write_state(task, rows, guard, state_path, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["campaign_state.json", "results.tsv"]
    assert read_tsv(tsv) == rows
    assert read_json(state_path) == campaign_state(task, rows, guard) | {"cost": campaign_cost(tmp_path / "results")}


def test_write_ledger_replaces_atomically(task, campaign, tmp_path, monkeypatch):
    results, order = campaign
    out = tmp_path / "out"
    out.mkdir()
    tsv = out / "results.tsv"
    tsv.write_text("old ledger\n")

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSPC, "disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_ledger(task, results, order, 0, 0.01, [], tsv)
    monkeypatch.undo()
    assert tsv.read_text() == "old ledger\n"
    assert sorted(p.name for p in out.iterdir()) == ["results.tsv"]


def test_write_ledger_rejects_non_finite_scores(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "base", t(0), float("nan"), baseline=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.tsv").write_text("old ledger\n")
    with pytest.raises(ValueError, match="non-finite"):
        write_ledger(task, results, ["base"], 0, 0.0, [], out / "results.tsv")
    assert (out / "results.tsv").read_text() == "old ledger\n"
    assert sorted(p.name for p in out.iterdir()) == ["results.tsv"]


def test_every_row_shows_its_compute_beside_its_score(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "base", t(0), 0.70, baseline=True)
    add_candidate(results, "heavy", t(1), 0.72)
    add_candidate(results, "crashed", t(2), run_state="crash", reason="exit code 1")
    compute = {"base": (40.0, None, 0.8), "heavy": (90.5, 12.25, 1.81)}
    for cid, (cpu, gpu, ratio) in compute.items():
        path = results / "runs" / "search" / cid / "seed0" / "score.json"
        write_json(path, read_json(path) | {"compute": {"cpu_seconds": cpu, "gpu_seconds": gpu, "ratio": ratio}})
    crashed = results / "runs" / "search" / "crashed" / "seed0" / "run.json"
    write_json(crashed, read_json(crashed) | {"compute": {"cpu_seconds": 3.5, "gpu_seconds": None}})
    rows = {row["candidate"]: row for row in build_rows(task, results, ["base", "heavy", "crashed"], 0, 0.0)}
    assert (rows["base"]["cpu_seconds"], rows["base"]["gpu_seconds"], rows["base"]["compute_ratio"]) == (
        40.0,
        None,
        0.8,
    )
    assert (rows["heavy"]["gpu_seconds"], rows["heavy"]["compute_ratio"]) == (12.25, 1.81)
    assert (rows["crashed"]["cpu_seconds"], rows["crashed"]["compute_ratio"]) == (3.5, None)  # from the run
    cells = format_row(rows["base"])
    assert (cells["cpu_seconds"], cells["gpu_seconds"], cells["compute_ratio"]) == ("40.000", "", "0.8000")


def test_a_back_dated_folder_cannot_move_in_front_of_the_recorded_campaign(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "base", t(10), 0.70, baseline=True)
    add_candidate(results, "good", t(11), 0.75)
    tsv = results / "results.tsv"
    write_ledger(task, results, ["base", "good"], 0, 0.0, [], tsv)
    # dropped later, stamped an hour before the campaign began: it is placed after what was recorded
    add_candidate(results, "early-bird", "2026-11-23T23:00:00+00:00", 0.80)
    rows = write_ledger(task, results, ["base", "good", "early-bird"], 0, 0.0, [], tsv)
    assert [row["candidate"] for row in rows] == ["base", "good", "early-bird"]
    assert [row["status"] for row in rows] == ["baseline", "keep", "keep"]
    places = read_json(results / "order.json")
    assert places["early-bird"]["at"] == places["good"]["at"] and places["early-bird"]["build"] == 2
    # a place, once given, never moves: editing the stamp afterwards changes nothing
    add_candidate(results, "good", "2026-11-23T00:00:00+00:00", 0.75)
    rows = write_ledger(task, results, ["base", "good", "early-bird"], 0, 0.0, [], tsv)
    assert [row["candidate"] for row in rows] == ["base", "good", "early-bird"]


def test_a_stamp_in_the_future_is_re_stamped_to_its_arrival(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "base", t(0), 0.70, baseline=True)
    add_candidate(results, "from-2099", "2099-01-01T00:00:00+00:00", 0.71)
    tsv = results / "results.tsv"
    write_ledger(task, results, ["base", "from-2099"], 0, 0.0, [], tsv)
    assert read_json(results / "order.json")["from-2099"]["at"] < "2027"  # placed when it arrived
    add_candidate(results, "next", "2026-12-31T00:00:00+00:00", 0.72)  # not behind a stamp of 2099
    rows = write_ledger(task, results, ["base", "from-2099", "next"], 0, 0.0, [], tsv)
    assert [row["candidate"] for row in rows] == ["base", "from-2099", "next"]


def test_a_campaign_has_exactly_one_baseline(task, tmp_path):
    """A second folder without changes, even back-dated, is refused: the real baseline keeps its row."""
    results = tmp_path / "results"
    add_candidate(results, "real-base", t(5), 0.70, baseline=True)
    add_candidate(results, "idea", t(6), 0.72)
    tsv = results / "results.tsv"
    write_ledger(task, results, ["real-base", "idea"], 0, 0.0, [], tsv)
    add_candidate(results, "fake-base", t(0), 0.60, baseline=True)
    rows = by_id(write_ledger(task, results, ["real-base", "idea", "fake-base"], 0, 0.0, [], tsv))
    assert rows["real-base"]["status"] == "baseline" and rows["idea"]["status"] == "keep"
    assert rows["fake-base"]["status"] == "invalid" and rows["fake-base"]["score"] is None
    assert (
        "candidate fake-base: candidate.yaml: rule one-baseline: the campaign's baseline is real-base"
        in (rows["fake-base"]["failure_reason"])
    )
    # in one build (a fresh campaign), the earlier stamp is the baseline and the later one is refused
    fresh = tmp_path / "fresh"
    add_candidate(fresh, "b1", t(1), 0.70, baseline=True)
    add_candidate(fresh, "b2", t(2), 0.70, baseline=True)
    rows = by_id(build_rows(task, fresh, ["b2", "b1"], 0, 0.0))
    assert (rows["b1"]["status"], rows["b2"]["status"]) == ("baseline", "invalid")


def test_a_refused_folder_is_one_invalid_row_and_the_others_are_unchanged(task, campaign, tmp_path):
    results, order = campaign
    before = build_rows(task, results, order, 0, 0.01)
    refused = {"candidates/lit-0001": "candidate folder candidates/lit-0001: rule candidate-id: reserved"}
    tsv = tmp_path / "results.tsv"
    rows = write_ledger(task, results, order, 0, 0.01, [], tsv, refused=refused)
    row = by_id(rows)["candidates/lit-0001"]
    assert row["status"] == "invalid" and row["score"] is None
    assert "rule candidate-id" in row["failure_reason"]
    assert [r["candidate"] for r in rows] == [*order, "candidates/lit-0001"]  # a newcomer goes last
    assert [{k: v for k, v in r.items() if k != "order"} for r in rows[:-1]] == [
        {k: v for k, v in r.items() if k != "order"} for r in before
    ]
    assert read_tsv(tsv) == rows
