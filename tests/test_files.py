"""Files the workflow writes: atomic, and readable by whoever the umask lets read them."""

import os
import stat
from pathlib import Path

import pytest

from flcampaign.files import atomic_write_text, current_umask, temp_file_in, write_json


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
