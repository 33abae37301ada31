"""Candidate folders: metadata, parent chain and the order of the campaign."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from flcampaign.contract.ids import CANDIDATE_ID, RULE, id_problem, refused_ids, refused_row_id
from flcampaign.errors import ContractViolation
from flcampaign.files import UnreadableYaml, atomic_write_text, read_bounded_yaml, sha256_file
from flcampaign.schemas import schema_errors

BASE_PARENT = "baseline"
METADATA = "candidate.yaml"
PATCH_DIR = "patches"
MAX_METADATA_BYTES = 64 * 1024


@dataclass(frozen=True)
class Candidate:
    id: str
    folder: Path
    meta: dict[str, Any]

    @property
    def parent(self) -> str:
        return self.meta["parent"]

    @property
    def args(self) -> dict[str, Any]:
        return self.meta.get("args") or {}

    @property
    def patch_files(self) -> list[Path]:
        return sorted((self.folder / PATCH_DIR).glob("*.patch"))

    @property
    def is_baseline(self) -> bool:
        return self.parent == BASE_PARENT and not self.args and not self.patch_files


def load(folder: Path) -> Candidate:
    """Read and check ``folder/candidate.yaml``; errors name the candidate, file and rule."""
    folder = Path(folder)
    cid = folder.name
    problem = id_problem(cid)
    if problem:
        raise ContractViolation(cid, str(folder), RULE, problem)
    path = folder / METADATA
    if not path.is_file() or path.is_symlink():
        raise ContractViolation(cid, METADATA, "candidate-yaml", "missing (or not a regular file)")
    try:
        meta = read_metadata(path)
    except UnreadableYaml as error:
        raise ContractViolation(cid, METADATA, "candidate-yaml", str(error)) from None
    problems = schema_errors("candidate", meta)
    if problems:
        raise ContractViolation(cid, METADATA, "candidate-schema", "; ".join(problems))
    try:
        datetime.fromisoformat(meta["created"])
    except ValueError:
        raise ContractViolation(
            cid, METADATA, "candidate-schema", f"created: {meta['created']!r} is not ISO 8601"
        ) from None
    return Candidate(cid, folder, meta)


def patch_manifest(folder: Path) -> dict[str, str]:
    """Every patch file of a candidate folder with its sha256, as ``candidate.yaml`` lists them."""
    patch_dir = Path(folder) / PATCH_DIR
    return {p.name: sha256_file(p) for p in sorted(patch_dir.glob("*.patch")) if p.is_file() and not p.is_symlink()}


def write_metadata(folder: Path, meta: dict[str, Any]) -> None:
    """Write ``candidate.yaml`` last, listing the patches already in place (the folder is then complete)."""
    text = yaml.safe_dump({**meta, "patches": patch_manifest(folder)}, sort_keys=False, allow_unicode=True, width=100)
    atomic_write_text(Path(folder) / METADATA, text)


def read_metadata(path: Path) -> Any:
    """A candidate's metadata as written, read within bounds (``files.read_bounded_yaml``): a folder an agent wrote
    must not crash or exhaust whoever reads it (the workflow reads every one while it builds its DAG)."""
    return read_bounded_yaml(path, MAX_METADATA_BYTES)


def _declared(folder: Path, key: str) -> str | None:
    """A string field of the metadata, or None when it cannot be read (validation reports why)."""
    try:
        meta = read_metadata(Path(folder) / METADATA)
    except (OSError, UnreadableYaml):
        return None
    value = meta.get(key) if isinstance(meta, dict) else None
    return value if isinstance(value, str) and CANDIDATE_ID.match(value) else None


def parent_of(folder: Path) -> str | None:
    """The declared parent id."""
    return _declared(folder, "parent")


def literature_event_of(folder: Path) -> str | None:
    """The literature event the candidate names."""
    return _declared(folder, "literature_event")


@dataclass(frozen=True)
class Lineage:
    """A candidate's parents up to the task baseline, nearest first, and where the chain breaks, if it does."""

    ancestors: tuple[str, ...]
    rule: str = ""  # parent-missing or parent-cycle, when the chain breaks
    detail: str = ""

    @property
    def complete(self) -> bool:
        return not self.rule


def lineage(candidates_dir: Path, cid: str, folder: Path | None = None) -> Lineage:
    """Walk ``cid``'s parents (read from ``folder``, by default its folder in ``candidates_dir``) up to the
    baseline: the one walker of a parent chain, used by validation, the workflow's DAG and drafts."""
    chain: list[str] = []
    current = Path(folder) if folder is not None else Path(candidates_dir) / cid
    while True:
        parent = parent_of(current)
        if parent is None:
            return Lineage(tuple(chain), "parent-missing", f"cannot read the parent of {current.name}")
        if parent == BASE_PARENT:
            return Lineage(tuple(chain))
        if parent == cid or parent in chain:
            return Lineage(tuple(chain), "parent-cycle", " -> ".join([cid, *chain, parent]))
        if not (Path(candidates_dir) / parent / METADATA).is_file():
            return Lineage(tuple(chain), "parent-missing", f"parent {parent!r} is not a candidate folder")
        chain.append(parent)
        current = Path(candidates_dir) / parent


def ancestry(candidates_dir: Path, cid: str) -> list[str]:
    """Parent chain of ``cid`` up to the task baseline, nearest first; raises where the chain breaks."""
    found = lineage(candidates_dir, cid)
    if not found.complete:
        raise ContractViolation(cid, METADATA, found.rule, found.detail)
    return list(found.ancestors)


def _complete_folders(candidates_dir: Path) -> list[str]:
    """Names of the folders with a visible name and their metadata present (a folder being written has none)."""
    root = Path(candidates_dir)
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob(f"*/{METADATA}") if not p.parent.name.startswith("."))


def discover(candidates_dir: Path) -> list[str]:
    """Complete candidate folders whose names are valid ids (``refused_folders`` holds the others), sorted."""
    names = _complete_folders(candidates_dir)
    refused = refused_ids(names)
    return [name for name in names if name not in refused]


def folder_refusal(candidates_dir: Path, cid: str) -> str | None:
    """Why the folder ``cid`` cannot be a candidate among its neighbours (its name, or a twin but for case)."""
    return refused_ids(_complete_folders(candidates_dir)).get(cid)


def refused_folders(candidates_dir: Path) -> dict[str, str]:
    """Complete folders whose names cannot be candidate ids: ledger row name (``refused_row_id``) -> reason."""
    return {
        refused_row_id(name): f"candidate folder {refused_row_id(name)}: rule {RULE}: {problem}"
        for name, problem in refused_ids(_complete_folders(candidates_dir)).items()
    }
