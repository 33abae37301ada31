"""What a rule's result depends on, as content digests: library code and the task, never their paths.

A rule's script imports part of the library; an edit to any module it reaches must re-run the rule,
a move of the campaign (or of the installed package) must not. So rules do not list library files
as inputs: they carry, as a parameter, a digest of the files their script reaches through its
imports (``code_digest``), and a digest of the task's profile, sources and data (``task_digest``).
Snakemake re-runs a job whose parameters changed; paths take no part in either digest.

The import closure is read from the source (``ast``), never by importing: every ``flcampaign``
module a script imports, what those import, the modules they start by name (``-m
flcampaign.execution.contained``) or by file (``predict_driver.py`` beside its caller), and the
schemas when the closure reads them.
"""

import ast
import hashlib
import re
from functools import cache
from pathlib import Path

from flcampaign.task import Task

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name
SCHEMAS_MODULE = f"{PACKAGE}.schemas"
MODULE_NAME = re.compile(rf"^{PACKAGE}(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def module_file(name: str, package: Path = PACKAGE_DIR) -> Path | None:
    """The file of a library module (or package) by dotted name, None when there is none."""
    parts = name.split(".")[1:]
    base = Path(package).joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_of(path: Path, package: Path) -> str:
    rel = path.relative_to(package).with_suffix("")
    parts = [PACKAGE, *rel.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _references(path: Path, package: Path) -> frozenset[str]:
    """Library modules one file names: imports, ``-m`` targets, sibling scripts started by file name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE}
        elif (
            isinstance(node, ast.ImportFrom) and not node.level and node.module and node.module.split(".")[0] == PACKAGE
        ):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if MODULE_NAME.match(text):
                found.add(text)
            elif text.endswith(".py") and "/" not in text and (path.parent / text).is_file():
                found.add(_module_of(path.parent / text, package))
    return frozenset(found)


def closure(entry: Path, extra: tuple[str, ...] = (), package: Path = PACKAGE_DIR) -> list[Path]:
    """Every library file ``entry`` reaches (with its packages' ``__init__``), sorted."""
    package = Path(package).resolve()
    seen: set[Path] = set()
    pending = [*_references(Path(entry).resolve(), package), *extra]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(2, len(parts) + 1):  # the packages on the way, then the module
            path = module_file(".".join(parts[:depth]), package)
            if path is not None and path not in seen:
                seen.add(path)
                pending.extend(_references(path, package))
    return sorted(seen)


def _digest(files: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_digest(script: Path, schemas: Path, extra: tuple[str, ...] = (), package: Path = PACKAGE_DIR) -> str:
    """The digest of the library code (and schemas, if read) that ``script`` depends on."""
    package = Path(package).resolve()
    files = closure(script, extra, package)
    digest = _digest(files, package)
    if module_file(SCHEMAS_MODULE, package) in files:
        schema_files = sorted(Path(schemas).glob("*.yaml"))
        digest = hashlib.sha256((digest + _digest(schema_files, Path(schemas))).encode()).hexdigest()
    return digest


def _folder_files(root: Path) -> list[Path]:
    """A folder's files, caches, bytecode and hidden files aside."""
    return sorted(
        path
        for path in Path(root).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")
    )


def task_digest(task: Task) -> str:
    """The digest of a task: its folder (profile, sources, shipped data) and its base source tree, shared
    layer included."""
    folder, sources = _digest(_folder_files(task.root), task.root), _digest(_folder_files(task.sources), task.sources)
    return hashlib.sha256((folder + sources).encode()).hexdigest()
