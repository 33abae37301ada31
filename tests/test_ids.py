"""The one id grammar: candidates cannot take a literature event's, the parent alias's or each other's ids."""

import pytest

from flcampaign.contract.candidate import discover, refused_folders
from flcampaign.contract.ids import case_duplicates, id_problem, refused_ids, refused_row_id


@pytest.mark.parametrize("name", ["0001-fedprox", "A", "x_y-Z9", "a" * 64])
def test_ids_that_follow_the_grammar(name):
    assert id_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a.b", "ASCII letters"),
        ("café", "ASCII letters"),
        ("-lead", "starting with"),
        ("_ctl-001", "starting with"),  # the workflow's own prefix
        ("a" * 65, "1 to 64"),
        ("", "1 to 64"),
        ("baseline", "parent alias"),
        ("Baseline", "parent alias"),
        ("lit-0001", "literature events"),
        ("LIT-0002-x", "literature events"),
    ],
)
def test_ids_refused_with_the_reason(name, why):
    problem = id_problem(name)
    assert problem is not None and why in problem


def test_ids_are_unique_whatever_the_case():
    assert case_duplicates(["0001-A", "0001-a", "0002", "0001-A-b"]) == {"0001-a": "0001-A", "0001-A": "0001-a"}
    refused = refused_ids(["0001-A", "0001-a", "lit-0001", "ok", "a.b"])
    assert sorted(refused) == ["0001-A", "0001-a", "a.b", "lit-0001"]  # neither twin is preferred
    assert "differs from 0001-A only by case" in refused["0001-a"]


def test_a_refused_folder_has_a_ledger_name_no_id_can_take():
    assert refused_row_id("lit-0001") == "candidates/lit-0001"
    assert refused_row_id("tab\tname\n") == "candidates/tab\\tname\\n"  # one ledger cell, one line
    assert refused_row_id("caf\u00e9") == "candidates/caf\\xe9"
    assert refused_row_id("bad\udcffbyte") == "candidates/bad\\udcffbyte"  # a non-UTF-8 byte in the name
    assert len(refused_row_id("x" * 10_000)) == len("candidates/") + 200
    assert all(id_problem(refused_row_id(name)) for name in ("ok", "lit-0001", "a.b"))


def test_discover_leaves_refused_folders_to_their_own_rows(tmp_path):
    for name in ("0001-ok", "0002-Twin", "0002-twin", "baseline", "lit-0001", "a.b", "no-metadata", ".hidden"):
        (tmp_path / name).mkdir()
        if name != "no-metadata":
            (tmp_path / name / "candidate.yaml").write_text("title: x\n")
    assert discover(tmp_path) == ["0001-ok"]
    refused = refused_folders(tmp_path)
    assert sorted(refused) == [
        "candidates/0002-Twin", "candidates/0002-twin", "candidates/a.b", "candidates/baseline", "candidates/lit-0001"
    ]  # fmt: skip
    assert all(f"candidate folder {row}: rule candidate-id: " in refused[row] for row in refused)
