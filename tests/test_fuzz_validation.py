"""Property-based tests: validation of any candidate folder ends in ``ok`` or a named rule with its file.

Hypothesis generates folders an agent (or an attacker) might drop -- random and mutated
``candidate.yaml``, patches with odd headers, folders where files are expected, empty and large
files, other encodings -- and each must give a record, never an unhandled exception.
"""

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flcampaign.contract.candidate import patch_manifest
from flcampaign.contract.validation import patches, validate_candidate
from flcampaign.task import Task

TASK = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
EXAMPLES = 600

VALID_META = {
    "title": "fuzzed",
    "hypothesis": "validation never raises",
    "parent": "baseline",
    "family": "fuzz",
    "created": "2026-11-24T00:00:00+00:00",
    "args": {"lr": 0.01},
}


def real_patch() -> str:
    """A valid patch of the task's client, the seed the header and hunk mutations start from."""
    with tempfile.TemporaryDirectory() as work:
        edited = Path(work) / "src"
        shutil.copytree(TASK.sources, edited, ignore=shutil.ignore_patterns("__pycache__"))
        client = edited / "client.py"
        client.write_text(client.read_text().replace("loss.backward()", "loss.backward()  # fuzz"))
        return patches.make(TASK.sources, edited)


REAL_PATCH = real_patch()
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40), st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
meta_keys = st.sampled_from([*VALID_META, "extra", "args", "literature", "created"])


@st.composite
def candidate_yaml(draw) -> bytes | None:
    """The bytes of candidate.yaml, or None for a folder in its place."""
    kinds = (
        ["valid"] * 6
        + ["mutated"] * 3
        + ["random-text", "random-bytes", "yaml-value", "encoded", "empty", "huge", "folder"]
    )
    kind = draw(st.sampled_from(kinds))
    if kind == "folder":
        return None
    if kind == "valid":
        return yaml.safe_dump(VALID_META).encode()
    if kind == "mutated":
        meta = dict(VALID_META)
        for key in draw(st.lists(meta_keys, max_size=4)):
            if draw(st.booleans()):
                meta.pop(key, None)
            else:
                meta[key] = draw(values)
        try:
            return yaml.safe_dump(meta, allow_unicode=True).encode()
        except yaml.YAMLError:
            return b"title: [unclosed"
    if kind == "random-text":
        return draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    if kind == "random-bytes":
        return draw(st.binary(max_size=300))
    if kind == "yaml-value":
        return yaml.safe_dump(draw(values)).encode()
    if kind == "encoded":
        return yaml.safe_dump(VALID_META, allow_unicode=True).encode(
            draw(st.sampled_from(["utf-16", "utf-32", "latin-1"]))
        )
    if kind == "empty":
        return b""
    return b"title: " + b"x" * 3_000_000 + b"\n"


def mutate_lines(draw, text: str) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 4))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "duplicate", "replace", "insert"]))
        if action == "drop":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        else:
            header = draw(
                st.sampled_from(["--- ", "+++ ", "@@ ", "diff --git ", "GIT binary patch", "\\ ", "+", "-", " "])
            )
            line = header + draw(st.text(max_size=30)) + "\n"
            lines[index : index + (action == "replace")] = [line]
    return "".join(lines)


@st.composite
def patch_file(draw) -> bytes | None:
    """The bytes of one patch file, or None for a folder in its place."""
    kinds = ["mutated"] * 6 + ["real", "random", "binary", "encoded", "empty", "folder", "huge"]
    kind = draw(st.sampled_from(kinds))
    if kind == "mutated":
        return mutate_lines(draw, REAL_PATCH).encode("utf-8", "surrogatepass")
    if kind == "real":
        return REAL_PATCH.encode()
    if kind == "random":
        return draw(st.text(max_size=400)).encode("utf-8", "surrogatepass")
    if kind == "binary":
        return draw(st.binary(max_size=400))
    if kind == "encoded":
        return REAL_PATCH.encode(draw(st.sampled_from(["utf-16", "utf-32"])))
    if kind == "empty":
        return b""
    if kind == "folder":
        return None
    return REAL_PATCH.encode() + b"+" + b"y" * 3_000_000 + b"\n"


def listing_patches(folder: Path, meta: bytes | None) -> bytes | None:
    """A mapping without ``patches`` gets the folder's manifest, as a finished folder has, so that fuzzing
    reaches the patch checks behind the manifest check."""
    try:
        parsed = yaml.safe_load(meta) if meta is not None else None
    except (yaml.YAMLError, ValueError):
        return meta
    if not isinstance(parsed, dict) or "patches" in parsed:
        return meta
    return yaml.safe_dump(parsed | {"patches": patch_manifest(folder)}, allow_unicode=True).encode()


def write(path: Path, content: bytes | None) -> None:
    if content is None:
        path.mkdir(parents=True)
        (path / "inside.patch").write_text(REAL_PATCH)
    else:
        path.write_bytes(content)


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    meta=candidate_yaml(),
    patch_names=st.lists(
        st.sampled_from(["001.patch", "002-x.patch", "ü.patch", "notes.txt", ".hidden.patch"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    patch_contents=st.lists(patch_file(), min_size=3, max_size=3),
    patches_is_file=st.sampled_from([False] * 9 + [True]),
)
def test_validation_of_any_folder_is_ok_or_a_named_rule(
    tmp_path_factory, meta, patch_names, patch_contents, patches_is_file
):
    root = tmp_path_factory.mktemp("fuzz")
    folder = root / "candidates" / "0001-fuzz"
    folder.mkdir(parents=True)
    if patches_is_file:
        (folder / "patches").write_bytes(patch_contents[0] or b"")
    else:
        (folder / "patches").mkdir()
        for name, content in zip(patch_names, patch_contents, strict=False):
            write(folder / "patches" / name, content)
    write(folder / "candidate.yaml", listing_patches(folder, meta))  # None: a folder named candidate.yaml
    record = validate_candidate(root / "candidates", "0001-fuzz", TASK, root / "results")
    assert record["state"] in ("ok", "invalid")
    event(record["rule"] or "ok")
    if record["state"] == "invalid":
        assert record["rule"] and record["file"] and "0001-fuzz" in record["reason"], record
    shutil.rmtree(root)
