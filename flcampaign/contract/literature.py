"""Literature events: a review's sources, challenge cards and scored proposals, as ``literature/<id>.yaml``.

An event is not scored. It appears in the ledger as a ``literature`` row in campaign order, the
candidates of its batch link to it through ``literature_event``, and the guard counts that batch.
"""

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from flcampaign.files import UnreadableYaml, read_bounded_yaml, temp_file_in
from flcampaign.schemas import schema_errors

LITERATURE_DIR = "literature"
EVENT_ID = re.compile(r"^lit-(\d{4})$")
SCORE_WEIGHTS = {
    "expected_gain": 2,
    "contract_safety": 2,
    "simplicity": 1,
    "evidence": 1,
    "novelty": 1,
    "runtime_cost": -1,
}
ASSIGNED = ("id", "created")
MAX_EVENT_BYTES = 256 * 1024  # a review's sources, queries and proposal cards


class LiteratureError(ValueError):
    """A literature file broke a rule; the message names the file and the rule."""

    def __init__(self, file: str, rule: str, detail: str):
        self.file, self.rule, self.detail = file, rule, detail
        super().__init__(f"literature {file}: rule {rule}: {detail}")


def proposal_total(scores: dict[str, int]) -> int:
    """total = 2*expected_gain + 2*contract_safety + simplicity + evidence + novelty - runtime_cost."""
    return sum(weight * scores[axis] for axis, weight in SCORE_WEIGHTS.items())


def check(event: Any, name: str) -> None:
    """Schema plus the cross-references a schema cannot express (unique ids, cited sources exist)."""
    problems = schema_errors("literature", event)
    if problems:
        raise LiteratureError(name, "literature-schema", "; ".join(problems))
    refs = [source["ref"] for source in event["sources"]]
    for kind in ("challenges", "proposals", "sources"):
        key = "ref" if kind == "sources" else "id"
        ids = [card[key] for card in event[kind]]
        if len(ids) != len(set(ids)):
            raise LiteratureError(name, "literature-ids", f"{kind} repeat an id: {ids}")
    for proposal in event["proposals"]:
        unknown = sorted(set(proposal["sources"]) - set(refs))
        if unknown:
            raise LiteratureError(name, "literature-sources", f"proposal {proposal['id']} cites unknown refs {unknown}")
    queries = [query["query"].strip().lower() for query in event["queries"]]
    if len(queries) != len(set(queries)):
        raise LiteratureError(name, "literature-queries", "queries must be distinct")


def load_events(source: Path | list[Path]) -> list[dict[str, Any]]:
    """Every recorded event (of a literature folder, or the given files), checked; a broken file becomes
    an event carrying its ``error``."""
    files = sorted(Path(source).glob("lit-*.yaml")) if isinstance(source, Path) else sorted(source)
    events = []
    for path in files:
        event_id = path.stem
        try:
            event = read_bounded_yaml(path, MAX_EVENT_BYTES)
            check(event, path.name)
            if event.get("id") != event_id or "created" not in event:
                raise LiteratureError(path.name, "literature-id", f"id must be {event_id} with a created stamp")
            datetime.fromisoformat(event["created"])
        except (OSError, LiteratureError, ValueError) as error:  # UnreadableYaml is a ValueError
            events.append({"id": event_id, "created": "", "title": "", "error": str(error)})
            continue
        events.append(event)
    return events


def find(literature_dir: Path, event_id: str) -> dict[str, Any] | None:
    return next((event for event in load_events(literature_dir) if event["id"] == event_id), None)


def add(source: Path, literature_dir: Path, now: datetime | None = None) -> tuple[str, Path]:
    """Check a review file, give it the next ``lit-NNNN`` id and a ``created`` stamp, file it atomically."""
    name = Path(source).name
    try:
        event = read_bounded_yaml(source, MAX_EVENT_BYTES)
    except UnreadableYaml as error:
        raise LiteratureError(name, "literature-yaml", str(error)) from None
    if isinstance(event, dict) and set(ASSIGNED) & set(event):
        raise LiteratureError(name, "literature-assigned", f"{'/'.join(ASSIGNED)} are assigned by the tool")
    check(event, name)
    created = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    for proposal in event["proposals"]:
        proposal["total"] = proposal_total(proposal["scores"])
    folder = Path(literature_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_in(folder, prefix=".lit-", suffix=".tmp")
    try:
        while True:
            taken = [int(m.group(1)) for p in folder.glob("lit-*.yaml") if (m := EVENT_ID.match(p.stem))]
            event_id = f"lit-{max(taken, default=0) + 1:04d}"
            record = {"id": event_id, "created": created, **event}
            with open(fd, "w", encoding="utf-8", closefd=False) as handle:
                handle.seek(0)
                handle.truncate()
                yaml.safe_dump(record, handle, sort_keys=False, allow_unicode=True, width=100)
                handle.flush()
                os.fsync(handle.fileno())
            target = folder / f"{event_id}.yaml"
            try:
                os.link(tmp, target)  # fails if another writer took this id first
            except FileExistsError:
                continue
            return event_id, target
    finally:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)


def ranked_proposals(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Proposals best first by their total (ties keep the file's order)."""
    return sorted(event.get("proposals") or [], key=lambda p: -proposal_total(p["scores"]))


TEMPLATE = """\
# A literature review: fill every field, then `flcampaign literature add <this file>`.
# The tool adds id, created and each proposal's total; scores are integers 1-5.
title: one line naming the review
trigger: the results.tsv symptom that calls for it (e.g. 8 scored candidates without a gain since 0004)
queries:  # distinct searches
  - {query: "", rationale: ""}
  - {query: "", rationale: ""}
  - {query: "", rationale: ""}
sources:  # papers triaged; decision keep or reject
  - {ref: author2020, title: "", url: "", year: 2020, decision: keep, note: ""}
  - {ref: author2021, title: "", url: "", year: 2021, decision: keep, note: ""}
challenges:  # exactly three
  - {id: C1, challenge: "", evidence: "", symptom: "", surface: ""}
  - {id: C2, challenge: "", evidence: "", symptom: "", surface: ""}
  - {id: C3, challenge: "", evidence: "", symptom: "", surface: ""}
proposals:  # three to five; total = 2*gain + 2*safety + simplicity + evidence + novelty - runtime_cost
  - id: P1
    mechanism: ""
    sources: [author2020]
    change: exact files and knob values to change
    expected_effect: ""
    falsifier: the result that would show it does not help
    contract_risk: ""
    scores: {expected_gain: 3, contract_safety: 5, simplicity: 3, evidence: 3, novelty: 2, runtime_cost: 1}
"""
