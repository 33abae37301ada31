"""Files the workflow writes: atomic, and readable by whoever the umask lets read them."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from flcampaign.files import (
    UnreadableYaml,
    atomic_write_text,
    current_umask,
    read_bounded_yaml,
    temp_file_in,
    write_json,
)


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_honour_the_umask(tmp_path, umask_027):
    assert current_umask() == 0o027
    atomic_write_text(tmp_path / "results.tsv", "a\tb\n")
    write_json(tmp_path / "state.json", {"a": 1})
    assert mode(tmp_path / "results.tsv") == 0o640  # the group reads the ledger; others do not
    assert mode(tmp_path / "state.json") == 0o640
    assert (tmp_path / "results.tsv").read_text() == "a\tb\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.tsv", "state.json"]  # no temporary left


def test_temporary_files_take_the_mode_a_plain_open_gives(tmp_path, umask_027):
    fd, name = temp_file_in(tmp_path, prefix=".x-", suffix=".tmp")
    os.close(fd)
    with open(tmp_path / "plain", "w"):
        pass
    assert mode(Path(name)) == mode(tmp_path / "plain") == 0o640


HOSTILE_YAML = {
    "nested": "parent: baseline\nx: " + "[" * 100_000 + "]" * 100_000 + "\n",  # the C composer's recursion
    "aliases": "parent: baseline\na0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)),  # 9^9 values once expanded
    "many values": "parent: baseline\nx: [" + ", ".join(["1"] * 30_000) + "]\n",
    "not yaml": "parent: baseline\n  title: [\n",
}


@pytest.mark.parametrize("name", HOSTILE_YAML)
def test_bounded_yaml_refuses_before_building(tmp_path, name):
    path = tmp_path / "candidate.yaml"
    path.write_text(HOSTILE_YAML[name])
    code = (
        "import sys; from flcampaign.files import read_bounded_yaml, UnreadableYaml\n"
        "try: read_bounded_yaml(sys.argv[1], 1 << 20)\n"
        "except UnreadableYaml as error: print('refused:', error)"
    )  # a child process: a crash of the reader must show as a failed test, not end the suite
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-500:]
    expected = {"nested": "nested deeper than 32 levels", "aliases": "anchors and aliases", "many values": "more than",
                "not yaml": "not valid YAML"}[name]  # fmt: skip
    assert result.stdout.startswith("refused:") and expected in result.stdout


def test_bounded_yaml_checks_size_and_encoding_and_reads_what_is_fine(tmp_path):
    path = tmp_path / "candidate.yaml"
    path.write_bytes(b"parent: baseline\ntitle: caf\xe9\n")
    with pytest.raises(UnreadableYaml, match="not UTF-8 text: invalid continuation byte at byte 27"):
        read_bounded_yaml(path, 1024)
    path.write_text("title: " + "x" * 2000 + "\n")
    with pytest.raises(UnreadableYaml, match=r"larger than 1 KiB \(2008 bytes\)"):
        read_bounded_yaml(path, 1024)
    path.write_text("parent: baseline\ncreated: 2026-12-06T00:00:00Z\nliterature: [{ref: a, url: b}]\n")
    assert read_bounded_yaml(path, 1024) == {
        "parent": "baseline",
        "created": "2026-12-06T00:00:00Z",  # timestamps stay text, as read_yaml keeps them
        "literature": [{"ref": "a", "url": "b"}],
    }
