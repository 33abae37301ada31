"""The one id grammar: candidates cannot take a literature event's, the parent alias's or each other's ids."""

import pytest

from flcampaign.contract.ids import case_duplicates, id_problem, refused_ids


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
    assert case_duplicates(["0001-A", "0001-a", "0002", "0001-A-b"]) == {"0001-a": "0001-A"}
    refused = refused_ids(["0001-A", "0001-a", "lit-0001", "ok", "a.b"])
    assert sorted(refused) == ["0001-a", "a.b", "lit-0001"]
    assert "but for case" in refused["0001-a"]
