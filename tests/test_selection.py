"""Unit tests of winner selection (evidence.selection) and the scalar controls (evidence.controls).

Selection runs on scripted ledger rows (strings, as read back from results.tsv); controls are drawn
from the bundled heart_disease profile and validated statically (nothing is simulated).
"""

import copy
from pathlib import Path

import numpy as np
import pytest
from conftest import with_direction

from flcampaign.evidence import controls as ctl
from flcampaign.evidence import racing
from flcampaign.evidence.controls import BEST_CONTROL, draw_controls, pick_best_control, write_control
from flcampaign.evidence.selection import repeated_ids, select
from flcampaign.files import read_json, sha256_tree, write_json
from flcampaign.records import ledger_row
from flcampaign.task import Task


def row(order: int, candidate: str, status: str, score: str = "") -> dict:
    """A typed ledger row (the score as the TSV writes it)."""
    return ledger_row(order=order, candidate=candidate, status=status, score=float(score) if score else None)


# A search ledger in campaign order. The baseline, the crash and the invalid row carry the best
# numbers on purpose: if any of them were ranked they would take the top places.
ROWS = [
    row(1, "base", "baseline", "0.990000"),
    row(2, "c01", "keep", "0.820000"),
    row(3, "c02", "discard", "0.810000"),
    row(4, "c03", "crash", "0.995000"),
    row(5, "c04", "keep", "0.850000"),
    row(6, "c05", "discard", "0.870000"),
    row(7, "c06", "invalid", "0.999000"),
    row(8, "c07", "discard", "0.860000"),
    row(9, "c08", "keep", "0.840000"),
    row(10, "c09", "timeout", ""),
]
N_SCORED = 6  # c01, c02, c04, c05, c07, c08


def select_by_search(task: Task, rows: list[dict], top_k: int, n_controls: int | None, control_seed: int) -> dict:
    """Selection without a race: every candidate ranked by its one search run."""
    settings = racing.RaceSettings(contenders=0, seeds=(), batch=1, alpha=0.1, top_k=top_k)
    race = racing.start(task, rows, settings, {r["candidate"]: r["score"] for r in rows}.get)
    return select(task, rows, race, top_k, n_controls, control_seed, search_seed=0)


def winners_of(selection: dict) -> dict[str, list[str]]:
    return {w["candidate"]: w["reasons"] for w in selection["winners"]}


# ---------------------------------------------------------------- select()


def test_select_top_k_among_scored_agent_candidates(heart_task):
    selection = select_by_search(heart_task, ROWS, top_k=3, n_controls=0, control_seed=1)
    winners = winners_of(selection)
    assert list(winners)[:3] == ["c05", "c07", "c04"]
    assert winners["c05"] == ["top-1 by search score"]
    assert winners["c07"] == ["top-2 by search score"]
    assert winners["c04"] == ["top-3 by search score"]
    for excluded in ("base", "c03", "c06", "c09"):
        assert excluded not in winners
    assert selection["n_scored_agent_candidates"] == N_SCORED
    assert selection["top_k"] == 3
    assert selection["control_seed"] == 1


def test_select_adds_final_kept_candidate_outside_top_k(heart_task):
    selection = select_by_search(heart_task, ROWS, top_k=2, n_controls=0, control_seed=1)
    assert selection["winners"] == [
        {"candidate": "c05", "reasons": ["top-1 by search score"]},
        {"candidate": "c07", "reasons": ["top-2 by search score"]},
        {"candidate": "c08", "reasons": ["final kept candidate"]},
    ]


def test_select_final_kept_inside_top_k_is_not_duplicated(heart_task):
    rows = [*ROWS, row(11, "c10", "keep", "0.900000")]
    selection = select_by_search(heart_task, rows, top_k=2, n_controls=0, control_seed=1)
    ids = [w["candidate"] for w in selection["winners"]]
    assert ids == ["c10", "c05"]
    assert winners_of(selection)["c10"] == ["top-1 by search score", "final kept candidate"]


def test_select_ties_broken_by_campaign_order(heart_task):
    # same score: the earlier order wins; orders compare as numbers ("9" before "10"), not as text
    rows = [
        row(10, "late", "discard", "0.850000"),
        row(9, "early", "discard", "0.850000"),
        row(11, "third", "discard", "0.800000"),
    ]
    selection = select_by_search(heart_task, rows, top_k=2, n_controls=0, control_seed=1)
    assert winners_of(selection) == {"early": ["top-1 by search score"], "late": ["top-2 by search score"]}


def test_select_ranks_scores_numerically(heart_task):
    rows = [row(1, "ten", "discard", "10.0"), row(2, "nine", "discard", "9.0")]
    selection = select_by_search(heart_task, rows, top_k=1, n_controls=0, control_seed=1)
    assert [w["candidate"] for w in selection["winners"]] == ["ten"]


def test_select_records_baseline(heart_task):
    assert select_by_search(heart_task, ROWS, top_k=1, n_controls=0, control_seed=1)["baseline"] == "base"
    no_baseline = [r for r in ROWS if r["status"] != "baseline"]
    assert select_by_search(heart_task, no_baseline, top_k=1, n_controls=0, control_seed=1)["baseline"] is None


def test_select_with_nothing_scored(heart_task):
    rows = [row(1, "base", "baseline", "0.8"), row(2, "c01", "crash")]
    selection = select_by_search(heart_task, rows, top_k=3, n_controls=None, control_seed=1)
    assert selection["winners"] == []
    assert selection["controls"] == []
    assert selection["n_scored_agent_candidates"] == 0


def test_select_controls_default_to_number_of_scored_candidates(heart_task):
    selection = select_by_search(heart_task, ROWS, top_k=2, n_controls=None, control_seed=7)
    assert len(selection["controls"]) == N_SCORED
    assert selection["controls"] == draw_controls(heart_task, N_SCORED, 7)


@pytest.mark.parametrize("n", [0, 1, 9])
def test_select_honours_explicit_number_of_controls(heart_task, n):
    selection = select_by_search(heart_task, ROWS, top_k=2, n_controls=n, control_seed=7)
    assert len(selection["controls"]) == n
    assert [c["id"] for c in selection["controls"]] == [f"_ctl-{i:03d}" for i in range(1, n + 1)]


def test_select_direction_min_ranks_ascending(heart_task):
    task = with_direction(heart_task, "min")
    assert heart_task.metric["direction"] == "max"  # the shared fixture is untouched
    selection = select_by_search(task, ROWS, top_k=3, n_controls=0, control_seed=1)
    winners = winners_of(selection)
    assert list(winners)[:3] == ["c02", "c01", "c08"]
    assert winners["c02"] == ["top-1 by search score"]
    assert winners["c01"] == ["top-2 by search score"]
    assert winners["c08"] == ["top-3 by search score", "final kept candidate"]
    assert len(winners) == 3


def test_select_is_deterministic(heart_task):
    first = select_by_search(heart_task, ROWS, top_k=2, n_controls=None, control_seed=3)
    second = select_by_search(heart_task, copy.deepcopy(ROWS), top_k=2, n_controls=None, control_seed=3)
    assert first == second


# ---------------------------------------------------------------- repeated_ids()


def test_repeated_ids_winners_baseline_and_best_control(heart_task):
    selection = select_by_search(heart_task, ROWS, top_k=2, n_controls=2, control_seed=1)
    assert repeated_ids(selection) == ["c05", "c07", "c08", "base", BEST_CONTROL]


def test_repeated_ids_without_controls_has_no_best_control(heart_task):
    selection = select_by_search(heart_task, ROWS, top_k=2, n_controls=0, control_seed=1)
    ids = repeated_ids(selection)
    assert BEST_CONTROL not in ids
    assert ids == ["c05", "c07", "c08", "base"]


def test_repeated_ids_without_baseline_and_no_duplicates():
    selection = {
        "baseline": "a",
        "winners": [{"candidate": "a", "reasons": []}, {"candidate": "b", "reasons": []}],
        "controls": [{"id": "_ctl-001", "args": {}}],
    }
    assert repeated_ids(selection) == ["a", "b", BEST_CONTROL]
    selection["baseline"] = None
    selection["controls"] = []
    assert repeated_ids(selection) == ["a", "b"]


# ---------------------------------------------------------------- draw_controls()


def test_draw_controls_is_deterministic_per_seed(heart_task):
    assert draw_controls(heart_task, 5, 11) == draw_controls(heart_task, 5, 11)
    assert draw_controls(heart_task, 5, 11) != draw_controls(heart_task, 5, 12)


def test_draw_controls_ids_and_full_assignments(heart_task):
    drawn = draw_controls(heart_task, 12, 3)
    assert [c["id"] for c in drawn] == [f"_ctl-{i:03d}" for i in range(1, 13)]
    assert drawn[0]["id"] == "_ctl-001"
    for control in drawn:
        assert set(control["args"]) == set(heart_task.knobs)


def test_draw_controls_within_bounds_and_of_knob_type(heart_task):
    drawn = draw_controls(heart_task, 200, 5)
    python_type = {"int": int, "float": float, "str": str}
    for control in drawn:
        for name, value in control["args"].items():
            spec = heart_task.knobs[name]
            assert type(value) is python_type[spec["type"]], (name, value)
            if "choices" in spec:
                assert value in spec["choices"]
            else:
                assert spec["min"] <= value <= spec["max"], (name, value)
    # every choice of the categorical knob shows up in 200 draws
    assert {c["args"]["aggregator"] for c in drawn} == set(heart_task.knobs["aggregator"]["choices"])


def test_draw_controls_log_scale_spreads_over_decades(heart_task):
    assert heart_task.knobs["lr"]["log_scale"] is True
    assert (heart_task.knobs["lr"]["min"], heart_task.knobs["lr"]["max"]) == (1e-4, 0.1)
    lrs = [c["args"]["lr"] for c in draw_controls(heart_task, 200, 17)]
    # log-uniform over [1e-4, 0.1] puts ~1/3 below 1e-3; a uniform draw would put ~0.9% there
    assert sum(lr < 1e-3 for lr in lrs) / len(lrs) > 0.20
    assert sum(lr > 1e-2 for lr in lrs) / len(lrs) > 0.20


def test_draw_knob_int_rounds_into_bounds():
    spec = {"type": "int", "min": 10, "max": 12}
    rng = np.random.default_rng(0)
    values = {ctl.draw_knob(rng, spec) for _ in range(200)}
    assert values == {10, 11, 12}


# ---------------------------------------------------------------- write_control() / pick_best_control()


def test_write_control_validates_a_scalar_only_candidate(heart_task, tmp_path):
    results = tmp_path / "results"
    control = draw_controls(heart_task, 1, 4)[0]
    record = write_control(heart_task, control, results)
    out = results / "candidates" / "_ctl-001"
    on_disk = read_json(out / "validation.json")
    assert on_disk == record
    assert record["state"] == "ok", record.get("reason")
    assert record["candidate"] == "_ctl-001"
    assert record["args"] == control["args"]
    assert record["effective_args"] == control["args"]
    assert record["changed_files"] == []
    assert record["is_baseline"] is False
    assert record["meta"]["family"] == "scalar-control"
    assert sha256_tree(out / "src") == sha256_tree(heart_task.sources)
    assert (out / "effective.diff").read_text() == ""


def test_write_control_is_reproducible(heart_task, tmp_path):
    control = draw_controls(heart_task, 1, 4)[0]
    first = write_control(heart_task, control, tmp_path / "one")
    second = write_control(heart_task, control, tmp_path / "two")
    assert first == second


def write_score(results: Path, cid: str, state: str, score: float | None, seed: int = 0) -> None:
    write_json(results / "runs" / "control" / cid / f"seed{seed}" / "score.json", {"state": state, "score": score})


def pick(task: Task, selection: dict, results: Path, seed: int) -> dict:
    """pick_best_control over the score records the workflow would hand it for ``seed``."""
    paths = [results / "runs" / "control" / c["id"] / f"seed{seed}" / "score.json" for c in selection["controls"]]
    return pick_best_control(task, paths, results)


@pytest.fixture()
def four_controls(heart_task, tmp_path) -> tuple[dict, Path]:
    results = tmp_path / "results"
    selection = {"controls": draw_controls(heart_task, 4, 9)}
    for control in selection["controls"]:
        write_control(heart_task, control, results)
    return selection, results


def test_pick_best_control_by_score_skipping_crashes_and_ties_to_lower_id(heart_task, four_controls):
    selection, results = four_controls
    write_score(results, "_ctl-001", "ok", 0.70)
    write_score(results, "_ctl-002", "crash", 0.99)  # a crashed control never wins, whatever it carries
    write_score(results, "_ctl-003", "ok", 0.75)
    write_score(results, "_ctl-004", "ok", 0.75)  # tie with _ctl-003: the lower id wins
    record = pick(heart_task, selection, results, 0)
    assert record["source_control"] == "_ctl-003"
    assert record["source_score"] == 0.75
    assert record["candidate"] == BEST_CONTROL
    assert record["state"] == "ok"
    assert record["args"] == selection["controls"][2]["args"]
    on_disk = read_json(results / "candidates" / BEST_CONTROL / "validation.json")
    assert on_disk == record
    assert sha256_tree(results / "candidates" / BEST_CONTROL / "src") == sha256_tree(heart_task.sources)


def test_pick_best_control_direction_min(heart_task, four_controls):
    selection, results = four_controls
    for cid, score in (("_ctl-001", 0.70), ("_ctl-002", 0.60), ("_ctl-003", 0.75), ("_ctl-004", 0.65)):
        write_score(results, cid, "ok", score)
    record = pick(with_direction(heart_task, "min"), selection, results, 0)
    assert record["source_control"] == "_ctl-002"
    record = pick(heart_task, selection, results, 0)
    assert record["source_control"] == "_ctl-003"


def test_pick_best_control_reads_the_given_seed(heart_task, four_controls):
    selection, results = four_controls
    for cid in ("_ctl-001", "_ctl-002", "_ctl-003", "_ctl-004"):
        write_score(results, cid, "ok", 0.5, seed=0)
        write_score(results, cid, "ok", 0.5, seed=3)
    write_score(results, "_ctl-004", "ok", 0.9, seed=3)
    assert pick(heart_task, selection, results, 0)["source_control"] == "_ctl-001"
    assert pick(heart_task, selection, results, 3)["source_control"] == "_ctl-004"


def test_pick_best_control_without_any_score_is_invalid(heart_task, four_controls):
    selection, results = four_controls
    for cid in ("_ctl-001", "_ctl-002", "_ctl-003", "_ctl-004"):
        write_score(results, cid, "crash", None)
    record = pick(heart_task, selection, results, 0)
    assert record["state"] == "invalid"
    assert record["reason"] == "no control produced a score"
    assert record["candidate"] == BEST_CONTROL
    assert "source_control" not in record
    out = results / "candidates" / BEST_CONTROL
    assert read_json(out / "validation.json") == record
    assert (out / "src").is_dir()
    assert list((out / "src").iterdir()) == []
