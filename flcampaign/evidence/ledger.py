"""The ledger: ``results/results.tsv`` and ``results/campaign_state.json``, rebuilt from artifacts.

No agent writes the ledger. It is recomputed from the per-candidate validation, run and score
records each time, in campaign order (``order``: created stamps, placed once and never moved), and
replaced atomically.
"""

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flcampaign.contract.candidate import METADATA
from flcampaign.evidence.cost import run_cost
from flcampaign.evidence.order import campaign_order
from flcampaign.files import atomic_write_text, read_json, sha256_bytes
from flcampaign.layout import Records
from flcampaign.records import EMPTY_ROW, LEDGER_COLUMNS, State, Status, format_row, parse_row, rounded
from flcampaign.task import Task

COLUMNS = LEDGER_COLUMNS
REFUSED = "refused"  # an entry for a folder refused by its name, with the reason


def fixed_digest(fixed: dict[str, str] | None) -> str:
    """One sha256 over a validation record's ``fixed_sha256`` map (canonical JSON); '' when there is none."""
    if not fixed:
        return ""
    return sha256_bytes(json.dumps(fixed, sort_keys=True, separators=(",", ":")).encode())


def _sandbox(run: dict | None) -> str:
    """The sandbox kind the candidate's code ran in; '' when it did not run (skipped) or none was recorded."""
    if not run or run.get("state") == "skipped" or not isinstance(run.get("sandbox"), dict):
        return ""
    return str(run["sandbox"].get("kind", ""))


def _compute_columns(run: dict | None, score: dict | None) -> dict[str, Any]:
    """What the run used as the runner measured it (``cost.run_cost``: wall, CPU and GPU seconds, peak memory,
    device and slot) and its share of the compute budget's reference (the score's check, where it ran)."""
    measured = run_cost(run)
    used = (score or {}).get("compute") or (run or {}).get("compute") or {}
    return {
        "runtime_seconds": rounded(measured["wall_seconds"], "runtime_seconds"),
        "cpu_seconds": rounded(used.get("cpu_seconds"), "cpu_seconds"),
        "gpu_seconds": rounded(used.get("gpu_seconds"), "gpu_seconds"),
        "peak_memory_mb": rounded(measured["peak_memory_mb"], "peak_memory_mb"),
        "device": measured["device"],
        "slot": measured["slot"],
        "compute_ratio": rounded(used.get("ratio"), "compute_ratio"),
    }


def _kind(validation: dict) -> str:
    if validation.get("is_baseline"):
        return "baseline"
    edits = validation.get("changed_files") or validation.get("patch_files")
    return "source_edit" if edits else "argument_only"


def _outcome(validation: dict, run: dict | None, score: dict | None) -> tuple[Status | None, str, float | None]:
    """(failure status or None when scored, failure reason, score) of one candidate."""
    for record in (validation, run, score):
        if record is None:
            return Status.CRASH, "stage did not produce its record", None
        state = record.get("state")
        if state in (State.INVALID, State.CRASH, State.TIMEOUT):
            return Status(state), record.get("reason", ""), None
    assert score is not None
    return None, "", float(score["score"])


def _literature_row(event: dict, incumbent: float | None) -> dict:
    """A literature event: not scored; a file that breaks the literature schema is recorded as invalid."""
    kept = [source["ref"] for source in event.get("sources") or [] if source.get("decision") == "keep"]
    return {
        "candidate": event["id"],
        "status": Status.INVALID if "error" in event else Status.LITERATURE,
        "kind": "literature",
        "description": event.get("title", ""),
        "literature_event": event["id"],
        "sources": " ".join(kept),
        "failure_reason": event.get("error", ""),
        "best_so_far": rounded(incumbent, "best_so_far"),
        "artifacts": f"literature/{event['id']}.yaml",
    }


def _refused_row(entry: dict, incumbent: float | None) -> dict:
    """A candidate folder whose name breaks the id rule: invalid, never validated or run."""
    return {
        "candidate": entry["id"],
        "status": Status.INVALID,
        "kind": "candidate",
        "failure_reason": entry[REFUSED],
        "best_so_far": rounded(incumbent, "best_so_far"),
        "artifacts": entry["id"],
    }


def build_rows(
    task: Task,
    results: Path,
    candidate_ids: list[str],
    seed: int,
    keep_margin: float,
    events: Sequence[dict] = (),
    place_newcomers: bool = False,
    refused: Mapping[str, str] | None = None,
) -> list[dict]:
    """One row per candidate and literature event, in campaign order, with keep/discard against the incumbent.

    The order is ``results/order.json``'s (``order.campaign_order``); ``place_newcomers`` records the
    places of entries it does not hold yet (the ledger stage), else they are placed by their stamps."""
    entries: list[tuple[str, str, dict, dict | None, dict | None, Path | None]] = [
        (str(event.get("created", "")), event["id"], event, None, None, None) for event in events
    ]
    # a folder whose name cannot be an id is one invalid row (``candidate.refused_folders``: row name -> reason)
    for row_id, reason in (refused or {}).items():
        entries.append(("", row_id, {"id": row_id, REFUSED: reason}, None, None, None))
    records = Records(Path(results))
    for cid in candidate_ids:
        validation = read_json(records.validation(cid))
        run_path, score_path = records.run_record("search", cid, seed), records.score_record("search", cid, seed)
        run = read_json(run_path) if run_path.is_file() else None
        score = read_json(score_path) if score_path.is_file() else None
        created = str((validation.get("meta") or {}).get("created", ""))
        entries.append((created, cid, validation, run, score, records.run_dir("search", cid, seed)))
    # Campaign order; at the same instant a literature event precedes the candidates it may have prompted.
    keys = campaign_order(results, {entry[1]: entry[0] for entry in entries}, record=place_newcomers)
    entries.sort(key=lambda entry: (*keys[entry[1]], entry[5] is not None, entry[1]))
    rows, incumbent, baseline = [], None, None
    seen_effects: dict[tuple[str | None, str], str] = {}
    for order, (_, cid, validation, run, score, run_dir) in enumerate(entries, start=1):
        if run_dir is None:
            unscored = _refused_row if REFUSED in validation else _literature_row
            rows.append(EMPTY_ROW | {"order": order} | unscored(validation, incumbent))
            continue
        status, reason, value = _outcome(validation, run, score)
        second_baseline = validation.get("is_baseline") and baseline is not None
        if validation.get("is_baseline") and baseline is None:
            baseline = cid  # the first candidate without changes in campaign order; there is one
        if second_baseline:
            status, value = Status.INVALID, None
            reason = (
                f"candidate {cid}: {METADATA}: rule one-baseline: the campaign's baseline is {baseline}; "
                "a second candidate without changes is not another baseline"
            )
        elif status is None:
            assert value is not None
            if validation.get("is_baseline"):
                status = Status.BASELINE
                if incumbent is None or task.better(value, incumbent):
                    incumbent = value
            elif incumbent is None or task.better(value, incumbent, keep_margin):
                status, incumbent = Status.KEEP, value
            else:
                status = Status.DISCARD
        meta = validation.get("meta") or {}
        effect = (validation.get("tree_sha256"), repr(sorted((validation.get("effective_args") or {}).items())))
        duplicate_of = seen_effects.get(effect, "") if validation.get("state") == "ok" else ""
        if validation.get("state") == "ok":
            seen_effects.setdefault(effect, cid)
        rows.append(
            {
                "order": order,
                "candidate": cid,
                "parent": validation.get("parent", ""),
                "status": status,
                "score": rounded(value, "score"),
                "metric": task.metric["name"],
                "split": "search_val",
                **_compute_columns(run, score),
                "kind": _kind(validation),
                "family": meta.get("family", ""),
                "changed_files": ",".join(validation.get("changed_files") or []),
                "patch_sha256": validation.get("patch_sha256", ""),
                "tree_sha256": validation.get("tree_sha256", ""),
                "budget_sha256": validation.get("budget_sha256", ""),
                "fixed_sha256": fixed_digest(validation.get("fixed_sha256")),
                "model_sha256": (run or {}).get("model_sha256", ""),
                "sandbox": _sandbox(run),
                "seed": seed,
                "description": meta.get("title", ""),
                "literature_event": meta.get("literature_event", ""),
                "sources": " ".join(item.get("ref", "") for item in meta.get("literature") or []),
                "failure_reason": " ".join(reason.split()),
                "best_so_far": rounded(incumbent, "best_so_far"),
                "duplicate_of": duplicate_of,
                "artifacts": records.artifact(run_dir),
            }
        )
    return rows


def to_tsv(rows: list[dict]) -> str:
    """Typed ledger rows as the ledger's TSV text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writeheader()
    writer.writerows(format_row(row) for row in rows)
    return buffer.getvalue()


def read_tsv(path: Path) -> list[dict]:
    """The ledger's rows, typed once (``records.parse_row``): no reader converts a cell again."""
    return [parse_row(cells) for cells in read_cells(path)]


def read_cells(path: Path) -> list[dict[str, str]]:
    """The ledger's rows exactly as written (for comparing a ledger with its rebuild cell by cell)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def best_row(task: Task, rows: list[dict]) -> dict | None:
    """The incumbent: the best baseline or kept row (the first of equals)."""
    best = None
    for row in rows:
        if row["status"].incumbent and (best is None or task.better(row["score"], best["score"])):
            best = row
    return best


def write_ledger(
    task: Task,
    results: Path,
    candidate_ids: list[str],
    seed: int,
    keep_margin: float,
    events: list[dict],
    tsv: Path,
    refused: Mapping[str, str] | None = None,
) -> list[dict]:
    """Rewrite the ledger from the records (placing newcomers in the campaign order); its rows."""
    rows = build_rows(task, results, candidate_ids, seed, keep_margin, events, place_newcomers=True, refused=refused)
    for row in rows:
        if row["score"] is not None and not math.isfinite(row["score"]):
            raise ValueError(f"non-finite score for {row['candidate']}")
    atomic_write_text(tsv, to_tsv(rows))
    return rows
