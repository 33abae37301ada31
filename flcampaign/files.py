"""Hashing, atomic writes and YAML reading shared by every stage."""

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_of(value: Any) -> str:
    """A short, stable name for a JSON-able value (a chain of checkpoints is filed under the digest of what its first
    step takes from outside it)."""
    return sha256_bytes(json.dumps(value, sort_keys=True).encode())[:12]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


SNAKEMAKE_STAMP = ".snakemake_timestamp"  # Snakemake marks a directory output with it after the rule ran


def tree_files(root: Path) -> list[Path]:
    """The files that are a source tree's content, sorted: byte-code caches and the stamp Snakemake adds to
    a directory output are not."""
    root = Path(root)
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not (p.parent == root and p.name == SNAKEMAKE_STAMP)
    )


def sha256_tree(root: Path) -> str:
    """Content hash of a directory: relative paths and file contents, order-independent of the disk."""
    digest = hashlib.sha256()
    for path in tree_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(sha256_file(path).encode() + b"\n")
    return digest.hexdigest()


def current_umask() -> int:
    """The process's umask, read without changing it (``os.umask`` sets it, a race between threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_file_in(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """A temporary file in ``folder`` with the mode a plain ``open`` gives (``mkstemp``'s own is 0600, which
    would keep reviewers of the same group out of every file renamed into place)."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    os.fchmod(fd, 0o666 & ~current_umask())
    return fd, tmp


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = temp_file_in(path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(error.errno, f"cannot write {path}: {error.strerror}; the previous version is kept") from error
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(error.errno, f"cannot write {path}: {error.strerror}; the previous version is kept") from error
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # CSafeLoader is no SafeLoader subclass


class _PlainLoader(_SafeLoader):
    """Safe loader (libyaml when available) that keeps timestamps as strings, so ISO dates stay text."""


_PlainLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path) -> Any:
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_PlainLoader)


MAX_YAML_DEPTH = 32  # nesting of sequences and mappings; the metadata schemas need 4
MAX_YAML_NODES = 20_000  # scalars, sequences and mappings


class UnreadableYaml(ValueError):
    """A YAML file refused before anything is built from it, with the reason."""


def read_bounded_yaml(
    path: Path, max_bytes: int, max_depth: int = MAX_YAML_DEPTH, max_nodes: int = MAX_YAML_NODES
) -> Any:
    """Read YAML that someone else wrote (candidate metadata, literature events) without letting it crash or
    exhaust the reader: the size is checked before reading, the text must be UTF-8, and the event stream (libyaml's
    parser keeps its own stack) is checked for depth, node count and anchors before the document is composed (the
    composer recurses in C: 100,000 nested brackets end the process). Raises ``UnreadableYaml`` naming the rule."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableYaml(f"larger than {max_bytes // 1024} KiB ({size} bytes)")
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnreadableYaml(f"larger than {max_bytes // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableYaml(f"not UTF-8 text: {error.reason} at byte {error.start}") from None
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=_PlainLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise UnreadableYaml("anchors and aliases (&, *) are not allowed")
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > max_nodes:
                    raise UnreadableYaml(f"more than {max_nodes} values")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise UnreadableYaml(f"nested deeper than {max_depth} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=_PlainLoader)
    except yaml.YAMLError as error:
        raise UnreadableYaml(f"not valid YAML: {error}") from None
