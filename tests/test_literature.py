"""Literature events: checked, numbered and stamped by the tool, shown as unscored ledger rows."""

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from test_ledger import add_candidate, t

from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.state import campaign_state
from flcampaign.contract import literature
from flcampaign.contract.literature import LiteratureError, add, load_events, proposal_total
from flcampaign.evidence.ledger import build_rows
from flcampaign.task import Task


def review(**changes) -> dict:
    """A complete review as an agent would fill the template."""
    doc = {
        "title": "Server-side momentum and proximal terms",
        "trigger": "8 scored candidates without a gain since 0002-fedavgm",
        "queries": [
            {"query": "federated server momentum non-iid", "rationale": "FedAvgM helped"},
            {"query": "proximal term client drift", "rationale": "small sites drift"},
            {"query": "adaptive federated optimisation", "rationale": "FedAdam was close"},
        ],
        "sources": [
            {
                "ref": "hsu2019",
                "title": "Measuring the effects of non-identical data",
                "year": 2019,
                "decision": "keep",
            },
            {"ref": "li2020", "title": "Federated optimization in heterogeneous networks", "decision": "keep"},
            {"ref": "other2021", "title": "An off-topic paper", "decision": "reject", "note": "needs new deps"},
        ],
        "challenges": [
            {"id": f"C{i}", "challenge": "drift", "evidence": "paper", "symptom": "flat", "surface": "client.py"}
            for i in (1, 2, 3)
        ],
        "proposals": [
            {
                "id": f"P{i}",
                "mechanism": f"mechanism {i}",
                "sources": ["hsu2019"] if i != 2 else ["li2020"],
                "change": "aggregators.py",
                "expected_effect": f"effect {i}",
                "falsifier": "no gain over 5 seeds",
                "contract_risk": "low",
                "scores": {
                    "expected_gain": i,
                    "contract_safety": 5,
                    "simplicity": 3,
                    "evidence": 3,
                    "novelty": 2,
                    "runtime_cost": 1,
                },
            }
            for i in (1, 2, 3)
        ],
    }
    doc.update(changes)
    return doc


def write(tmp_path: Path, doc, name: str = "review.yaml") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_add_numbers_stamps_and_scores(tmp_path):
    folder = tmp_path / "literature"
    moment = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    event_id, path = add(write(tmp_path, review()), folder, now=moment)
    assert (event_id, path) == ("lit-0001", folder / "lit-0001.yaml")
    event = yaml.safe_load(path.read_text())
    assert event["id"] == "lit-0001" and event["created"] == "2026-11-24T12:00:00.000+00:00"
    assert [p["total"] for p in event["proposals"]] == [19, 21, 23]  # 2*gain + 2*5 + 3 + 3 + 2 - 1
    assert add(write(tmp_path, review()), folder)[0] == "lit-0002"
    assert [p["id"] for p in literature.ranked_proposals(event)] == ["P3", "P2", "P1"]
    assert [e["id"] for e in load_events(folder)] == ["lit-0001", "lit-0002"]
    assert sorted(p.name for p in folder.iterdir()) == ["lit-0001.yaml", "lit-0002.yaml"]


def test_proposal_total_is_the_reference_formula():
    scores = {"expected_gain": 4, "contract_safety": 3, "simplicity": 5, "evidence": 2, "novelty": 1}
    assert proposal_total(scores | {"runtime_cost": 5}) == 8 + 6 + 5 + 2 + 1 - 5


def test_concurrent_adds_get_distinct_ids(tmp_path):
    folder, source = tmp_path / "literature", write(tmp_path, review())
    ids: list[str] = []
    threads = [threading.Thread(target=lambda: ids.append(add(source, folder)[0])) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids) == [f"lit-{i:04d}" for i in range(1, 9)]
    assert not list(folder.glob(".*"))


@pytest.mark.parametrize(
    ("doc", "rule", "detail"),
    [
        (review(challenges=review()["challenges"][:2]), "literature-schema", "challenges"),
        (review(proposals=review()["proposals"][:2]), "literature-schema", "proposals"),
        (review(extra="x"), "literature-schema", "extra"),
        (review(id="lit-0009"), "literature-assigned", "assigned by the tool"),
        (review(queries=[{"query": q, "rationale": "r"} for q in ("same", "Same ")]), "literature-queries", "distinct"),
        ("title: [unclosed\n", "literature-yaml", "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_reviews_name_the_file_and_rule(tmp_path, doc, rule, detail):
    with pytest.raises(LiteratureError) as error:
        add(write(tmp_path, doc, "bad-review.yaml"), tmp_path / "literature")
    assert error.value.rule == rule and detail in str(error.value)
    assert str(error.value).startswith("literature bad-review.yaml: rule ")
    assert not (tmp_path / "literature").exists() or not list((tmp_path / "literature").iterdir())


def test_cross_references_are_checked(tmp_path):
    doc = review()
    doc["proposals"][0]["sources"] = ["nobody2030"]
    with pytest.raises(LiteratureError, match="P1 cites unknown refs"):
        add(write(tmp_path, doc), tmp_path / "literature")
    doc = review()
    doc["challenges"][2]["id"] = "C1"
    with pytest.raises(LiteratureError, match="challenges repeat an id"):
        add(write(tmp_path, doc), tmp_path / "literature")


def test_events_become_unscored_ledger_rows_in_campaign_order(tmp_path):
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    results = tmp_path / "results"
    add_candidate(results, "base", t(0), 0.70, baseline=True)
    add_candidate(results, "after", t(5), 0.75)
    add_candidate(results, "0-same-instant", t(2), 0.60)
    folder = tmp_path / "literature"
    add(write(tmp_path, review()), folder, now=datetime.fromisoformat(t(2)).replace(tzinfo=UTC))
    (folder / "lit-0002.yaml").write_text("id: lit-0002\ntitle: hand-written\n")
    rows = build_rows(task, results, ["base", "after", "0-same-instant"], 0, 0.0, load_events(folder))
    assert [(r["candidate"], r["status"]) for r in rows] == [
        ("base", "baseline"),
        ("lit-0001", "literature"),  # at the same instant, the review comes first
        ("0-same-instant", "discard"),
        ("after", "keep"),
        ("lit-0002", "invalid"),  # no created stamp: ordered last, with its reason
    ]
    rows = [row for row in rows if row["candidate"] != "0-same-instant"]
    lit = rows[1]
    assert lit["score"] is None and lit["kind"] == "literature" and lit["order"] == 2
    assert lit["sources"] == "hsu2019 li2020" and lit["best_so_far"] == 0.7
    assert lit["artifacts"] == "literature/lit-0001.yaml"
    assert "rule literature-schema" in rows[3]["failure_reason"]
    state = campaign_state(task, rows, GuardConfig())
    assert state["counts"]["literature"] == 1 and state["counts"]["invalid"] == 1
    assert state["next_action"] == "develop_literature_batch"


def test_bundled_events_are_valid_and_linked():
    events = load_events(REPO / "literature")
    assert events and all("error" not in event for event in events)
    known = {event["id"] for event in events}
    links = {
        folder.name: yaml.safe_load((folder / "candidate.yaml").read_text()).get("literature_event")
        for folder in (REPO / "candidates").iterdir()
    }
    linked = {cid: event for cid, event in links.items() if event}
    assert linked and set(linked.values()) <= known
