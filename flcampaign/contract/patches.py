"""Unified diffs: strict parsing, path confinement, exact application and creation.

A candidate's patches are plain unified diffs relative to the task source root. They are parsed
here, never handed to an external ``patch`` program, so that every path is checked before any
file is written and every hunk must match its context exactly (no fuzz, no offsets).
"""

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_PATCH_BYTES = 256 * 1024
HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
BINARY_MARKERS = ("GIT binary patch", "Binary files ")
MODE_MARKERS = ("new file mode 120000", "old mode", "new mode", "rename from", "rename to", "copy from", "copy to")


class PatchError(ValueError):
    """A patch that cannot be accepted; ``rule`` names the broken rule."""

    def __init__(self, rule: str, detail: str):
        self.rule, self.detail = rule, detail
        super().__init__(f"{rule}: {detail}")


@dataclass
class Hunk:
    old_start: int
    old_lines: list[str] = field(default_factory=list)
    new_lines: list[str] = field(default_factory=list)


@dataclass
class FilePatch:
    path: str  # relative POSIX path inside the source root
    creates: bool
    deletes: bool
    hunks: list[Hunk] = field(default_factory=list)


PORTABLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")  # POSIX's portable file name characters


def _clean_path(raw: str, side_prefix: str) -> str | None:
    """Path of a ``---``/``+++`` line without its ``a/``/``b/`` prefix; None for /dev/null."""
    raw = raw.split("\t", 1)[0].strip()
    if raw == "/dev/null":
        return None
    if raw.startswith(side_prefix):
        raw = raw[len(side_prefix) :]
    return check_relative_path(raw)


def check_relative_path(raw: str) -> str:
    """Refuse absolute paths, parent references, hidden tricks and empty names."""
    if not raw or raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or "\\" in raw:
        raise PatchError("path-confinement", f"path {raw!r} is absolute or not a plain relative path")
    parts = PurePosixPath(raw).parts
    if any(part in ("..", ".", "") for part in parts) or "\0" in raw:
        raise PatchError("path-confinement", f"path {raw!r} leaves the source root")
    strange = [part for part in parts if not PORTABLE_NAME.fullmatch(part)]
    if strange:
        raise PatchError(
            "file-name",
            f"{strange[0]!r} is not a portable file name (ASCII letters, digits, '.', '_', '-'; no bidi "
            "controls or look-alike letters)",
        )
    return PurePosixPath(*parts).as_posix()


def parse(text: str) -> list[FilePatch]:
    """Parse a unified diff into file patches; refuse binary, symlink, mode and rename changes."""
    if len(text.encode("utf-8")) > MAX_PATCH_BYTES:
        raise PatchError("patch-size", f"patch is larger than {MAX_PATCH_BYTES} bytes")
    lines = text.splitlines(keepends=True)
    patches: list[FilePatch] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(BINARY_MARKERS):
            raise PatchError("no-binary", "binary patches are not accepted")
        if line.startswith(MODE_MARKERS):
            raise PatchError(
                "no-mode-change", f"symlinks, mode changes, renames and copies are not accepted: {line.strip()}"
            )
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old = _clean_path(line[4:], "a/")
            new = _clean_path(lines[i + 1][4:], "b/")
            if old is not None and new is not None and old != new:
                raise PatchError("no-mode-change", f"renames are not accepted: {old} -> {new}")
            current = FilePatch(path=new or old or "", creates=old is None, deletes=new is None)
            if current.deletes:
                raise PatchError("no-delete", f"deleting {old} is not allowed")
            patches.append(current)
            i += 2
            continue
        match = HUNK_HEADER.match(line)
        if match:
            if not patches:
                raise PatchError("patch-format", "hunk before any file header")
            i = _read_hunk(lines, i, match, patches[-1])
            continue
        i += 1
    if not patches:
        raise PatchError("patch-format", "no file changes found (expected '--- a/<file>' / '+++ b/<file>' headers)")
    return patches


def _read_hunk(lines: list[str], i: int, match: re.Match, target: FilePatch) -> int:
    old_count = int(match.group(2) or 1) if match.group(2) != "0" else 0
    new_count = int(match.group(4) or 1) if match.group(4) != "0" else 0
    hunk = Hunk(old_start=int(match.group(1)))
    last_sides: tuple[list[str], ...] = ()
    i += 1
    while i < len(lines):
        line = lines[i]
        if line.startswith("\\"):
            _strip_newline(last_sides)
            i += 1
            continue
        if len(hunk.old_lines) >= old_count and len(hunk.new_lines) >= new_count:
            break
        tag, body = line[:1], line[1:]
        if tag == " " or line in ("\n", "\r\n"):
            body = body if tag == " " else line
            last_sides = (hunk.old_lines, hunk.new_lines)
        elif tag == "-":
            last_sides = (hunk.old_lines,)
        elif tag == "+":
            last_sides = (hunk.new_lines,)
        else:
            raise PatchError("patch-format", f"{target.path}: unexpected line in hunk: {line.rstrip()!r}")
        for side in last_sides:
            side.append(body)
        i += 1
    if len(hunk.old_lines) != old_count or len(hunk.new_lines) != new_count:
        raise PatchError("patch-format", f"{target.path}: hunk at line {hunk.old_start} is truncated")
    target.hunks.append(hunk)
    return i


def _strip_newline(sides: tuple[list[str], ...]) -> None:
    """'\\ No newline at end of file' applies to the line just read, on the side(s) it belongs to."""
    for side in sides:
        if side and side[-1].endswith("\n"):
            side[-1] = side[-1][:-1]


def apply_file(original: str | None, patch: FilePatch) -> str:
    """New content of one file; every hunk's context must match exactly."""
    if patch.creates and original is not None:
        raise PatchError("patch-apply", f"{patch.path}: patch creates a file that already exists")
    if not patch.creates and original is None:
        raise PatchError("patch-apply", f"{patch.path}: file does not exist in the parent tree")
    old = (original or "").splitlines(keepends=True)
    out: list[str] = []
    cursor = 0
    for hunk in patch.hunks:
        start = hunk.old_start - 1 if hunk.old_lines else hunk.old_start
        if start < cursor or old[start : start + len(hunk.old_lines)] != hunk.old_lines:
            raise PatchError(
                "patch-apply", f"{patch.path}: hunk at line {hunk.old_start} does not match the parent tree"
            )
        out.extend(old[cursor:start])
        out.extend(hunk.new_lines)
        cursor = start + len(hunk.old_lines)
    out.extend(old[cursor:])
    return "".join(out)


def apply(patches: list[FilePatch], root: Path) -> list[str]:
    """Apply parsed patches inside ``root``; returns the changed relative paths."""
    root = Path(root)
    changed = []
    for patch in patches:
        target = root / patch.path
        for parent in [target, *target.parents]:
            if parent == root:
                break
            if parent.is_symlink():
                raise PatchError("path-confinement", f"{patch.path}: goes through a symlink")
        original = target.read_text(encoding="utf-8") if target.exists() else None
        content = apply_file(original, patch)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        changed.append(patch.path)
    return changed


def _text_files(root: Path) -> set[str]:
    """Relative paths of a source tree's files, without Python's byte-code caches."""
    return {
        p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }


def make(old_root: Path, new_root: Path) -> str:
    """Unified diff from ``old_root`` to ``new_root`` (text files; new files from /dev/null)."""
    old_files, new_files = _text_files(old_root), _text_files(new_root)
    if old_files - new_files:
        raise PatchError("no-delete", f"files removed: {sorted(old_files - new_files)}")
    chunks: list[str] = []
    for rel in sorted(new_files):
        before = (
            (Path(old_root) / rel).read_text(encoding="utf-8").splitlines(keepends=True) if rel in old_files else []
        )
        after = (Path(new_root) / rel).read_text(encoding="utf-8").splitlines(keepends=True)
        if before == after:
            continue
        source = f"a/{rel}" if rel in old_files else "/dev/null"
        chunks.extend(difflib.unified_diff(before, after, source, f"b/{rel}"))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in chunks)
