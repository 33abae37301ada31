"""The records that pass between stages, defined once: statuses, record states, the ledger row.

Validation, run and score records are JSON files (schemas beside the others in the workflow's ``rules/schemas``:
``validation``, ``run``, ``score``); every stage ends its record with ``finish``. The ledger is a
TSV whose rows are parsed once (``parse_row``) into typed values, so no reader converts cells again.
"""

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from flcampaign.files import read_json
from flcampaign.layout import Records


class Status(StrEnum):
    """A candidate's (or literature event's) status in the ledger."""

    BASELINE = "baseline"
    KEEP = "keep"
    DISCARD = "discard"
    CRASH = "crash"
    TIMEOUT = "timeout"
    INVALID = "invalid"
    LITERATURE = "literature"

    @property
    def scored(self) -> bool:
        """Has a score: the baseline, kept and discarded candidates."""
        return self in (Status.BASELINE, Status.KEEP, Status.DISCARD)

    @property
    def incumbent(self) -> bool:
        """May be the campaign's best: the baseline or a kept candidate."""
        return self in (Status.BASELINE, Status.KEEP)

    @property
    def compared(self) -> bool:
        """Scored and compared with the incumbent: a kept or discarded candidate (the baseline is not)."""
        return self in (Status.KEEP, Status.DISCARD)

    @property
    def failed(self) -> bool:
        return self in (Status.CRASH, Status.TIMEOUT, Status.INVALID)

    @property
    def hard_failure(self) -> bool:
        """Failed while running (the guard's run of crashes), not refused by a check."""
        return self in (Status.CRASH, Status.TIMEOUT)

    @property
    def attempt(self) -> bool:
        """A candidate the agent proposed that went through the workflow (baseline and literature aside)."""
        return self in (Status.KEEP, Status.DISCARD, Status.CRASH, Status.TIMEOUT, Status.INVALID)


STATUSES = tuple(Status)


class State(StrEnum):
    """The state of a validation, run or score record."""

    OK = "ok"
    INVALID = "invalid"
    CRASH = "crash"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"  # an earlier stage failed: nothing to do


RECORD_KINDS = ("validation", "run", "score")  # each with its schema, rules/schemas/<kind>.schema.yaml


def validation_record(candidate: str, task: str, budget_sha256: str, fixed_sha256: dict[str, str]) -> dict[str, Any]:
    """A validation record as the validate stage opens it: the candidate and the task's hashes it checks against."""
    return {
        "record": "validation",
        "candidate": candidate,
        "task": task,
        "budget_sha256": budget_sha256,
        "fixed_sha256": fixed_sha256,
    }


def run_record(
    candidate: str, phase: str, seed: int, budget: dict, host: str, scheduler: dict, sandbox: dict
) -> dict[str, Any]:
    """A run record as the simulate stage opens it: which run, where, under which sandbox."""
    return {
        "record": "run",
        "candidate": candidate,
        "phase": phase,
        "seed": seed,
        "budget": budget,
        "host": host,
        "scheduler": scheduler,
        "sandbox": sandbox,
    }


def score_record(
    candidate: str, phase: str, seed: int, split: str, sandbox: dict, metric: dict, evaluator_sha256: str
) -> dict[str, Any]:
    """A score record as the evaluator opens it: which run, which split, which metric and evaluator."""
    return {
        "record": "score",
        "candidate": candidate,
        "phase": phase,
        "seed": seed,
        "split": split,
        "sandbox": sandbox,
        "metric": metric["name"],
        "direction": metric["direction"],
        "evaluator_sha256": evaluator_sha256,
    }


def finish(record: dict[str, Any], state: str, reason: str = "", rule: str = "", file: str = "") -> dict[str, Any]:
    """End a record with its state and, for a failure, the reason, rule and file (every stage's one way)."""
    record.update(state=State(state).value, reason=reason, rule=rule, file=file)
    return record


LEDGER_COLUMNS = (
    "order", "candidate", "parent", "status", "score", "metric", "split", "runtime_seconds", "cpu_seconds",
    "gpu_seconds", "peak_memory_mb", "device", "slot", "compute_ratio", "kind",
    "family", "changed_files", "patch_sha256", "tree_sha256", "budget_sha256", "fixed_sha256", "model_sha256",
    "sandbox", "seed", "description", "literature_event", "sources", "failure_reason", "best_so_far", "duplicate_of",
    "artifacts",
)  # fmt: skip
# typed ledger cells: how each is written (digits) and read back; every other cell is text
INTEGER_CELLS = ("order", "seed")
NUMBER_CELLS = {
    "score": 6,
    "best_so_far": 6,
    "runtime_seconds": 3,
    "cpu_seconds": 3,
    "gpu_seconds": 3,
    "peak_memory_mb": 1,
    "compute_ratio": 4,
}


EMPTY_ROW: dict[str, Any] = {name: None if name in (*INTEGER_CELLS, *NUMBER_CELLS) else "" for name in LEDGER_COLUMNS}


def ledger_row(**values: Any) -> dict[str, Any]:
    """A typed ledger row from some of its values (the rest empty): how tests and benchmarks script a ledger."""
    return EMPTY_ROW | values | {"status": Status(values["status"])}


def parse_row(cells: dict[str, str]) -> dict[str, Any]:
    """A ledger row as read from the TSV, typed: numbers as int or float (None when empty), the status as
    a ``Status``."""
    row: dict[str, Any] = dict(cells)
    for name in INTEGER_CELLS:
        row[name] = int(cells[name]) if cells.get(name) not in (None, "") else None
    for name in NUMBER_CELLS:
        row[name] = float(cells[name]) if cells.get(name) not in (None, "") else None
    row["status"] = Status(cells["status"])
    return row


MAX_LEDGER_CELL = 8192  # characters: far below what any reader's CSV field limit (131,072) refuses


def bounded_cell(text: str) -> str:
    """A text cell the ledger's readers can always read: what passes ``MAX_LEDGER_CELL`` is cut, and the cut says
    how much (the records keep the whole text)."""
    if len(text) <= MAX_LEDGER_CELL:
        return text
    note = f" … [{len(text) - MAX_LEDGER_CELL} more characters in the records]"
    return text[: MAX_LEDGER_CELL - len(note)] + note


def format_row(row: dict[str, Any]) -> dict[str, str]:
    """A typed ledger row as TSV cells (the inverse of ``parse_row`` at the ledger's precision, for cells within
    ``MAX_LEDGER_CELL``)."""
    cells = {}
    for name in LEDGER_COLUMNS:
        value = row.get(name)
        if value is None:
            cells[name] = ""
        elif name in NUMBER_CELLS:
            cells[name] = f"{float(value):.{NUMBER_CELLS[name]}f}"
        else:
            cells[name] = bounded_cell(str(value))
    return cells


def rounded(value: float | None, name: str) -> float | None:
    """A number at the precision the ledger keeps it, so rows built and rows read back are equal."""
    return None if value is None else round(float(value), NUMBER_CELLS[name])


def scored_records(
    records: Records,
    phase: str,
    cid: str,
    seeds: list[int],
    name: str,
    read: Callable[[Path], dict | None] = read_json,
) -> dict[int, tuple[float, Path]]:
    """Seed -> (score, path) of each score record (``score.json`` or ``heldout.json``) of ``cid`` that holds a
    score, each read once: how the evidence and ``verify`` find the scores they use (crashed seeds are left
    out). ``read`` may return None for a record it cannot read (``verify`` reports those itself)."""
    out = {}
    for seed in seeds:
        path = records.run_dir(phase, cid, seed) / name
        record = read(path) if path.is_file() else None
        if isinstance(record, dict) and record.get("state") == "ok":
            out[seed] = (float(record["score"]), path)
    return out
