"""What an agent reads: the campaign state (counts, baseline, best, the guard's decision and next action).

The ledger stage writes ``results/campaign_state.json`` beside the ledger; drafts and the stop file
change in between, so ``flcampaign status`` recomputes it live (``live_state``).
"""

from collections import Counter
from pathlib import Path

from flcampaign.agent.guard import GuardConfig, decide
from flcampaign.contract.candidate import discover
from flcampaign.evidence.cost import campaign_cost
from flcampaign.evidence.ledger import best_row, read_tsv
from flcampaign.execution.sandbox import UNSANDBOXED_ADVICE
from flcampaign.files import write_json
from flcampaign.layout import DRAFTS_DIR, RESULTS_DIR, Records
from flcampaign.records import STATUSES, Status
from flcampaign.task import Task


def unsandboxed_notice(rows: list[dict]) -> str:
    """One sentence for the status and the report when any run went without a sandbox, else ''."""
    ran = [row for row in rows if row.get("sandbox")]
    bare = [row["candidate"] for row in ran if row["sandbox"] == "none"]
    if not bare:
        return ""
    return (
        f"{len(bare)} of {len(ran)} runs ran without a sandbox (only the in-process containment held them): "
        + UNSANDBOXED_ADVICE
        + "."
    )


def campaign_state(
    task: Task, rows: list[dict], guard: GuardConfig, stop_requested: bool = False, pending: tuple[str, ...] = ()
) -> dict:
    """What an agent reads: counts, baseline, best, and the guard's decision with its next action."""
    counts = Counter(row["status"] for row in rows)
    best = best_row(task, rows)
    baseline = next((row for row in rows if row["status"] is Status.BASELINE), None)
    verdict = decide(task, rows, guard, stop_requested, pending)
    return {
        "task": task.name,
        "metric": task.metric,
        "budget": task.budget,
        "counts": {status.value: counts.get(status, 0) for status in STATUSES} | {"total": len(rows)},
        "baseline": None if baseline is None else {"candidate": baseline["candidate"], "score": baseline["score"]},
        "best": None if best is None else {"candidate": best["candidate"], "score": best["score"]},
        "guard": {key: getattr(guard, key) for key in GuardConfig.__dataclass_fields__},
        "sandbox_notice": unsandboxed_notice(rows),
        **verdict,
    }


def live_state(task: Task, campaign_dir: Path, guard: GuardConfig) -> dict:
    """The campaign state as of now: the last ledger plus drafts, queued folders and the stop file.

    The ledger stage writes ``campaign_state.json`` when it runs; drafts and the stop file change
    in between, so ``flcampaign status`` recomputes the guard from the ledger and the folder.
    """
    campaign_dir = Path(campaign_dir)
    ledger = Records(campaign_dir / RESULTS_DIR).ledger
    rows = read_tsv(ledger) if ledger.is_file() else []
    recorded = {row["candidate"] for row in rows}
    pending = tuple(discover(campaign_dir / DRAFTS_DIR))
    state = campaign_state(task, rows, guard, (campaign_dir / guard.stop_file).exists(), pending)
    state["cost"] = campaign_cost(campaign_dir / RESULTS_DIR)
    state["queued"] = [cid for cid in discover(campaign_dir / "candidates") if cid not in recorded]
    return state


def write_state(task: Task, rows: list[dict], guard: GuardConfig, out: Path, campaign_dir: Path = Path(".")) -> dict:
    """Write ``campaign_state.json`` for the ledger's rows; the guard also sees the stop file and open drafts.
    Its ``cost`` is what the runs recorded beside it had spent when the ledger was rebuilt (``flcampaign status``
    recounts it; the report and the dashboard count it after the last phase)."""
    stop_requested = (Path(campaign_dir) / guard.stop_file).exists()
    pending = tuple(discover(Path(campaign_dir) / DRAFTS_DIR))
    state = campaign_state(task, rows, guard, stop_requested, pending)
    state["cost"] = campaign_cost(Path(campaign_dir) / RESULTS_DIR)
    write_json(out, state)
    return state
