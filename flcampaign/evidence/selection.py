"""Winner selection after the search phase: what gets repeated, held out and controlled.

Selection reads the search ledger and the race (``racing``) only. It is deterministic (explicit tie-break on
campaign order) so that the checkpoint's output, and with it the downstream DAG, is stable across re-runs.
"""

from flcampaign.evidence import racing
from flcampaign.evidence.controls import BEST_CONTROL, draw_controls
from flcampaign.records import Status
from flcampaign.task import Task


def select(
    task: Task,
    rows: list[dict],
    race: dict,
    top_k: int,
    n_controls: int | None,
    control_seed: int,
    search_seed: int,
) -> dict:
    """Top-k by the race (survivors by their mean over every search seed they ran, then the dropped, then the
    rest by their one search run) plus the final kept one, the baseline, and the controls."""
    scored = [r for r in rows if r["status"].compared]
    ranked = racing.ranking(race, task.orientation, search_seed)
    winners: dict[str, list[str]] = {}
    for rank, entry in enumerate(ranked[:top_k], start=1):
        basis = f"race mean over {entry['seeds']} search seeds" if entry["seeds"] > 1 else "search score"
        winners.setdefault(entry["candidate"], []).append(f"top-{rank} by {basis}")
    kept = [r for r in rows if r["status"] is Status.KEEP]
    if kept:
        winners.setdefault(kept[-1]["candidate"], []).append("final kept candidate")
    baseline = next((r["candidate"] for r in rows if r["status"] is Status.BASELINE), None)
    n = len(scored) if n_controls is None else n_controls
    return {
        "baseline": baseline,
        "winners": [{"candidate": cid, "reasons": reasons} for cid, reasons in winners.items()],
        "controls": draw_controls(task, n, control_seed),
        "n_scored_agent_candidates": len(scored),
        "top_k": top_k,
        "control_seed": control_seed,
        "race": racing.summary(race, ranked, search_seed),
    }


def repeated_ids(selection: dict) -> list[str]:
    """Everything that runs on the repeat seeds: winners, the baseline and the best control."""
    ids = [w["candidate"] for w in selection["winners"]]
    if selection["baseline"]:
        ids.append(selection["baseline"])
    if selection["controls"]:
        ids.append(BEST_CONTROL)
    return list(dict.fromkeys(ids))
