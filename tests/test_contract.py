"""Unit tests of flcampaign.contract.validation.validate_candidate: every static rule, on tmp candidate folders.

Nothing here simulates: validation is static, and these tests check that it stays so.
"""

import ast
import json
import math
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from flcampaign.contract.candidate import patch_manifest
from flcampaign.contract.client_protocol import CLIENT_CHECKS
from flcampaign.contract.validation import (
    MAX_LITERAL_CHARACTERS,
    MAX_LITERAL_NUMBERS,
    literal_load,
    patches,
    validate_candidate,
)
from flcampaign.files import read_json, sha256_tree
from flcampaign.task import Task

TASK_DIR = REPO / "flcampaign" / "tasks" / "heart_disease"
BASE_SRC = Task.load(TASK_DIR).sources
PATCH_NAME = "patches/001-change.patch"
DEFAULT_ARGS = {"lr": 0.001, "local_steps": 100, "aggregator": "fedavg", "server_lr": 1.0, "server_momentum": 0.9}


def base_meta(**overrides) -> dict:
    meta = {
        "title": "A test candidate",
        "hypothesis": "It exercises one rule of the contract.",
        "parent": "baseline",
        "family": "test",
        "created": "2026-11-24T00:00:00+00:00",
    }
    meta.update(overrides)
    return {k: v for k, v in meta.items() if v is not None}


def edit_tree(tree: Path, edits: dict[str, list[tuple[str, str]]]) -> None:
    """Apply string replacements; each ``old`` must occur, so a mutation can never be a silent no-op."""
    for rel, replacements in edits.items():
        path = tree / rel
        text = path.read_text(encoding="utf-8") if path.exists() else None
        for old, new in replacements:
            if text is None:
                assert old == "", f"{rel} does not exist: create it with ('', content)"
                text = new
                continue
            assert old in text, f"{old!r} not found in {rel}"
            text = text.replace(old, new)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def make_patch(base: Path, edits: dict[str, list[tuple[str, str]]], work: Path) -> str:
    """Unified diff (flcampaign.contract.patches.make) from ``base`` to a copy of it with ``edits`` applied."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(base, work, ignore=shutil.ignore_patterns("__pycache__"))
    edit_tree(work, edits)
    diff = patches.make(base, work)
    assert diff, "the edits must change something"
    return diff


def make_candidate(
    root: Path,
    cid: str,
    meta: dict | None = None,
    edits: dict[str, list[tuple[str, str]]] | None = None,
    base: Path = BASE_SRC,
    patch_text: str | None = None,
) -> Path:
    """Write ``root/<cid>/candidate.yaml`` and, for edits, ``patches/001-change.patch`` against ``base``."""
    folder = root / cid
    folder.mkdir(parents=True)
    if edits:
        patch_text = make_patch(base, edits, root.parent / "_work" / cid)
    if patch_text is not None:
        (folder / "patches").mkdir()
        (folder / "patches" / "001-change.patch").write_text(patch_text, encoding="utf-8")
    meta = base_meta() if meta is None else meta
    if isinstance(meta, dict) and "patches" not in meta:
        meta = {**meta, "patches": patch_manifest(folder)}  # a complete folder lists its patches
    (folder / "candidate.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    return folder


def relist(folder: Path) -> None:
    """List the patches added to a folder after its candidate.yaml, as a finished folder does."""
    meta = yaml.safe_load((folder / "candidate.yaml").read_text())
    (folder / "candidate.yaml").write_text(yaml.safe_dump(meta | {"patches": patch_manifest(folder)}))


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(TASK_DIR)


@pytest.fixture
def cands(tmp_path) -> Path:
    path = tmp_path / "candidates"
    path.mkdir()
    return path


@pytest.fixture
def results(tmp_path) -> Path:
    return tmp_path / "results"


def assert_invalid(record: dict, results: Path, cid: str, rule: str, file: str) -> None:
    assert record["state"] == "invalid", record
    assert record["rule"] == rule, record["reason"]
    assert record["file"] == file, record["reason"]
    assert f"candidate {cid}:" in record["reason"]
    assert f": {file}: rule {rule}: " in record["reason"]
    out = results / "candidates" / cid
    # compared as JSON text: a NaN knob value is not equal to itself
    assert json.dumps(read_json(out / "validation.json"), sort_keys=True) == json.dumps(record, sort_keys=True)
    assert (out / "src").is_dir() and list((out / "src").iterdir()) == []
    assert (out / "effective.diff").read_text(encoding="utf-8") == ""


# ---------------------------------------------------------------------------------------------
# accepted candidates


def test_baseline_is_ok_and_unchanged(task, cands, results):
    make_candidate(cands, "base")
    record = validate_candidate(cands, "base", task, results)

    assert record["state"] == "ok", record["reason"]
    assert record["rule"] == "" and record["reason"] == ""
    assert record["is_baseline"] is True
    assert record["changed_files"] == [] and record["changed_in_patches"] == []
    assert record["patch_files"] == []
    assert record["effective_args"] == DEFAULT_ARGS
    assert record["tree_sha256"] == sha256_tree(BASE_SRC)
    out = results / "candidates" / "base"
    assert sha256_tree(out / "src") == sha256_tree(BASE_SRC)
    assert (out / "effective.diff").read_text(encoding="utf-8") == ""
    assert read_json(out / "validation.json") == record


def test_argument_only_candidate_merges_defaults(task, cands, results):
    make_candidate(cands, "args-only", base_meta(args={"lr": 0.01, "aggregator": "fedadam"}))
    record = validate_candidate(cands, "args-only", task, results)

    assert record["state"] == "ok", record["reason"]
    assert record["is_baseline"] is False
    assert record["args"] == {"lr": 0.01, "aggregator": "fedadam"}
    assert record["effective_args"] == {**DEFAULT_ARGS, "lr": 0.01, "aggregator": "fedadam"}
    assert record["changed_files"] == []
    assert record["tree_sha256"] == sha256_tree(BASE_SRC)


def test_patch_candidate_writes_effective_diff(task, cands, results, tmp_path):
    edits = {"model.py": [("nn.Linear(in_features, 1)", "nn.Linear(in_features, 1, bias=True)")]}
    make_candidate(cands, "bias", edits=edits)
    record = validate_candidate(cands, "bias", task, results)

    assert record["state"] == "ok", record["reason"]
    assert record["changed_files"] == ["model.py"] and record["changed_in_patches"] == ["model.py"]
    assert record["patch_files"] == ["001-change.patch"]
    out = results / "candidates" / "bias"
    assert "bias=True" in (out / "src" / "model.py").read_text(encoding="utf-8")
    diff = (out / "effective.diff").read_text(encoding="utf-8")
    replay = shutil.copytree(BASE_SRC, tmp_path / "replay", ignore=shutil.ignore_patterns("__pycache__"))
    assert patches.apply(patches.parse(diff), replay) == ["model.py"]
    assert sha256_tree(replay) == record["tree_sha256"] == sha256_tree(out / "src")


def test_child_applies_on_parent_tree(task, cands, results, tmp_path):
    parent_edits = {"client.py": [("    flare.init()\n", "    flare.init()\n    # parent edit\n")]}
    make_candidate(cands, "parent", edits=parent_edits)
    parent = validate_candidate(cands, "parent", task, results)
    assert parent["state"] == "ok", parent["reason"]

    parent_tree = results / "candidates" / "parent" / "src"
    child_edits = {"model.py": [("nn.Linear(in_features, 1)", "nn.Linear(in_features, 1, bias=True)")]}
    make_candidate(cands, "child", base_meta(parent="parent"), edits=child_edits, base=parent_tree)
    record = validate_candidate(cands, "child", task, results)

    assert record["state"] == "ok", record["reason"]
    assert record["parent"] == "parent"
    assert record["changed_in_patches"] == ["model.py"]
    assert record["changed_files"] == ["client.py", "model.py"]
    child_tree = results / "candidates" / "child" / "src"
    assert "# parent edit" in (child_tree / "client.py").read_text(encoding="utf-8")
    assert "bias=True" in (child_tree / "model.py").read_text(encoding="utf-8")
    diff = (results / "candidates" / "child" / "effective.diff").read_text(encoding="utf-8")
    assert {p.path for p in patches.parse(diff)} == {"client.py", "model.py"}
    replay = shutil.copytree(BASE_SRC, tmp_path / "replay", ignore=shutil.ignore_patterns("__pycache__"))
    patches.apply(patches.parse(diff), replay)
    assert sha256_tree(replay) == record["tree_sha256"]


def test_child_patch_written_against_base_does_not_apply_over_parent(task, cands, results):
    old = "    flare.init()\n"
    make_candidate(cands, "parent", edits={"client.py": [(old, "    flare.init()  # parent\n")]})
    assert validate_candidate(cands, "parent", task, results)["state"] == "ok"
    make_candidate(
        cands, "child", base_meta(parent="parent"), edits={"client.py": [(old, "    flare.init()  # child\n")]}
    )
    record = validate_candidate(cands, "child", task, results)
    assert_invalid(record, results, "child", "patch-apply", PATCH_NAME)


def test_same_effect_gives_same_tree_hash(task, cands, results, tmp_path):
    first = ("nn.Linear(in_features, 1)", "nn.Linear(in_features, 1, bias=True)")
    second = ("    flare.init()\n", "    flare.init()\n    # same effect\n")
    make_candidate(cands, "one-patch", edits={"model.py": [first], "client.py": [second]})

    folder = make_candidate(cands, "two-patches")
    step = tmp_path / "step1"
    (folder / "patches").mkdir()
    (folder / "patches" / "001-model.patch").write_text(make_patch(BASE_SRC, {"model.py": [first]}, step))
    (folder / "patches" / "002-client.patch").write_text(make_patch(step, {"client.py": [second]}, tmp_path / "step2"))
    relist(folder)

    one = validate_candidate(cands, "one-patch", task, results)
    two = validate_candidate(cands, "two-patches", task, results)

    assert one["state"] == two["state"] == "ok", (one["reason"], two["reason"])
    assert two["patch_files"] == ["001-model.patch", "002-client.patch"]
    assert one["patch_sha256"] != two["patch_sha256"]
    assert one["tree_sha256"] == two["tree_sha256"] != sha256_tree(BASE_SRC)
    assert one["changed_files"] == two["changed_files"] == ["client.py", "model.py"]


def test_creating_a_file_in_the_creatable_glob_is_accepted(task, cands, results):
    edits = {
        "fl_extra_helper.py": [("", '"""Extra helper."""\n\nSCALE = 1.0\n')],
        "client.py": [
            (
                "from model import HeartLogReg\n",
                "from fl_extra_helper import SCALE  # noqa: F401\nfrom model import HeartLogReg\n",
            )
        ],
    }
    make_candidate(cands, "helper", edits=edits)
    record = validate_candidate(cands, "helper", task, results)

    assert record["state"] == "ok", record["reason"]
    assert record["changed_files"] == ["client.py", "fl_extra_helper.py"]
    assert (results / "candidates" / "helper" / "src" / "fl_extra_helper.py").is_file()


def test_child_may_edit_a_file_its_parent_created(task, cands, results):
    make_candidate(cands, "creator", edits={"fl_extra_helper.py": [("", "SCALE = 1.0\n")]})
    assert validate_candidate(cands, "creator", task, results)["state"] == "ok"
    parent_tree = results / "candidates" / "creator" / "src"
    meta = {**base_meta(), "parent": "creator"}
    make_candidate(cands, "editor", meta=meta, edits={"fl_extra_helper.py": [("1.0", "2.0")]}, base=parent_tree)
    record = validate_candidate(cands, "editor", task, results)
    assert record["state"] == "ok", record["reason"]
    assert (results / "candidates" / "editor" / "src" / "fl_extra_helper.py").read_text() == "SCALE = 2.0\n"


def test_creatable_glob_does_not_cross_directories(task, cands, results):
    make_candidate(cands, "nested-extra", edits={"fl_extra_x/evil.py": [("", "X = 1\n")]})
    record = validate_candidate(cands, "nested-extra", task, results)
    assert_invalid(record, results, "nested-extra", "mutation-surface", "patches/001-change.patch")


def test_validation_never_imports_candidate_code(task, cands, results, tmp_path):
    payload = "import math as _math\n\n_math.flc_candidate_code_ran = True\nraise SystemExit(3)\n"
    loaded_before = set(sys.modules)

    ok_edits = {
        "client.py": [("import argparse\n", "import argparse\n" + payload)],
        "job.py": [("import argparse\n", "import argparse\n" + payload)],
        "fl_extra_side_effect.py": [("", payload)],
    }
    make_candidate(cands, "side-effects", edits=ok_edits)
    ok = validate_candidate(cands, "side-effects", task, results)

    bad_edits = {"client.py": [("import argparse\n", "import argparse\n" + payload), ("    flare.init()\n", "")]}
    make_candidate(cands, "side-effects-bad", edits=bad_edits)
    bad = validate_candidate(cands, "side-effects-bad", task, results)

    assert ok["state"] == "ok", ok["reason"]
    assert ok["changed_files"] == ["client.py", "fl_extra_side_effect.py", "job.py"]
    assert_invalid(bad, results, "side-effects-bad", "client-contract", "client.py")
    assert not hasattr(math, "flc_candidate_code_ran")
    assert {"client", "job", "fl_extra_side_effect"}.isdisjoint(set(sys.modules) - loaded_before)


# ---------------------------------------------------------------------------------------------
# the candidate folder and its metadata


@pytest.mark.parametrize("cid", [".hidden", "a b", "-dash", "x.y"])
def test_bad_candidate_id(task, cands, results, cid):
    folder = make_candidate(cands, cid)
    record = validate_candidate(cands, cid, task, results)
    assert_invalid(record, results, cid, "candidate-id", str(folder))
    assert cid in record["file"]


def test_ids_that_differ_only_by_case_are_both_refused(task, cands, results):
    for cid in ("0003-fedprox", "0003-FedProx"):
        make_candidate(cands, cid)
    for cid, twin in (("0003-fedprox", "0003-FedProx"), ("0003-FedProx", "0003-fedprox")):
        record = validate_candidate(cands, cid, task, results)
        assert_invalid(record, results, cid, "candidate-id", str(cands / cid))
        assert f"differs from {twin} only by case" in record["reason"]


def test_a_link_to_a_literature_event_that_was_never_recorded_is_invalid(task, cands, results):
    make_candidate(cands, "linked", base_meta(literature_event="lit-0007"))
    record = validate_candidate(cands, "linked", task, results)
    assert_invalid(record, results, "linked", "literature-link", "candidate.yaml")
    (cands.parent / "literature").mkdir(exist_ok=True)
    (cands.parent / "literature" / "lit-0007.yaml").write_text("id: lit-0007\n")
    assert validate_candidate(cands, "linked", task, results)["state"] == "ok"


def test_missing_candidate_yaml(task, cands, results):
    (cands / "empty").mkdir()
    record = validate_candidate(cands, "empty", task, results)
    assert_invalid(record, results, "empty", "candidate-yaml", "candidate.yaml")


def test_malformed_candidate_yaml(task, cands, results):
    folder = cands / "broken"
    folder.mkdir()
    (folder / "candidate.yaml").write_text("title: [unclosed\nparent: baseline\n", encoding="utf-8")
    record = validate_candidate(cands, "broken", task, results)
    assert_invalid(record, results, "broken", "candidate-yaml", "candidate.yaml")
    assert "not valid YAML" in record["detail"]


def test_symlinked_candidate_yaml_is_refused(task, cands, results, tmp_path):
    real = tmp_path / "real.yaml"
    real.write_text(yaml.safe_dump(base_meta()), encoding="utf-8")
    (cands / "linked").mkdir()
    os.symlink(real, cands / "linked" / "candidate.yaml")
    record = validate_candidate(cands, "linked", task, results)
    assert_invalid(record, results, "linked", "candidate-yaml", "candidate.yaml")


@pytest.mark.parametrize(
    ("meta", "needle"),
    [
        pytest.param(base_meta(color="red"), "color", id="unknown-key"),
        pytest.param(base_meta(title=None), "title", id="missing-title"),
        pytest.param(base_meta(title=""), "title", id="empty-title"),
        pytest.param(base_meta(created="yesterday"), "created", id="created-not-iso"),
        pytest.param(base_meta(family="Has Spaces"), "family", id="bad-family"),
        pytest.param(["not", "a", "mapping"], "(top level)", id="not-a-mapping"),
    ],
)
def test_candidate_schema(task, cands, results, meta, needle):
    make_candidate(cands, "schema", meta)
    record = validate_candidate(cands, "schema", task, results)
    assert_invalid(record, results, "schema", "candidate-schema", "candidate.yaml")
    assert needle in record["detail"]


@pytest.mark.parametrize("extra", ["README.md", "patches/notes.txt", "patches/001-change.diff", "notes/x.patch"])
def test_candidate_layout(task, cands, results, extra):
    folder = make_candidate(cands, "extra")
    (folder / extra).parent.mkdir(parents=True, exist_ok=True)
    (folder / extra).write_text("hello\n", encoding="utf-8")
    record = validate_candidate(cands, "extra", task, results)
    assert_invalid(record, results, "extra", "candidate-layout", "notes" if extra.startswith("notes/") else extra)


def test_nested_patch_file_is_not_silently_ignored(task, cands, results, tmp_path):
    folder = make_candidate(cands, "nested")
    (folder / "patches" / "sub").mkdir(parents=True)
    edits = {"model.py": [("seed: int = 0", "seed: int = 1")]}
    (folder / "patches" / "sub" / "002-change.patch").write_text(make_patch(BASE_SRC, edits, tmp_path / "w"))
    record = validate_candidate(cands, "nested", task, results)
    assert_invalid(record, results, "nested", "candidate-layout", "patches/sub")  # a folder where files belong


@pytest.mark.parametrize("link", ["notes", "patches/001-change.patch"])
def test_symlink_in_candidate_folder(task, cands, results, tmp_path, link):
    target = tmp_path / "target.patch"
    target.write_text(make_patch(BASE_SRC, {"model.py": [("seed: int = 0", "seed: int = 1")]}, tmp_path / "w"))
    folder = make_candidate(cands, "linky")
    (folder / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, folder / link)
    record = validate_candidate(cands, "linky", task, results)
    assert_invalid(record, results, "linky", "no-symlink", link)


# ---------------------------------------------------------------------------------------------
# knobs


def test_undeclared_knob(task, cands, results):
    make_candidate(cands, "knob", base_meta(args={"unknown": 1}))
    record = validate_candidate(cands, "knob", task, results)
    assert_invalid(record, results, "knob", "declared-knobs", "candidate.yaml")
    assert "args.unknown" in record["detail"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param({"lr": 0.5}, "above the maximum", id="lr-above-max"),
        pytest.param({"lr": 1.0e-5}, "below the minimum", id="lr-below-min"),
        pytest.param({"local_steps": 50.0}, "must be an integer", id="local-steps-float"),
        pytest.param({"local_steps": True}, "must be an integer", id="local-steps-bool"),
        pytest.param({"aggregator": "krum"}, "not one of", id="aggregator-not-a-choice"),
        pytest.param({"lr": "0.01"}, "must be a number", id="lr-string"),
        pytest.param({"lr": float("nan")}, "finite", id="lr-nan"),
    ],
)
def test_knob_bounds(task, cands, results, args, needle):
    make_candidate(cands, "bounds", base_meta(args=args))
    record = validate_candidate(cands, "bounds", task, results)
    assert_invalid(record, results, "bounds", "knob-bounds", "candidate.yaml")
    assert needle in record["detail"]
    assert next(iter(args)) in record["detail"]


def test_knob_bounds_are_inclusive(task, cands, results):
    make_candidate(cands, "edges", base_meta(args={"lr": 0.1, "local_steps": 10, "server_momentum": 0.0}))
    record = validate_candidate(cands, "edges", task, results)
    assert record["state"] == "ok", record["reason"]
    assert record["effective_args"]["lr"] == 0.1 and record["effective_args"]["local_steps"] == 10


# ---------------------------------------------------------------------------------------------
# parents


def test_parent_missing(task, cands, results):
    make_candidate(cands, "orphan", base_meta(parent="ghost"))
    record = validate_candidate(cands, "orphan", task, results)
    assert_invalid(record, results, "orphan", "parent-missing", "candidate.yaml")
    assert "ghost" in record["detail"]


def test_parent_folder_without_metadata(task, cands, results):
    (cands / "hollow").mkdir()
    make_candidate(cands, "orphan", base_meta(parent="hollow"))
    record = validate_candidate(cands, "orphan", task, results)
    assert_invalid(record, results, "orphan", "parent-missing", "candidate.yaml")


def test_parent_cycle(task, cands, results):
    make_candidate(cands, "a", base_meta(parent="b"))
    make_candidate(cands, "b", base_meta(parent="a"))
    for cid, other in (("a", "b"), ("b", "a")):
        record = validate_candidate(cands, cid, task, results)
        assert_invalid(record, results, cid, "parent-cycle", "candidate.yaml")
        assert f"{cid} -> {other} -> {cid}" in record["detail"]


def test_own_parent_is_a_cycle(task, cands, results):
    make_candidate(cands, "selfish", base_meta(parent="selfish"))
    record = validate_candidate(cands, "selfish", task, results)
    assert_invalid(record, results, "selfish", "parent-cycle", "candidate.yaml")


def test_parent_invalid(task, cands, results):
    make_candidate(cands, "bad-parent", base_meta(args={"unknown": 1}))
    make_candidate(cands, "child", base_meta(parent="bad-parent"))
    assert validate_candidate(cands, "bad-parent", task, results)["state"] == "invalid"
    record = validate_candidate(cands, "child", task, results)
    assert_invalid(record, results, "child", "parent-invalid", "candidate.yaml")
    assert "parent bad-parent is invalid" in record["detail"]


def test_parent_not_yet_validated(task, cands, results):
    make_candidate(cands, "good-parent")
    make_candidate(cands, "child", base_meta(parent="good-parent"))
    record = validate_candidate(cands, "child", task, results)
    assert_invalid(record, results, "child", "parent-invalid", "candidate.yaml")
    assert "missing" in record["detail"]


# ---------------------------------------------------------------------------------------------
# mutation surface and patches


def test_creating_outside_the_creatable_glob(task, cands, results):
    make_candidate(cands, "evil", edits={"evil.py": [("", "x = 1\n")]})
    record = validate_candidate(cands, "evil", task, results)
    assert_invalid(record, results, "evil", "mutation-surface", PATCH_NAME)
    assert "evil.py" in record["detail"]


def test_editing_a_file_outside_the_editable_list(task, cands, results):
    text = "--- a/README.txt\n+++ b/README.txt\n@@ -1 +1 @@\n-a\n+b\n"
    make_candidate(cands, "not-editable", patch_text=text)
    record = validate_candidate(cands, "not-editable", task, results)
    assert_invalid(record, results, "not-editable", "mutation-surface", PATCH_NAME)


def test_editing_the_fixed_file(task, cands, results):
    edits = {
        "fl_data.py": [
            ("features, labels = own_training_split(site_name)", "features, labels = own_training_split('site-1')")
        ]
    }
    make_candidate(cands, "fixed", edits=edits)
    record = validate_candidate(cands, "fixed", task, results)
    assert_invalid(record, results, "fixed", "fixed-file", PATCH_NAME)
    assert "fl_data.py" in record["detail"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("--- /dev/null\n+++ b/../fl_extra_x.py\n@@ -0,0 +1 @@\n+x = 1\n", id="parent-reference"),
        pytest.param("--- a//etc/passwd\n+++ b//etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", id="absolute"),
    ],
)
def test_path_confinement_via_patch(task, cands, results, tmp_path, text):
    make_candidate(cands, "escape", patch_text=text)
    record = validate_candidate(cands, "escape", task, results)
    assert_invalid(record, results, "escape", "path-confinement", PATCH_NAME)
    assert not (results / "candidates" / "escape" / "fl_extra_x.py").exists()
    assert not (results / "candidates" / "fl_extra_x.py").exists()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        pytest.param("Binary files a/model.py and b/model.py differ\n", "no-binary", id="binary"),
        pytest.param("--- a/model.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n", "no-delete", id="delete"),
        pytest.param("just prose\n", "patch-format", id="no-headers"),
        pytest.param(
            "--- a/model.py\n+++ b/model.py\n@@ -1 +1 @@\n-not the first line\n+x = 1\n", "patch-apply", id="context"
        ),
    ],
)
def test_patch_errors_become_rules(task, cands, results, text, rule):
    make_candidate(cands, "bad-patch", patch_text=text)
    record = validate_candidate(cands, "bad-patch", task, results)
    assert_invalid(record, results, "bad-patch", rule, PATCH_NAME)


def test_non_utf8_patch_is_binary(task, cands, results):
    folder = make_candidate(cands, "latin")
    (folder / "patches").mkdir()
    (folder / "patches" / "001-change.patch").write_bytes(b"--- a/model.py\n+++ b/model.py\n\xff\xfe\n")
    relist(folder)
    record = validate_candidate(cands, "latin", task, results)
    assert_invalid(record, results, "latin", "no-binary", PATCH_NAME)


# ---------------------------------------------------------------------------------------------
# compilation, client protocol and budget


def test_syntax_error_in_client(task, cands, results):
    make_candidate(cands, "syntax", edits={"client.py": [("def main() -> None:", "def main() -> None")]})
    record = validate_candidate(cands, "syntax", task, results)
    assert_invalid(record, results, "syntax", "py-compile", "client.py")


def test_syntax_error_in_created_file(task, cands, results):
    make_candidate(cands, "syntax-extra", edits={"fl_extra_bad.py": [("", "def f(:\n    pass\n")]})
    record = validate_candidate(cands, "syntax-extra", task, results)
    assert_invalid(record, results, "syntax-extra", "py-compile", "fl_extra_bad.py")


SUBMIT_SEND = "flare.send(FLModel(params=model.cpu().state_dict(), params_type=ParamsType.FULL))"
EVAL_SEND = "flare.send(FLModel(metrics=evaluate(eval_model, features, labels)))"

# One client.py mutation per label of CLIENT_CHECKS, each breaking that check and no other.
CLIENT_MUTATIONS: dict[str, list[tuple[str, str]]] = {
    "flare.init()": [("    flare.init()\n", "")],
    "flare.receive()": [
        (
            "import nvflare.client as flare\n",
            "import nvflare.client as flare\nfrom nvflare.client import receive as pull\n",
        ),
        ("input_model = flare.receive()", "input_model = pull()"),
    ],
    "flare.send(...)": [
        (
            "import nvflare.client as flare\n",
            "import nvflare.client as flare\nfrom nvflare.client import send as push\n",
        ),
        ("flare.send(", "push("),
    ],
    "model.load_state_dict(..., strict=True)": [("strict=True", "strict=False")],
    "compute_model_diff(...)": [("compute_model_diff(", "model_delta(")],
    "FLModel(..., params_type=ParamsType.DIFF, ...)": [("                params_type=ParamsType.DIFF,\n", "")],
    'meta includes "NUM_STEPS_CURRENT_ROUND"': [
        (
            "from nvflare.app_common.abstract.fl_model import FLModel, ParamsType",
            "from nvflare.app_common.abstract.fl_model import FLMetaKey, FLModel, ParamsType",
        ),
        ('"NUM_STEPS_CURRENT_ROUND": steps', "FLMetaKey.NUM_STEPS_CURRENT_ROUND: steps"),
    ],
    "flare.is_evaluate() branch sends FLModel with metrics": [
        (EVAL_SEND, "flare.send(FLModel(params=as_tensors(input_model.params)))")
    ],
    "while flare.is_running() task loop": [("while flare.is_running():", "while True:")],
    "ParamsType.FULL only in the flare.is_submit_model() branch": [
        (
            "        if input_model is None:\n            break\n",
            "        if input_model is None:\n            " + SUBMIT_SEND + "\n            break\n",
        )
    ],
}


def test_client_mutations_cover_every_check():
    assert set(CLIENT_MUTATIONS) == {label for label, _ in CLIENT_CHECKS}
    assert len(CLIENT_CHECKS) == 10


@pytest.mark.parametrize("label", list(CLIENT_MUTATIONS))
def test_client_contract_each_check(task, cands, results, label):
    make_candidate(cands, "client-break", edits={"client.py": CLIENT_MUTATIONS[label]})
    record = validate_candidate(cands, "client-break", task, results)
    assert_invalid(record, results, "client-break", "client-contract", "client.py")
    assert label in record["reason"]
    assert record["detail"] == f"missing or broken: {label}"


def test_full_instead_of_diff_breaks_two_checks(task, cands, results):
    edits = {
        "client.py": [
            ("params=compute_model_diff(model, global_state)", "params=model.cpu().state_dict()"),
            ("params_type=ParamsType.DIFF", "params_type=ParamsType.FULL"),
        ]
    }
    make_candidate(cands, "full", edits=edits)
    record = validate_candidate(cands, "full", task, results)
    assert_invalid(record, results, "full", "client-contract", "client.py")
    assert "FLModel(..., params_type=ParamsType.DIFF, ...)" in record["detail"]
    assert "ParamsType.FULL only in the flare.is_submit_model() branch" in record["detail"]


def test_full_in_negated_submit_branch_is_refused(task, cands, results):
    edits = {"client.py": [("if flare.is_submit_model():", "if not flare.is_submit_model():")]}
    make_candidate(cands, "not-submit", edits=edits)
    record = validate_candidate(cands, "not-submit", task, results)
    assert record["state"] == "invalid"
    assert "ParamsType.FULL only in the flare.is_submit_model() branch" in record["reason"]


def test_client_missing_from_tree_cannot_happen_without_delete(task, cands, results):
    """client.py cannot be removed: a deleting patch is refused before the client check."""
    make_candidate(cands, "no-client", patch_text="--- a/client.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n")
    record = validate_candidate(cands, "no-client", task, results)
    assert_invalid(record, results, "no-client", "no-delete", PATCH_NAME)


ASSIGN_AT = "    args = parse_args()\n"


@pytest.mark.parametrize(
    ("replacements", "needle"),
    [
        pytest.param(
            [("num_rounds=args.num_rounds,", "num_rounds=30,")],
            "num_rounds=30 is hard-coded in FedAvgRecipe()",
            id="literal-num-rounds",
        ),
        pytest.param(
            [(ASSIGN_AT, ASSIGN_AT + "    args.num_rounds = 30\n")],
            "assigns the budget field num_rounds",
            id="assign",
        ),
        pytest.param(
            [(ASSIGN_AT, ASSIGN_AT + "    args.num_rounds += 1\n")],
            "assigns the budget field num_rounds",
            id="augassign",
        ),
        pytest.param(
            [(ASSIGN_AT, ASSIGN_AT + "    batch_size: int = 8\n")],
            "assigns the budget field batch_size",
            id="annassign",
        ),
        pytest.param(
            [("min_clients=args.n_clients,", "min_clients=2,")],
            "min_clients=2 is hard-coded in FedAvgRecipe()",
            id="literal-min-clients",
        ),
        pytest.param(
            [("SimEnv(num_clients=args.n_clients)", "SimEnv(num_clients=2)")],
            "num_clients=2 is hard-coded in SimEnv()",
            id="literal-num-clients",
        ),
    ],
)
def test_fixed_budget_in_job(task, cands, results, replacements, needle):
    make_candidate(cands, "budget", edits={"job.py": replacements})
    record = validate_candidate(cands, "budget", task, results)
    assert_invalid(record, results, "budget", "fixed-budget", "job.py")
    assert needle in record["detail"]


def test_validation_result_is_replaced_on_revalidation(task, cands, results):
    """A candidate that was ok and is then broken leaves no stale tree behind."""
    folder = make_candidate(cands, "flip", edits={"model.py": [("seed: int = 0", "seed: int = 1")]})
    assert validate_candidate(cands, "flip", task, results)["state"] == "ok"
    (folder / "README.md").write_text("oops\n", encoding="utf-8")
    record = validate_candidate(cands, "flip", task, results)
    assert_invalid(record, results, "flip", "candidate-layout", "README.md")


def test_pycache_in_task_sources_does_not_break_validation(tmp_path, cands, results):
    task_dir = tmp_path / "heart_disease"
    task_dir.mkdir()
    shutil.copy2(TASK_DIR / "profile.yaml", task_dir / "profile.yaml")
    shutil.copytree(BASE_SRC, task_dir / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (task_dir / "src" / "__pycache__").mkdir()
    (task_dir / "src" / "__pycache__" / "model.cpython-311.pyc").write_bytes(b"\x00\xffnot text")
    local_task = Task.load(task_dir)
    make_candidate(cands, "base")
    record = validate_candidate(cands, "base", local_task, results)
    assert record["state"] == "ok"
    assert record["changed_files"] == []


# --- candidate code may not carry data ------------------------------------------------------------


@pytest.mark.parametrize(
    "content, what",
    [
        ("TABLE = [" + ", ".join(f"{k / 7:.4f}" for k in range(200)) + "]\n", "numeric literals"),
        ("LABELS = '" + "01" * 5000 + "'\n", "characters of string and bytes literals"),
        ("KEY = 0x" + "f" * 8000 + "\n", "characters of string and bytes literals"),
        ("ROWS = bytes.fromhex('" + "ab" * 4200 + "')\n", "characters of string and bytes literals"),
    ],
    ids=["numbers", "string", "long-integer", "bytes"],
)
def test_a_source_that_carries_data_is_refused(task, cands, results, content, what):
    make_candidate(cands, "table", edits={"fl_extra_table.py": [("", content)]})
    record = validate_candidate(cands, "table", task, results)
    assert_invalid(record, results, "table", "literal-limit", "fl_extra_table.py")
    assert what in record["detail"]


def test_the_task_sources_are_well_within_the_literal_limits():
    for source in sorted((REPO / "flcampaign" / "tasks").glob("*/src/*.py")):
        numbers, characters = literal_load(ast.parse(source.read_text()))
        assert numbers <= MAX_LITERAL_NUMBERS / 2 and characters <= MAX_LITERAL_CHARACTERS / 4, source


def test_a_folder_whose_patches_are_still_being_written_is_not_a_candidate(task, cands, results):
    """candidate.yaml lists each patch with its sha256: a missing, unlisted or half-written patch is refused."""
    edits = {"client.py": [("    flare.init()\n", "    flare.init()\n    # change\n")]}
    folder = make_candidate(cands, "half-written", edits=edits)
    patch = folder / "patches" / "001-change.patch"
    complete = patch.read_text()
    patch.write_text(complete[: len(complete) // 2])  # the writer is not done yet
    record = validate_candidate(cands, "half-written", task, results)
    assert_invalid(record, results, "half-written", "patch-manifest", "patches/001-change.patch")
    assert "sha256 differs from candidate.yaml" in record["reason"]
    patch.unlink()  # listed, not there yet: not a candidate without changes
    record = validate_candidate(cands, "half-written", task, results)
    assert_invalid(record, results, "half-written", "patch-manifest", "patches/001-change.patch")
    patch.write_text(complete)
    assert validate_candidate(cands, "half-written", task, results)["state"] == "ok"
    (folder / "patches" / "002-extra.patch").write_text(complete)  # added after candidate.yaml was written
    record = validate_candidate(cands, "half-written", task, results)
    assert_invalid(record, results, "half-written", "patch-manifest", "patches/002-extra.patch")
    assert "not listed in candidate.yaml" in record["reason"]
