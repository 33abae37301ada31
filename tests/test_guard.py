"""The campaign guard on scripted ledgers: every reference rule, its threshold, and the precedence."""

import copy
from itertools import count

import pytest
from conftest import REPO

from flcampaign.agent.guard import ACTIONS, GuardConfig, decide, literature_batches
from flcampaign.records import ledger_row
from flcampaign.task import Task

TICK = count(1)


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")


def row(status: str, score: float | None = None, kind: str = "source_edit", family: str = "fedavg", lit: str = ""):
    """A typed ledger row as the ledger is read, with a fresh candidate id."""
    cid = f"lit-{next(TICK):04d}" if status == "literature" else f"c{next(TICK)}"
    return ledger_row(
        candidate=cid,
        status=status,
        score=score,
        kind="literature" if status == "literature" else kind,
        family=family,
        literature_event=cid if status == "literature" else lit,
    )


def base(score: float = 0.70) -> list[dict]:
    return [row("baseline", score, kind="baseline")]


def discards(n: int, score: float = 0.60, **kwargs) -> list[dict]:
    return [row("discard", score, **kwargs) for _ in range(n)]


def action(task: Task, rows: list[dict], **kwargs) -> str:
    stop = kwargs.pop("stop", False)
    pending = kwargs.pop("pending", ())
    return decide(task, rows, GuardConfig(**kwargs), stop, pending)["next_action"]


def test_no_baseline_first(task):
    assert action(task, []) == "run_baseline"
    assert action(task, [row("crash")]) == "run_baseline"
    assert action(task, base()) == "propose_candidate"


def test_plateau_after_the_threshold_of_scored_candidates(task):
    assert action(task, base() + discards(7)) == "propose_candidate"
    rows = base() + discards(8)
    verdict = decide(task, rows, GuardConfig())
    assert verdict["next_action"] == "run_literature_loop" and verdict["decision"] == "literature"
    assert verdict["facts"]["scored_since_reset"] == 8 and verdict["facts"]["reset_after"] == rows[0]["candidate"]
    assert action(task, base() + discards(3), plateau=3) == "run_literature_loop"


def test_failures_neither_advance_nor_reset_the_plateau(task):
    rows = base() + discards(4) + [row("crash"), row("timeout"), row("invalid")] + discards(3)
    assert action(task, rows) == "propose_candidate"
    assert action(task, rows + discards(1)) == "run_literature_loop"


def test_only_a_material_gain_resets_the_plateau(task):
    small = base(0.70) + discards(5) + [row("keep", 0.7003)] + discards(2)
    assert action(task, small) == "run_literature_loop"  # +0.0003 is below material_gain 0.0005
    assert action(task, small, material_gain=0.0001) == "propose_candidate"
    material = base(0.70) + discards(5) + [row("keep", 0.71)] + discards(7)
    assert action(task, material) == "propose_candidate"
    assert action(task, material + discards(1)) == "run_literature_loop"


def test_plateau_follows_the_metric_direction(task):
    low = Task(task.root, copy.deepcopy(task.profile) | {"metric": task.metric | {"direction": "min"}})
    rows = base(0.70) + discards(5, score=0.80) + [row("keep", 0.60)] + discards(7, score=0.80)
    assert action(low, rows) == "propose_candidate"
    assert action(task, rows) == "run_literature_loop"  # under max, 0.60 is no gain


def test_literature_batch_needs_three_scored_source_edited_candidates(task):
    rows = base() + discards(8)
    event = row("literature")
    rows.append(event)
    assert action(task, rows) == "develop_literature_batch"
    rows += [row("discard", 0.6, lit=event["candidate"]), row("discard", 0.6, kind="argument_only", lit="")]
    rows += [row("crash", lit=event["candidate"]), row("invalid", lit=event["candidate"])]
    verdict = decide(task, rows, GuardConfig())
    assert verdict["next_action"] == "develop_literature_batch"
    assert len(verdict["facts"]["literature_batch"]["members"]) == 1
    rows.append(row("discard", 0.6))  # unlinked source edit after the event counts
    assert action(task, rows) == "develop_literature_batch"
    rows.append(row("keep", 0.705, lit=event["candidate"]))
    assert action(task, rows) == "propose_candidate"  # batch complete: the plateau clock restarts here
    assert action(task, rows + discards(7)) == "propose_candidate"
    assert action(task, rows + discards(8)) == "run_literature_loop"
    assert action(task, rows[:-1], literature_batch=2) == "propose_candidate"


def test_batch_members_link_across_later_events(task):
    first, second = row("literature"), row("literature")
    rows = base() + [first, row("discard", 0.6, lit=first["candidate"]), second]
    rows += [row("discard", 0.6, lit=first["candidate"]), row("discard", 0.6, lit=first["candidate"])]
    batches = literature_batches(rows, 3)
    assert [len(b["members"]) for b in batches] == [3, 0]
    assert batches[0]["completed_at"] == len(rows) - 1
    assert action(task, rows) == "develop_literature_batch"  # the latest event's batch is still empty


def test_family_repeat_after_a_literature_event(task):
    event = row("literature")
    done = base() + [event] + [row("discard", 0.6, lit=event["candidate"]) for _ in range(3)]
    same = [row("discard", 0.6, kind="argument_only", family="fedprox") for _ in range(6)]
    verdict = decide(task, done + same, GuardConfig())
    assert verdict["next_action"] == "diversify_candidates" and verdict["decision"] == "diversify"
    assert verdict["facts"]["family_streak"] == 6
    assert action(task, done + same[:5]) == "propose_candidate"
    mixed = same[:3] + [row("discard", 0.6, kind="argument_only", family="median")] + same[3:]
    assert action(task, done + mixed) == "propose_candidate"
    edited = same[:3] + [row("discard", 0.6, family="fedprox")] + same[3:]
    assert action(task, done + edited) == "propose_candidate"
    assert action(task, done + same + [row("crash")]) == "diversify_candidates"  # crashes are not scored attempts
    assert action(task, base() + same) == "propose_candidate"  # no literature event yet
    assert action(task, done + same[:4], family_repeat=4) == "diversify_candidates"


def test_hard_crash_stops_the_campaign(task):
    crashes = [row("crash") for _ in range(3)] + [row("timeout") for _ in range(3)]
    verdict = decide(task, base() + discards(2) + crashes, GuardConfig())
    assert verdict["next_action"] == "final_report" and verdict["decision"] == "stop"
    assert verdict["final_response_allowed"] and "crashed" in verdict["reason"]
    assert action(task, base() + crashes[:5]) == "propose_candidate"
    broken = crashes[:3] + [row("invalid")] + crashes[3:]
    assert action(task, base() + broken) == "propose_candidate"
    assert action(task, base() + crashes[:2], hard_crash=2) == "final_report"


def test_candidate_cap(task):
    rows = base() + discards(2) + [row("invalid"), row("crash"), row("literature")]
    assert action(task, rows, max_candidates=5) == "develop_literature_batch"
    verdict = decide(task, rows + [row("discard", 0.6)], GuardConfig(max_candidates=5))
    assert verdict["next_action"] == "final_report" and "cap" in verdict["reason"]
    assert action(task, rows) == "develop_literature_batch"  # no cap by default


def test_stop_file_and_pending_drafts(task):
    rows = base() + discards(2)
    assert action(task, rows, stop=True) == "final_report"
    assert action(task, rows, stop=True, pending=("0012-x",)) == "abandon_candidate"
    verdict = decide(task, rows, GuardConfig(), False, ("0012-x",))
    assert verdict["next_action"] == "edit_candidate" and "0012-x" in verdict["reason"]
    assert not verdict["final_response_allowed"]
    assert action(task, [], stop=True) == "final_report"


def test_precedence_first_matching_rule_wins(task):
    crashes = [row("crash") for _ in range(6)]
    event = row("literature")
    # plateau + incomplete batch + hard crash + cap all hold at once
    rows = base() + discards(8) + [event] + crashes
    assert action(task, rows, stop=True, pending=("d",)) == "abandon_candidate"
    assert action(task, rows, stop=True) == "final_report"
    assert action(task, rows, pending=("d",)) == "edit_candidate"
    assert "cap" in decide(task, rows, GuardConfig(max_candidates=10))["reason"]
    assert "crashed" in decide(task, rows, GuardConfig())["reason"]
    assert action(task, rows[:-1]) == "develop_literature_batch"  # 5 crashes: the batch comes next
    # family repeat + plateau: diversify first
    done = base() + [event] + [row("discard", 0.6, lit=event["candidate"]) for _ in range(3)]
    same = [row("discard", 0.6, kind="argument_only", family="fedprox") for _ in range(8)]
    assert action(task, done + same) == "diversify_candidates"
    assert action(task, done + same, family_repeat=9) == "run_literature_loop"


def test_only_final_report_allows_the_final_response():
    assert {action for action, (_, final) in ACTIONS.items() if final} == {"final_report"}


def test_guard_config_from_the_campaign_config():
    config = {"guard": {"plateau": 4, "material_gain": 0.01, "max_candidates": 20, "stop_file": "HALT"}}
    guard = GuardConfig.from_config(config)
    assert (guard.plateau, guard.material_gain, guard.max_candidates, guard.stop_file) == (4, 0.01, 20, "HALT")
    assert (guard.literature_batch, guard.family_repeat, guard.hard_crash) == (3, 6, 6)
