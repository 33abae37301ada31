"""Unit tests of bench/baseline.py's static part: the baseline candidate is written and validated.

Nothing here simulates (run_seed is exercised by the bench/baseline_*.py scripts).
"""

import pytest
from baseline import CID, header, prepare_splits, set_up
from conftest import REPO

from flcampaign.contract.candidate import load
from flcampaign.execution.sandbox import choose
from flcampaign.task import Task


def test_set_up_writes_and_validates_the_heart_baseline(heart_task, tmp_path):
    validation = set_up(heart_task, tmp_path)
    assert validation["state"] == "ok", validation["reason"]
    assert validation["candidate"] == CID and validation["is_baseline"]
    assert validation["changed_files"] == []
    assert load(tmp_path / "candidates" / CID).is_baseline
    tree = tmp_path / "results" / "candidates" / CID / "src"
    assert (tree / "client.py").read_bytes() == (heart_task.sources / "client.py").read_bytes()


def test_set_up_keeps_a_given_id_and_title(heart_task, tmp_path):
    validation = set_up(heart_task, tmp_path, "0000-baseline", "Baseline, as shipped: unchanged", "reference")
    assert validation["candidate"] == "0000-baseline"
    assert validation["meta"]["title"] == "Baseline, as shipped: unchanged"
    assert validation["meta"]["created"] == "2026-11-24T00:00:00+00:00"


def test_set_up_names_the_rule_when_the_task_sources_break_the_contract(tmp_path):
    Task.load(REPO / "flcampaign" / "tasks" / "heart_disease").copy_to(tmp_path / "heart_disease")
    client = tmp_path / "heart_disease" / "src" / "client.py"
    client.write_text(client.read_text() + "\nimport subprocess\n\nsubprocess.run(['true'])\n")
    task = Task.load(tmp_path / "heart_disease")
    with pytest.raises(ValueError, match=r"baseline is invalid: .*client\.py.*import-allowlist"):
        set_up(task, tmp_path / "root")
    assert (tmp_path / "root" / "results" / "candidates" / CID / "validation.json").is_file()


def test_prepare_splits_counts_rows_and_reuses_prepared_splits(heart_task, tmp_path):
    rows, _ = prepare_splits(heart_task, tmp_path)
    assert set(rows) == {"train", "search_val", "heldout"} and rows["heldout"] == 254
    (tmp_path / "splits" / "train" / "site-1.npz").unlink()
    assert prepare_splits(heart_task, tmp_path, reuse=True)[0] == rows
    assert not (tmp_path / "splits" / "train" / "site-1.npz").exists()


def test_header_notes_a_shortened_budget(repo):
    short = Task.load(repo / "flcampaign" / "tasks" / "heart_disease", num_rounds=1)
    text = header(short, choose("off"), "Heart", "below the budget")
    assert text.startswith("Heart baseline: 4 clients, 1 rounds, batch 4, knobs {")
    assert text.splitlines()[1].endswith("(--rounds): below the budget")
    assert "NOTE" not in header(Task.load(repo / "flcampaign" / "tasks" / "heart_disease"), choose("off"), "Heart", "x")
