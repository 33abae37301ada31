"""Drafts: an agent edits a real copy of the parent's source tree; finishing turns it into patches.

``flcampaign new`` writes ``drafts/<id>/tree/`` (the parent's materialised sources) and
``drafts/<id>/candidate.yaml``. ``--finish`` diffs the edited tree against the parent, checks the
result with the same contract as the workflow, and publishes ``candidates/<id>/`` in one rename, so
the workflow never sees half a candidate and no agent writes a diff by hand.
"""

import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from flcampaign.contract import literature, patches
from flcampaign.contract.candidate import (
    BASE_PARENT,
    METADATA,
    PATCH_DIR,
    lineage,
    read_metadata,
    write_metadata,
)
from flcampaign.contract.ids import CANDIDATE_ID
from flcampaign.contract.validation import validate_chain
from flcampaign.errors import ContractViolation
from flcampaign.evidence.ledger import best_row, read_tsv
from flcampaign.files import UnreadableYaml, atomic_write_text
from flcampaign.layout import DRAFTS_DIR
from flcampaign.task import Task

TREE = "tree"
PLACEHOLDER = "TODO"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}$")
NUMBERED = re.compile(r"^(\d{4})-")


def next_id(campaign_dir: Path, slug: str) -> str:
    """``NNNN-slug`` with NNNN one above every numbered candidate and draft."""
    if not SLUG.match(slug):
        raise ValueError(f"slug {slug!r}: use lower-case letters, digits and '-' (at most 61 characters)")
    taken = [
        int(m.group(1))
        for folder in (DRAFTS_DIR, "candidates")
        if (Path(campaign_dir) / folder).is_dir()
        for p in (Path(campaign_dir) / folder).iterdir()
        if (m := NUMBERED.match(p.name))
    ]
    return f"{max(taken, default=-1) + 1:04d}-{slug}"


def current_best(campaign_dir: Path, task: Task) -> str:
    """The incumbent of the ledger (``baseline`` when it is the baseline or nothing is scored yet)."""
    ledger = Path(campaign_dir) / "results" / "results.tsv"
    best = best_row(task, read_tsv(ledger) if ledger.is_file() else [])
    return BASE_PARENT if best is None or best["status"] == "baseline" else best["candidate"]


def parent_tree(campaign_dir: Path, parent: str, task: Task, scratch: Path) -> Path:
    """The parent's materialised sources (the task's own for ``baseline``); refuses an invalid parent."""
    if parent == BASE_PARENT:
        return task.sources
    candidates_dir = Path(campaign_dir) / "candidates"
    if not (candidates_dir / parent / METADATA).is_file():
        raise ContractViolation(parent, METADATA, "parent-missing", f"no candidate folder candidates/{parent}")
    record = validate_chain(candidates_dir, parent, task, scratch)
    if record["state"] != "ok":
        raise ContractViolation(parent, record["file"], "parent-invalid", record["reason"])
    return scratch / "candidates" / parent / "src"


def new(
    campaign_dir: Path,
    slug: str,
    task: Task,
    parent: str | None = None,
    family: str | None = None,
    event_id: str | None = None,
    proposal_id: str | None = None,
) -> Path:
    """Scaffold ``drafts/<id>/`` from ``parent`` (default: the current best) and return its folder."""
    campaign_dir = Path(campaign_dir)
    parent = parent or current_best(campaign_dir, task)
    meta: dict[str, Any] = {
        "title": f"{PLACEHOLDER}: what this candidate changes, one line",
        "hypothesis": f"{PLACEHOLDER}: why it should beat {parent}, one line",
        "parent": parent,
        "family": family or PLACEHOLDER,
        "args": {},
    }
    if event_id:
        meta.update(_literature_link(campaign_dir, event_id, proposal_id))
    draft = campaign_dir / DRAFTS_DIR / next_id(campaign_dir, slug)
    with tempfile.TemporaryDirectory(prefix="flc-new-") as scratch:
        source = parent_tree(campaign_dir, parent, task, Path(scratch))
        if parent != BASE_PARENT:
            parent_meta = read_metadata(campaign_dir / "candidates" / parent / METADATA) or {}
            meta["args"] = dict(parent_meta.get("args") or {})
            meta["family"] = family or parent_meta.get("family", PLACEHOLDER)
        staging = draft.with_name(f".{draft.name}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging / TREE, ignore=shutil.ignore_patterns("__pycache__"))
    atomic_write_text(staging / METADATA, _draft_yaml(meta))
    staging.rename(draft)
    return draft


def _literature_link(campaign_dir: Path, event_id: str, proposal_id: str | None) -> dict[str, Any]:
    """Metadata linking a draft to a literature event (and, given one, pre-filled from its proposal)."""
    event = literature.find(campaign_dir / literature.LITERATURE_DIR, event_id)
    if event is None or "error" in event:
        raise ValueError(f"literature event {event_id}: not recorded (see `flcampaign literature add`)")
    link: dict[str, Any] = {"literature_event": event_id}
    if proposal_id is None:
        return link
    proposal = next((p for p in event["proposals"] if p["id"] == proposal_id), None)
    if proposal is None:
        raise ValueError(f"literature event {event_id}: no proposal {proposal_id}")
    sources = {source["ref"]: source for source in event["sources"]}
    link["title"] = " ".join(proposal["mechanism"].split())[:200]
    link["hypothesis"] = " ".join(proposal["expected_effect"].split())[:1000]
    link["literature"] = [
        {key: sources[ref][key] for key in ("ref", "url") if sources[ref].get(key)}
        | {"note": f"{event_id} {proposal_id}"}
        for ref in proposal["sources"]
    ]
    return link


def _draft_yaml(meta: dict[str, Any]) -> str:
    header = (
        "# Draft candidate: edit the files under tree/ and these fields, then `flcampaign new --finish <id>`.\n"
        "# args override the task's scalar knobs (see program.md); created is stamped when finished.\n"
    )
    return header + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=100)


def build(campaign_dir: Path, draft_id: str, task: Task, out: Path, created: str, scratch: Path) -> None:
    """Write the candidate folder for a draft into ``out``: one patch (if the tree changed) + metadata."""
    draft = Path(campaign_dir) / DRAFTS_DIR / draft_id
    if not (draft / METADATA).is_file():
        raise ValueError(f"draft {draft_id}: no {DRAFTS_DIR}/{draft_id}/{METADATA} (see `flcampaign new`)")
    try:
        meta = read_metadata(draft / METADATA) or {}
    except UnreadableYaml as error:
        raise ContractViolation(draft_id, METADATA, "candidate-yaml", str(error)) from None
    left = [key for key, value in meta.items() if isinstance(value, str) and value.startswith(PLACEHOLDER)]
    if left:
        raise ContractViolation(draft_id, METADATA, "draft-placeholder", f"fill in {', '.join(left)}")
    for path in sorted((draft / TREE).rglob("*")):
        if path.is_symlink():
            rel = path.relative_to(draft).as_posix()
            raise ContractViolation(draft_id, rel, "path-confinement", "symlinks are not allowed in a draft tree")
    base = parent_tree(campaign_dir, str(meta.get("parent", "")), task, scratch)
    try:
        diff = patches.make(base, draft / TREE)
    except patches.PatchError as error:
        raise ContractViolation(draft_id, f"{TREE}/", error.rule, error.detail) from None
    except UnicodeDecodeError:
        raise ContractViolation(draft_id, f"{TREE}/", "no-binary", "the tree holds a non-text file") from None
    if diff:
        atomic_write_text(out / PATCH_DIR / f"001-{draft_id.split('-', 1)[-1]}.patch", diff)
    write_metadata(out, {key: value for key, value in meta.items() if key != "patches"} | {"created": created})


def check(campaign_dir: Path, draft_id: str, task: Task, now: datetime | None = None) -> dict:
    """Build the draft in scratch space with its ancestors and validate it as the workflow would."""
    candidates_dir = Path(campaign_dir) / "candidates"
    with tempfile.TemporaryDirectory(prefix="flc-draft-") as scratch_dir:
        scratch = Path(scratch_dir)
        staged = scratch / "candidates"
        created = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
        build(campaign_dir, draft_id, task, staged / draft_id, created, scratch / "parent")
        for ancestor in lineage(candidates_dir, draft_id, staged / draft_id).ancestors:
            shutil.copytree(candidates_dir / ancestor, staged / ancestor)
        literature_dir = Path(campaign_dir) / literature.LITERATURE_DIR
        return validate_chain(staged, draft_id, task, scratch / "results", literature_dir)


def finish(campaign_dir: Path, draft_id: str, task: Task, now: datetime | None = None) -> Path:
    """Publish a valid draft as ``candidates/<id>/`` in one rename and remove the draft."""
    campaign_dir = Path(campaign_dir)
    if not CANDIDATE_ID.match(draft_id):
        raise ValueError(f"draft {draft_id!r}: not a candidate id")
    target = campaign_dir / "candidates" / draft_id
    if target.exists():
        raise ValueError(f"candidate {draft_id}: candidates/{draft_id} exists; finished candidates are immutable")
    record = check(campaign_dir, draft_id, task, now)
    if record["state"] != "ok":
        raise ContractViolation(draft_id, record["file"], record["rule"], record["detail"])
    created = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    staging = target.with_name(f".{draft_id}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="flc-finish-") as scratch:
        build(campaign_dir, draft_id, task, staging, created, Path(scratch))
    staging.rename(target)
    shutil.rmtree(campaign_dir / DRAFTS_DIR / draft_id)
    return target


def abandon(campaign_dir: Path, draft_id: str) -> None:
    draft = Path(campaign_dir) / DRAFTS_DIR / draft_id
    if not CANDIDATE_ID.match(draft_id) or not draft.is_dir():
        raise ValueError(f"draft {draft_id!r}: no such draft under {DRAFTS_DIR}/")
    shutil.rmtree(draft)
