"""Static contract checks of a candidate: surface, knobs, budget, client protocol, compilation.

Nothing here imports or runs candidate code: sources are read as text and parsed with ``ast``.
"""

import ast
import fnmatch
import math
import shutil
from pathlib import Path, PurePosixPath

from flcampaign.contract import allowlist, patches
from flcampaign.contract import candidate as candidates
from flcampaign.contract.candidate import BASE_PARENT, METADATA, PATCH_DIR, Candidate
from flcampaign.contract.client_protocol import (
    CLIENT_FILE,
    call_name,
    check_client,
    parse_source,
)
from flcampaign.contract.ids import RULE as ID_RULE
from flcampaign.contract.literature import LITERATURE_DIR
from flcampaign.errors import ContractViolation
from flcampaign.files import (
    atomic_write_text,
    read_json,
    sha256_bytes,
    sha256_file,
    sha256_tree,
    tree_files,
    write_json,
)
from flcampaign.layout import Records
from flcampaign.records import finish, validation_record
from flcampaign.task import BUDGET_ARGS, Task, check_knob

JOB_FILE = "job.py"
BUDGET_NAMES = {*BUDGET_ARGS, "min_clients", "num_clients"}
RULE_HINTS = {
    allowlist.IMPORT_RULE: " (candidate code may import only what the task allows: docs/security.md says which "
    "modules and how a task widens the list with surface.imports)",
    allowlist.API_RULE: " (candidate code gets data only through the data bridge and may not use files, processes, "
    "the network, native code, the environment or dynamic code)",
}


MAX_LITERAL_NUMBERS, MAX_LITERAL_CHARACTERS = 128, 8192  # the profile schema's defaults
SHORT_INTEGER_DIGITS = 8  # digits beyond these count as characters: a long integer literal is a string of data


def literal_load(tree: ast.Module) -> tuple[int, int]:
    """(numeric literals, characters of string and bytes literals) in a parsed source."""
    numbers = characters = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or isinstance(node.value, bool) or node.value is None:
            continue
        if isinstance(node.value, int | float | complex):
            numbers += 1
            if isinstance(node.value, int):  # decimal digits from the bit length: str() refuses huge integers
                digits = math.ceil(abs(node.value).bit_length() * math.log10(2))
                characters += max(0, digits - SHORT_INTEGER_DIGITS)
        elif isinstance(node.value, str | bytes):
            characters += len(node.value)
    return numbers, characters


def check_literals(cid: str, rel: str, tree: ast.Module, task: Task) -> None:
    """Candidate code may not carry data: a table of evaluation rows or labels is refused by its size."""
    numbers, characters = literal_load(tree)
    max_numbers = task.surface.get("max_literal_numbers", MAX_LITERAL_NUMBERS)
    max_characters = task.surface.get("max_literal_bytes", MAX_LITERAL_CHARACTERS)
    if numbers > max_numbers:
        raise ContractViolation(
            cid, rel, "literal-limit", f"{numbers} numeric literals (at most {max_numbers}): code may not carry data"
        )
    if characters > max_characters:
        raise ContractViolation(
            cid,
            rel,
            "literal-limit",
            f"{characters} characters of string and bytes literals (at most {max_characters}): code may not carry data",
        )


def check_job_budget(cid: str, tree: ast.Module) -> None:
    """The runner passes the fixed budget; job.py may not pin it with literals or reassign it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in BUDGET_NAMES and isinstance(keyword.value, ast.Constant):
                    raise ContractViolation(
                        cid,
                        JOB_FILE,
                        "fixed-budget",
                        f"{keyword.arg}={keyword.value.value!r} is hard-coded in {call_name(node)}()",
                    )
        if not isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = (
                target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else ""
            )
            if name in BUDGET_NAMES:
                raise ContractViolation(
                    cid, JOB_FILE, "fixed-budget", f"line {node.lineno} assigns the budget field {name}"
                )


def check_args(candidate: Candidate, task: Task) -> None:
    for name, value in candidate.args.items():
        if name not in task.knobs:
            raise ContractViolation(
                candidate.id,
                "candidate.yaml",
                "declared-knobs",
                f"args.{name} is not a knob of task {task.name} (knobs: {', '.join(task.knobs)})",
            )
        problem = check_knob(name, value, task.knobs[name])
        if problem:
            raise ContractViolation(candidate.id, "candidate.yaml", "knob-bounds", problem)


def check_folder(candidate: Candidate) -> None:
    """Only candidate.yaml and patches/*.patch, all regular files (no symlinks, no extras, no folders
    where a file is expected)."""
    for path in sorted(candidate.folder.rglob("*")):
        rel = path.relative_to(candidate.folder).as_posix()
        if path.is_symlink():
            raise ContractViolation(candidate.id, rel, "no-symlink", "symlinks are not accepted in a candidate folder")
        if path.is_dir():
            if rel != PATCH_DIR:
                raise ContractViolation(
                    candidate.id,
                    rel,
                    "candidate-layout",
                    "a folder where only candidate.yaml and patches/*.patch are read",
                )
        elif not path.is_file():
            raise ContractViolation(
                candidate.id, rel, "candidate-layout", "not a regular file (a pipe, socket or device)"
            )
        elif rel != "candidate.yaml" and not glob_matches(rel, f"{PATCH_DIR}/*.patch"):
            raise ContractViolation(
                candidate.id, rel, "candidate-layout", "only candidate.yaml and patches/*.patch are read"
            )
        elif not patches.PORTABLE_NAME.fullmatch(path.name):
            raise ContractViolation(
                candidate.id, rel, "file-name", "not a portable file name (ASCII letters, digits, '.', '_', '-')"
            )


def check_manifest(candidate: Candidate) -> None:
    """The patches in the folder are exactly those ``candidate.yaml`` lists, byte for byte: a folder whose
    patches are still being written (or were changed since) is not a candidate with fewer changes."""
    listed, found = candidate.meta.get("patches") or {}, candidates.patch_manifest(candidate.folder)
    for name in sorted(set(listed) | set(found)):
        rel = f"{PATCH_DIR}/{name}"
        if name not in found:
            raise ContractViolation(
                candidate.id, rel, "patch-manifest", "listed in candidate.yaml but not in the folder"
            )
        if name not in listed:
            raise ContractViolation(
                candidate.id, rel, "patch-manifest", "in the folder but not listed in candidate.yaml"
            )
        if listed[name] != found[name]:
            raise ContractViolation(
                candidate.id, rel, "patch-manifest", "sha256 differs from candidate.yaml (still being written?)"
            )


def glob_matches(rel: str, glob: str) -> bool:
    """Shell-style match where ``*`` stays inside one path component (``fl_extra_*.py`` is top-level only)."""
    rel_parts, glob_parts = PurePosixPath(rel).parts, PurePosixPath(glob).parts
    return len(rel_parts) == len(glob_parts) and all(map(fnmatch.fnmatchcase, rel_parts, glob_parts))


def check_surface(cid: str, patch_name: str, file_patch: patches.FilePatch, task: Task) -> None:
    surface = task.surface
    rel = file_patch.path
    if rel in surface["fixed"]:
        raise ContractViolation(cid, patch_name, "fixed-file", f"{rel} is fixed by the task profile")
    creatable = any(glob_matches(rel, glob) for glob in surface["creatable"])
    if file_patch.creates:
        if not creatable:
            raise ContractViolation(
                cid, patch_name, "mutation-surface", f"creating {rel} is not allowed (allowed: {surface['creatable']})"
            )
    elif rel not in surface["editable"] and not creatable:
        raise ContractViolation(
            cid, patch_name, "mutation-surface", f"{rel} is not editable (editable: {surface['editable']})"
        )


def materialize(candidate: Candidate, task: Task, parent_tree: Path, out_tree: Path) -> list[str]:
    """Copy the parent's tree to ``out_tree`` and apply the candidate's patches in order."""
    if out_tree.exists():
        shutil.rmtree(out_tree)
    shutil.copytree(parent_tree, out_tree, ignore=shutil.ignore_patterns("__pycache__"))
    changed: list[str] = []
    for patch_file in candidate.patch_files:
        name = f"{PATCH_DIR}/{patch_file.name}"
        try:
            parsed = patches.parse(patch_file.read_text(encoding="utf-8"))
            for file_patch in parsed:
                check_surface(candidate.id, name, file_patch, task)
            changed.extend(patches.apply(parsed, out_tree))
        except UnicodeDecodeError:
            raise ContractViolation(candidate.id, name, "no-binary", "patch is not UTF-8 text") from None
        except patches.PatchError as error:
            raise ContractViolation(candidate.id, name, error.rule, error.detail) from None
    return changed


def check_tree(cid: str, tree_root: Path, task: Task) -> None:
    """Compile every source, check the fixed files, the client protocol and job.py's budget."""
    for rel, digest in task.fixed_source_hashes.items():
        if sha256_file(tree_root / rel) != digest:
            raise ContractViolation(cid, rel, "fixed-file", "differs from the task's fixed copy")
    parsed = {
        path.relative_to(tree_root).as_posix(): parse_source(
            cid, path.relative_to(tree_root).as_posix(), path.read_text(encoding="utf-8")
        )
        for path in sorted(tree_root.rglob("*.py"))
    }
    own = {Path(rel).stem: allowlist.module_exports(tree) for rel, tree in parsed.items() if "/" not in rel}
    for rel, source_tree in parsed.items():
        if rel in task.surface["fixed"]:
            continue
        check_literals(cid, rel, source_tree, task)
        found = allowlist.violations(source_tree, allowlist.allowed_imports(rel, task.surface), own)
        if found:
            rule = found[0][1]
            what = "; ".join(f"line {line}: {text}" for line, found_rule, text in found if found_rule == rule)
            raise ContractViolation(cid, rel, rule, what + RULE_HINTS[rule])
    if CLIENT_FILE not in parsed or JOB_FILE not in parsed:
        raise ContractViolation(cid, CLIENT_FILE, "client-contract", "client.py and job.py must exist")
    check_client(cid, parsed[CLIENT_FILE])
    check_job_budget(cid, parsed[JOB_FILE])


def validate(candidate: Candidate, task: Task, parent_tree: Path, out_tree: Path) -> dict:
    """Run every static check; returns the validation record (raises ContractViolation on the first break)."""
    check_folder(candidate)
    check_manifest(candidate)
    check_args(candidate, task)
    changed = materialize(candidate, task, parent_tree, out_tree)
    check_tree(candidate.id, out_tree, task)
    patch_bytes = b"".join(p.read_bytes() for p in candidate.patch_files)
    return {
        "changed_in_patches": sorted(set(changed)),
        "changed_files": changed_files(task.sources, out_tree),
        "patch_sha256": sha256_bytes(patch_bytes),
        "tree_sha256": sha256_tree(out_tree),
        "effective_args": task.knob_values(candidate.args),
    }


def changed_files(base: Path, tree: Path) -> list[str]:
    """Files whose content differs from the task's base sources (the effective change)."""
    rels = {p.relative_to(tree).as_posix() for p in tree_files(tree)}
    return sorted(
        rel for rel in rels if not (base / rel).is_file() or sha256_file(base / rel) != sha256_file(tree / rel)
    )


def check_literature_link(candidate: Candidate, literature_dir: Path) -> None:
    """A candidate that says it comes from a literature event must name one that was recorded (the guard
    counts the candidates of each event's batch)."""
    event = candidate.meta.get("literature_event")
    if event is not None and not (literature_dir / f"{event}.yaml").is_file():
        raise ContractViolation(
            candidate.id, METADATA, "literature-link", f"literature event {event!r} is not in {LITERATURE_DIR}/"
        )


def validate_candidate(
    candidates_dir: Path,
    cid: str,
    task: Task,
    results_dir: Path,
    record_id: str | None = None,
    literature_dir: Path | None = None,
) -> dict:
    """Validate ``candidates/<cid>`` and write ``<results>/candidates/<cid>/validation.json`` and ``src/``.

    A contract violation is a result, not an error: it is recorded with its rule and the
    materialised tree is left empty, so downstream stages skip the candidate. ``record_id`` files
    the record under another name (scalar controls use ids no candidate folder can have);
    ``literature_dir`` is the campaign's literature folder (by default beside ``candidates_dir``).
    """
    records = Records(Path(results_dir))
    out_tree = records.tree(record_id or cid)
    record = validation_record(record_id or cid, task.name, task.budget_sha256, task.fixed_hashes)
    try:
        cand = candidates.load(Path(candidates_dir) / cid)
        check_literature_link(cand, literature_dir or Path(candidates_dir).parent / LITERATURE_DIR)
        refusal = candidates.folder_refusal(candidates_dir, cid)
        if refusal:
            raise ContractViolation(cid, str(cand.folder), ID_RULE, refusal)
        record.update(meta=cand.meta, parent=cand.parent, args=cand.args, is_baseline=cand.is_baseline)
        record["patch_files"] = [p.name for p in cand.patch_files]
        candidates.ancestry(candidates_dir, cid)
        parent_tree = task.sources
        if cand.parent != BASE_PARENT:
            parent_record = records.validation(cand.parent)
            parent_state = read_json(parent_record)["state"] if parent_record.is_file() else "missing"
            if parent_state != "ok":
                raise ContractViolation(
                    cid, "candidate.yaml", "parent-invalid", f"parent {cand.parent} is {parent_state}"
                )
            parent_tree = records.tree(cand.parent)
        record.update(validate(cand, task, parent_tree, out_tree))
        finish(record, "ok")
        diff = patches.make(task.sources, out_tree)
    except ContractViolation as violation:
        if out_tree.exists():
            shutil.rmtree(out_tree)
        out_tree.mkdir(parents=True)
        diff = ""
        finish(record, "invalid", str(violation), violation.rule, violation.file)
        record["detail"] = violation.detail
    atomic_write_text(records.effective_diff(record_id or cid), diff)
    write_json(records.validation(record_id or cid), record)
    return record


def validate_chain(
    candidates_dir: Path, cid: str, task: Task, results_dir: Path, literature_dir: Path | None = None
) -> dict:
    """Validate ``cid`` after its ancestors, nearest last, into ``results_dir``; returns its record."""
    try:
        chain = list(reversed(candidates.ancestry(candidates_dir, cid)))
    except ContractViolation:
        chain = []  # the candidate's own validation records the broken parent link
    for ancestor in chain:
        validate_candidate(candidates_dir, ancestor, task, results_dir, literature_dir=literature_dir)
    return validate_candidate(candidates_dir, cid, task, results_dir, literature_dir=literature_dir)
