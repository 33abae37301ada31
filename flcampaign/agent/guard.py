"""The campaign guard: what an agent should do next, from the ledger rows and the campaign folder.

The rules and their precedence follow the reference Auto-FL guard (first match wins): a stop file,
a pending draft, a missing baseline, the candidate cap, a run of hard crashes, an incomplete
literature batch, a run of argument-only candidates of one family, a plateau; otherwise propose.
Everything is recomputed from the rows, so a scripted ledger reproduces any decision.
"""

from dataclasses import dataclass
from typing import Any

from flcampaign.records import Status
from flcampaign.task import Task

# next_action -> (decision people read, may the agent give its final response)
ACTIONS = {
    "abandon_candidate": ("stop", False),
    "final_report": ("stop", True),
    "edit_candidate": ("continue", False),
    "run_baseline": ("continue", False),
    "develop_literature_batch": ("literature", False),
    "diversify_candidates": ("diversify", False),
    "run_literature_loop": ("literature", False),
    "propose_candidate": ("continue", False),
}


@dataclass(frozen=True)
class GuardConfig:
    plateau: int = 8
    material_gain: float = 0.0005
    literature_batch: int = 3
    family_repeat: int = 6
    hard_crash: int = 6
    max_candidates: int | None = None
    stop_file: str = "STOP"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "GuardConfig":
        return cls(**(config.get("guard") or {}))


def _material_gains(rows: list[dict], task: Task, material_gain: float) -> list[int]:
    """Indices of scored rows that beat the best so far by more than ``material_gain`` (the baseline counts)."""
    gains, best = [], None
    for i, row in enumerate(rows):
        if row["status"] is Status.BASELINE or (row["status"].compared and best is not None):
            if best is None or task.better(row["score"], best, material_gain):
                gains.append(i)
            if best is None or task.better(row["score"], best):
                best = row["score"]
    return gains


def literature_batches(rows: list[dict], batch_size: int) -> list[dict]:
    """Per literature event: the scored source-edited candidates that count for its batch.

    A candidate counts for the event it links to, or, unlinked, for the latest event before it;
    the batch completes at the row where the count reaches ``batch_size``.
    """
    events = [(i, row["candidate"]) for i, row in enumerate(rows) if row["status"] is Status.LITERATURE]
    batches = []
    for k, (start, event) in enumerate(events):
        end = events[k + 1][0] if k + 1 < len(events) else len(rows)
        members, completed_at = [], None
        for i, row in enumerate(rows):
            if not row["status"].compared or row.get("kind") != "source_edit" or i < start:
                continue
            link = row.get("literature_event") or ""
            if link == event or (not link and i < end):
                members.append(row["candidate"])
                if len(members) == batch_size and completed_at is None:
                    completed_at = i
        batches.append({"event": event, "row": start, "members": members, "completed_at": completed_at})
    return batches


def _streak(rows: list[dict], accept) -> int:
    count = 0
    for row in reversed(rows):
        if not accept(row):
            break
        count += 1
    return count


def decide(
    task: Task, rows: list[dict], config: GuardConfig, stop_requested: bool = False, pending: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The guard's decision, the rule that fired, and the facts it was based on."""
    baseline_at = next((i for i, row in enumerate(rows) if row["status"] is Status.BASELINE), None)
    after = rows[baseline_at + 1 :] if baseline_at is not None else []
    attempts = [row for row in after if row["status"].attempt]
    scored = [row for row in after if row["status"].compared]
    batches = literature_batches(rows, config.literature_batch)
    gains = _material_gains(rows, task, config.material_gain)
    completed = [b["completed_at"] for b in batches if b["completed_at"] is not None]
    reset_at = max([*gains[-1:], *completed[-1:]], default=-1)
    since_reset = sum(1 for i, row in enumerate(rows) if i > reset_at and row["status"].compared)
    crash_streak = _streak(attempts, lambda row: row["status"].hard_failure)
    scored_attempts = [row for row in attempts if row["status"].compared]
    family_streak = _streak(
        scored_attempts,
        lambda row: row.get("kind") == "argument_only" and row.get("family", "") == scored_attempts[-1].get("family"),
    )
    latest = batches[-1] if batches else None
    facts = {
        "attempts": len(attempts),
        "scored": len(scored),
        "pending_drafts": list(pending),
        "stop_file": stop_requested,
        "scored_since_reset": since_reset,
        "reset_after": rows[reset_at]["candidate"] if reset_at >= 0 else None,
        "crash_streak": crash_streak,
        "family_streak": family_streak,
        "literature_events": len(batches),
        "literature_batch": None
        if latest is None
        else {"event": latest["event"], "members": latest["members"], "needed": config.literature_batch},
    }
    rules = (
        (stop_requested and bool(pending), "abandon_candidate", f"stop file {config.stop_file} present; drop drafts"),
        (stop_requested, "final_report", f"stop file {config.stop_file} present"),
        (bool(pending), "edit_candidate", f"draft(s) {', '.join(pending)} not finished: finish or abandon"),
        (baseline_at is None, "run_baseline", "no baseline scored yet"),
        (
            config.max_candidates is not None and len(attempts) >= config.max_candidates,
            "final_report",
            f"candidate cap reached ({len(attempts)} of {config.max_candidates} attempts)",
        ),
        (
            crash_streak >= config.hard_crash,
            "final_report",
            f"the last {crash_streak} attempts crashed or timed out (limit {config.hard_crash})",
        ),
        (
            latest is not None and latest["completed_at"] is None,
            "develop_literature_batch",
            f"literature event {latest and latest['event']} has "
            f"{latest and len(latest['members'])} of {config.literature_batch} scored source-edited candidates",
        ),
        (
            bool(batches) and family_streak >= config.family_repeat,
            "diversify_candidates",
            f"the last {family_streak} scored candidates were argument-only in family "
            f"{scored_attempts[-1].get('family') if scored_attempts else ''!r}",
        ),
        (
            since_reset >= config.plateau,
            "run_literature_loop",
            f"{since_reset} scored candidates without a gain above {config.material_gain} (plateau {config.plateau})",
        ),
        (True, "propose_candidate", "no guard rule fired"),
    )
    _, action, reason = next(rule for rule in rules if rule[0])
    decision, final = ACTIONS[action]
    return {
        "decision": decision,
        "next_action": action,
        "reason": reason,
        "final_response_allowed": final,
        "facts": facts,
    }
