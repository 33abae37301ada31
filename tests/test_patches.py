"""Unit tests of flcampaign.contract.patches: strict unified-diff parsing, confinement and exact application."""

import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO

from flcampaign.contract import patches
from flcampaign.contract.patches import MAX_PATCH_BYTES, PatchError
from flcampaign.files import sha256_tree
from flcampaign.task import Task

BASE_SRC = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease").sources


def copy_sources(dest: Path) -> Path:
    shutil.copytree(BASE_SRC, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def refused(text: str) -> PatchError:
    with pytest.raises(PatchError) as info:
        patches.parse(text)
    return info.value


def hunk(path_old: str, path_new: str, body: str = "@@ -1 +1 @@\n-a\n+b\n") -> str:
    return f"--- {path_old}\n+++ {path_new}\n{body}"


# ---------------------------------------------------------------------------------------------
# round trips


def test_round_trip_reproduces_edited_tree(tmp_path):
    old = copy_sources(tmp_path / "old")
    new = copy_sources(tmp_path / "new")
    replace_once(new / "client.py", "    flare.init()\n", "    flare.init()\n    # federated set-up done\n")
    replace_once(new / "model.py", "nn.Linear(in_features, 1)", "nn.Linear(in_features, 1, bias=True)")
    (new / "fl_extra_helper.py").write_text('"""Helper."""\n\nSCALE = 2\n', encoding="utf-8")
    (new / "fl_extra_no_newline.py").write_text("A = 1\nB = 2", encoding="utf-8")

    diff = patches.make(old, new)
    parsed = patches.parse(diff)

    assert {p.path for p in parsed} == {"client.py", "model.py", "fl_extra_helper.py", "fl_extra_no_newline.py"}
    assert {p.path for p in parsed if p.creates} == {"fl_extra_helper.py", "fl_extra_no_newline.py"}
    assert not any(p.deletes for p in parsed)
    assert "\\ No newline at end of file" in diff

    changed = patches.apply(parsed, old)

    assert sorted(changed) == ["client.py", "fl_extra_helper.py", "fl_extra_no_newline.py", "model.py"]
    assert sha256_tree(old) == sha256_tree(new)
    assert (old / "fl_extra_no_newline.py").read_bytes() == b"A = 1\nB = 2"
    assert (old / "client.py").read_text(encoding="utf-8") == (new / "client.py").read_text(encoding="utf-8")


def test_round_trip_edit_far_from_missing_final_newline(tmp_path):
    """A file without trailing newline, edited where the hunk does not reach the last line."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    lines = [f"line{i}\n" for i in range(20)]
    (old / "f.py").write_text("".join(lines) + "last", encoding="utf-8")
    lines[1] = "LINE1\n"
    (new / "f.py").write_text("".join(lines) + "last", encoding="utf-8")

    patches.apply(patches.parse(patches.make(old, new)), old)

    assert (old / "f.py").read_bytes() == (new / "f.py").read_bytes()


def test_round_trip_adds_final_newline_without_context(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (old / "f.py").write_text("x = 1", encoding="utf-8")
    (new / "f.py").write_text("x = 2\n", encoding="utf-8")

    patches.apply(patches.parse(patches.make(old, new)), old)

    assert (old / "f.py").read_bytes() == b"x = 2\n"


def test_round_trip_removes_final_newline(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (old / "f.py").write_text("a = 1\nb = 2\n", encoding="utf-8")
    (new / "f.py").write_text("a = 1\nb = 2", encoding="utf-8")

    patches.apply(patches.parse(patches.make(old, new)), old)

    assert (old / "f.py").read_bytes() == b"a = 1\nb = 2"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("a\nb\nc", "a\nB\nc", id="context-last-line-without-newline"),
        pytest.param("a\nb", "a\nB", id="change-last-line-both-without-newline"),
        pytest.param("a\nb", "a\nb\nc\n", id="append-and-add-final-newline"),
    ],
)
def test_round_trip_edit_near_missing_final_newline(tmp_path, before, after):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (old / "f.py").write_text(before, encoding="utf-8")
    (new / "f.py").write_text(after, encoding="utf-8")

    patches.apply(patches.parse(patches.make(old, new)), old)

    assert (old / "f.py").read_text(encoding="utf-8") == after


def test_make_of_identical_trees_is_empty(tmp_path):
    assert patches.make(BASE_SRC, copy_sources(tmp_path / "copy")) == ""


def test_make_refuses_removed_files(tmp_path):
    new = copy_sources(tmp_path / "new")
    (new / "model.py").unlink()
    with pytest.raises(PatchError) as info:
        patches.make(BASE_SRC, new)
    assert info.value.rule == "no-delete"
    assert "model.py" in info.value.detail


def test_parse_strips_a_b_prefixes_and_timestamps():
    parsed = patches.parse(
        "--- a/client.py\t2026-01-01 00:00\n+++ b/client.py\t2026-01-01 00:01\n@@ -1 +1 @@\n-a\n+b\n"
    )
    assert [(p.path, p.creates, p.deletes) for p in parsed] == [("client.py", False, False)]
    assert parsed[0].hunks[0].old_lines == ["a\n"] and parsed[0].hunks[0].new_lines == ["b\n"]


def test_parse_accepts_git_headers_for_regular_files():
    text = (
        "diff --git a/fl_extra_x.py b/fl_extra_x.py\n"
        "new file mode 100644\n"
        "index 0000000..e69de29\n"
        "--- /dev/null\n"
        "+++ b/fl_extra_x.py\n"
        "@@ -0,0 +1,2 @@\n"
        "+A = 1\n"
        "+B = 2\n"
    )
    (parsed,) = patches.parse(text)
    assert parsed.path == "fl_extra_x.py" and parsed.creates and not parsed.deletes


# ---------------------------------------------------------------------------------------------
# refusals at parse time


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("a/../x.py", "b/../x.py", id="parent-reference"),
        pytest.param("a/sub/../../x.py", "b/sub/../../x.py", id="nested-parent-reference"),
        pytest.param("/dev/null", "b/../x.py", id="create-outside"),
        pytest.param("/etc/passwd", "/etc/passwd", id="absolute"),
        pytest.param("a//etc/passwd", "b//etc/passwd", id="absolute-after-prefix"),
        pytest.param("a/C:/x.py", "b/C:/x.py", id="drive-letter"),
        pytest.param("a/sub\\x.py", "b/sub\\x.py", id="backslash"),
    ],
)
def test_refuses_paths_outside_the_root(old, new):
    error = refused(hunk(old, new))
    assert error.rule == "path-confinement"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("fl_extra_\u202egnp.py", id="bidi-override"),
        pytest.param("fl_extr\u0430.py", id="cyrillic-a"),
        pytest.param("fl extra.py", id="space"),
        pytest.param("-rf.py", id="leading-dash"),
        pytest.param(".hidden.py", id="hidden"),
    ],
)
def test_created_files_have_portable_names(name):
    error = refused(hunk("/dev/null", f"b/{name}"))
    assert error.rule == "file-name" and repr(name) in error.detail


def test_check_relative_path_normalises_plain_paths():
    assert patches.check_relative_path("sub/./x.py") == "sub/x.py"
    with pytest.raises(PatchError) as info:
        patches.check_relative_path("")
    assert info.value.rule == "path-confinement"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("diff --git a/x.bin b/x.bin\nindex 1..2\nGIT binary patch\nliteral 4\nzcmV\n", id="git-binary"),
        pytest.param("diff --git a/x.bin b/x.bin\nBinary files a/x.bin and b/x.bin differ\n", id="binary-files-differ"),
    ],
)
def test_refuses_binary_patches(text):
    assert refused(text).rule == "no-binary"


def test_refuses_symlink_creation():
    text = (
        "diff --git a/fl_extra_link.py b/fl_extra_link.py\n"
        "new file mode 120000\n"
        "--- /dev/null\n"
        "+++ b/fl_extra_link.py\n"
        "@@ -0,0 +1 @@\n"
        "+/etc/passwd\n"
        "\\ No newline at end of file\n"
    )
    error = refused(text)
    assert error.rule == "no-mode-change"
    assert "120000" in error.detail


def test_refuses_mode_change():
    text = "diff --git a/job.py b/job.py\nold mode 100644\nnew mode 100755\n"
    assert refused(text).rule == "no-mode-change"


def test_refuses_rename_by_git_header():
    text = (
        "diff --git a/model.py b/fl_extra_model.py\n"
        "similarity index 100%\n"
        "rename from model.py\n"
        "rename to fl_extra_model.py\n"
    )
    assert refused(text).rule == "no-mode-change"


def test_refuses_rename_by_differing_paths():
    error = refused(hunk("a/model.py", "b/fl_extra_model.py"))
    assert error.rule == "no-mode-change"
    assert "model.py -> fl_extra_model.py" in error.detail


def test_refuses_file_deletion():
    error = refused("--- a/model.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n")
    assert error.rule == "no-delete"
    assert "model.py" in error.detail


def test_refuses_oversize_patch():
    body = "".join(f"+x{i} = {i}\n" for i in range(30000))
    text = f"--- /dev/null\n+++ b/fl_extra_big.py\n@@ -0,0 +1,30000 @@\n{body}"
    assert len(text.encode()) > MAX_PATCH_BYTES
    assert refused(text).rule == "patch-size"


def test_accepts_patch_just_below_the_size_limit():
    header = "--- /dev/null\n+++ b/fl_extra_big.py\n"
    line = "+" + "x" * 99 + "\n"
    count = (MAX_PATCH_BYTES - len(header) - 40) // len(line)
    text = f"{header}@@ -0,0 +1,{count} @@\n" + line * count
    assert len(text.encode()) <= MAX_PATCH_BYTES
    (parsed,) = patches.parse(text)
    assert len(parsed.hunks[0].new_lines) == count


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("just some prose\nwithout any diff\n", id="prose"),
        pytest.param("@@ -1 +1 @@\n-a\n+b\n", id="hunk-without-header"),
        pytest.param("--- a/client.py\n@@ -1 +1 @@\n-a\n+b\n", id="old-header-only"),
    ],
)
def test_refuses_text_without_file_headers(text):
    assert refused(text).rule == "patch-format"


def test_refuses_truncated_hunk():
    error = refused("--- a/client.py\n+++ b/client.py\n@@ -1,3 +1,3 @@\n a\n-b\n")
    assert error.rule == "patch-format"
    assert "truncated" in error.detail


def test_refuses_garbage_inside_hunk():
    error = refused("--- a/client.py\n+++ b/client.py\n@@ -1,2 +1,2 @@\n a\n?b\n")
    assert error.rule == "patch-format"


# ---------------------------------------------------------------------------------------------
# refusals at apply time


def test_apply_refuses_context_that_does_not_match(tmp_path):
    root = copy_sources(tmp_path / "src")
    before = sha256_tree(root)
    parsed = patches.parse("--- a/model.py\n+++ b/model.py\n@@ -1,1 +1,1 @@\n-not the first line\n+x = 1\n")
    with pytest.raises(PatchError) as info:
        patches.apply(parsed, root)
    assert info.value.rule == "patch-apply"
    assert "model.py" in info.value.detail
    assert sha256_tree(root) == before


def test_apply_refuses_hunk_at_wrong_offset(tmp_path):
    """No fuzz: a hunk whose context exists, but at another line, is refused."""
    root = copy_sources(tmp_path / "src")
    first = (root / "model.py").read_text(encoding="utf-8").splitlines(keepends=True)[0]
    parsed = patches.parse(f"--- a/model.py\n+++ b/model.py\n@@ -2,1 +2,1 @@\n-{first}+# moved\n")
    with pytest.raises(PatchError) as info:
        patches.apply(parsed, root)
    assert info.value.rule == "patch-apply"


def test_apply_refuses_creating_an_existing_file(tmp_path):
    root = copy_sources(tmp_path / "src")
    original = (root / "model.py").read_bytes()
    parsed = patches.parse("--- /dev/null\n+++ b/model.py\n@@ -0,0 +1 @@\n+x = 1\n")
    with pytest.raises(PatchError) as info:
        patches.apply(parsed, root)
    assert info.value.rule == "patch-apply"
    assert "already exists" in info.value.detail
    assert (root / "model.py").read_bytes() == original


def test_apply_refuses_editing_a_missing_file(tmp_path):
    root = copy_sources(tmp_path / "src")
    parsed = patches.parse("--- a/missing.py\n+++ b/missing.py\n@@ -1 +1 @@\n-a\n+b\n")
    with pytest.raises(PatchError) as info:
        patches.apply(parsed, root)
    assert info.value.rule == "patch-apply"
    assert not (root / "missing.py").exists()


def test_apply_refuses_writing_through_a_symlinked_directory(tmp_path):
    root = copy_sources(tmp_path / "src")
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "sub")
    parsed = patches.parse("--- /dev/null\n+++ b/sub/fl_extra_x.py\n@@ -0,0 +1 @@\n+x = 1\n")
    with pytest.raises(PatchError) as info:
        patches.apply(parsed, root)
    assert info.value.rule == "path-confinement"
    assert list(outside.iterdir()) == []


def test_apply_refuses_editing_a_symlinked_file(tmp_path):
    root = copy_sources(tmp_path / "src")
    outside = tmp_path / "outside.py"
    outside.write_text("a\n", encoding="utf-8")
    os.symlink(outside, root / "linked.py")
    parsed = patches.parse("--- a/linked.py\n+++ b/linked.py\n@@ -1 +1 @@\n-a\n+b\n")
    with pytest.raises(PatchError) as info:
        patches.apply(parsed, root)
    assert info.value.rule == "path-confinement"
    assert outside.read_text(encoding="utf-8") == "a\n"


def test_apply_creates_nested_file_in_plain_subdirectory(tmp_path):
    root = copy_sources(tmp_path / "src")
    parsed = patches.parse("--- /dev/null\n+++ b/pkg/fl_extra_x.py\n@@ -0,0 +1 @@\n+x = 1\n")
    assert patches.apply(parsed, root) == ["pkg/fl_extra_x.py"]
    assert (root / "pkg" / "fl_extra_x.py").read_text(encoding="utf-8") == "x = 1\n"
