"""What a campaign spent: each run's measured cost and the totals per phase, read from the run and score records.

The runner measures every run (wall time, CPU seconds of the process tree, GPU seconds where a GPU was used,
the tree's peak resident memory, the device and slot it leased); the evaluator measures its own predictions.
Nothing here trusts a candidate: an agent's own account of its cost (``cost`` in ``candidate.yaml``: tokens,
money) is summed apart and always shown as self-reported.
"""

from pathlib import Path
from typing import Any

from flcampaign.files import read_json
from flcampaign.layout import HELDOUT_RECORD, PHASES, SCORE_RECORD, Records
from flcampaign.records import State

HELDOUT_SCORING = "heldout"  # the held-out split's scoring of the repeat runs: evaluation only, no simulation
PHASE_NAMES = {
    "search": "search",
    "race": "race (search seeds)",
    "control": "scalar controls",
    "repeat": "repeats",
    "rerun": "baseline re-run",
    "reference": "compute reference",
    HELDOUT_SCORING: "held-out scoring",
}
SELF_REPORTED = ("tokens", "usd")  # what candidate.yaml's ``cost`` may carry


def run_cost(run: dict | None) -> dict[str, Any]:
    """One run's measured cost from its run record (empty values when it did not run)."""
    run = run or {}
    compute, caps = run.get("compute") or {}, run.get("caps") or {}
    return {
        "wall_seconds": run.get("runtime_seconds"),
        "cpu_seconds": compute.get("cpu_seconds"),
        "gpu_seconds": compute.get("gpu_seconds"),
        "peak_memory_mb": caps.get("peak_memory_mb"),
        "device": run.get("device", ""),
        "slot": run.get("slot", ""),
    }


def _empty() -> dict[str, Any]:
    return {
        "runs": 0,
        "wall_seconds": 0.0,
        "cpu_seconds": 0.0,
        "gpu_seconds": None,
        "scoring_seconds": 0.0,
        "peak_memory_mb": None,
        "devices": [],
    }


def _add(total: dict[str, Any], cost: dict[str, Any]) -> None:
    """Sum times, keep the largest peak, list the devices; GPU seconds stay None until a GPU was used."""
    total["runs"] += 1
    for key in ("wall_seconds", "cpu_seconds"):
        total[key] += cost.get(key) or 0.0
    if cost.get("gpu_seconds") is not None:
        total["gpu_seconds"] = (total["gpu_seconds"] or 0.0) + cost["gpu_seconds"]
    if cost.get("peak_memory_mb") is not None:
        total["peak_memory_mb"] = max(total["peak_memory_mb"] or 0.0, cost["peak_memory_mb"])
    if cost.get("device") and cost["device"] not in total["devices"]:
        total["devices"].append(cost["device"])


def _scoring_seconds(run_dir: Path, name: str) -> float:
    record = read_json(run_dir / name) if (run_dir / name).is_file() else {}
    return float(record.get("predict_seconds") or 0.0) if isinstance(record, dict) else 0.0


def _rounded(total: dict[str, Any]) -> dict[str, Any]:
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in total.items()}


def campaign_cost(results: Path) -> dict[str, Any]:
    """Totals per phase and over the campaign of every run recorded so far (skipped runs did not run), the
    held-out split's scoring, and the agents' self-reported cost."""
    records = Records(Path(results))
    phases: dict[str, dict[str, Any]] = {}
    total = _empty()
    for phase in PHASES:
        for record_path in sorted((records.root / "runs" / phase).glob("*/seed*/run.json")):
            run = read_json(record_path)
            if not isinstance(run, dict) or run.get("state") == State.SKIPPED:
                continue
            cost = run_cost(run)
            phase_total = phases.setdefault(phase, _empty())
            _add(phase_total, cost)
            _add(total, cost)
            scoring = _scoring_seconds(record_path.parent, SCORE_RECORD)
            phase_total["scoring_seconds"] += scoring
            total["scoring_seconds"] += scoring
            heldout = _scoring_seconds(record_path.parent, HELDOUT_RECORD)
            if heldout:
                held = phases.setdefault(HELDOUT_SCORING, _empty())
                held["runs"] += 1
                held["scoring_seconds"] += heldout
                total["scoring_seconds"] += heldout
    total["runs"] = sum(phase["runs"] for name, phase in phases.items() if name != HELDOUT_SCORING)
    return {
        "phases": {name: _rounded(phases[name]) for name in PHASE_NAMES if name in phases},
        "totals": _rounded(total),
        "self_reported": self_reported_cost(records),
    }


def self_reported_cost(records: Records) -> dict[str, Any]:
    """The sum of what candidates' metadata say their agents spent (never checked, never used in a decision)."""
    sums: dict[str, Any] = {key: 0.0 for key in SELF_REPORTED} | {"candidates": 0}
    for path in sorted((records.root / "candidates").glob("*/validation.json")):
        validation = read_json(path)
        reported = ((validation.get("meta") or {}) if isinstance(validation, dict) else {}).get("cost")
        if isinstance(reported, dict):
            sums["candidates"] += 1
            for key in SELF_REPORTED:
                sums[key] += float(reported.get(key) or 0.0)
    return sums
