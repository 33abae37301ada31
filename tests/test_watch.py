"""Watch mode's loop with a scripted workflow runner: when it re-runs, when it stops, what it runs last.

The real workflow under watch mode is exercised by the scripted agent in test_agent.py.
"""

import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, copy_candidates
from test_cli import ledger

from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.watch import SEARCH_TARGETS, CampaignBusy, campaign_lock, snapshot, watch
from flcampaign.task import Task


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")


@pytest.fixture
def campaign(tmp_path) -> Path:
    copy_candidates(tmp_path, "0000-baseline")
    return tmp_path


def test_reruns_on_new_folders_and_stops_on_the_stop_file(task, campaign):
    calls, lines = [], []

    def agent_run(targets: tuple[str, ...]) -> int:
        """The workflow, as seen by watch; between runs the 'agent' drops folders."""
        calls.append(targets)
        if len(calls) == 1:
            copy_candidates(campaign, "0002-fedavgm")
        elif len(calls) == 2:
            (campaign / "candidates" / "0003-half").mkdir()  # no candidate.yaml yet: not complete
        elif targets == SEARCH_TARGETS:
            raise AssertionError("an incomplete folder must not trigger a run")
        return 0

    def stop_later() -> None:
        time.sleep(0.5)
        (campaign / "STOP").touch()

    stopper = threading.Thread(target=stop_later)
    stopper.start()
    code = watch(campaign, task, GuardConfig(), agent_run, interval=0.02, say=lines.append)
    stopper.join()
    assert code == 0
    assert calls == [SEARCH_TARGETS, SEARCH_TARGETS, ()]  # two search passes, then the full workflow
    assert "candidates/0002-fedavgm" in lines[2] and "stop file STOP found" in lines[-2]
    assert "final report" in lines[-1]


def test_a_changed_candidate_file_triggers_a_run(task, campaign):
    calls = []

    def run(targets: tuple[str, ...]) -> int:
        calls.append(targets)
        if len(calls) == 1:
            meta = campaign / "candidates" / "0000-baseline" / "candidate.yaml"
            meta.write_text(meta.read_text() + "\n")
        if len(calls) == 2:
            (campaign / "STOP").touch()
        return 0

    watch(campaign, task, GuardConfig(), run, interval=0.01, final_report=False, say=lambda _: None)
    assert calls == [SEARCH_TARGETS, SEARCH_TARGETS]


def test_the_guard_stop_ends_the_watch(task, campaign):
    calls, lines = [], []

    def run(targets: tuple[str, ...]) -> int:
        calls.append(targets)
        ledger(campaign, ("b", "baseline", "0.7"), *[(f"c{i}", "crash", "") for i in range(6)])
        return 0

    watch(campaign, task, GuardConfig(), run, interval=0.01, say=lines.append)
    assert calls == [SEARCH_TARGETS, ()]
    assert "next action final_report (the last 6 attempts crashed" in lines[1]
    assert "the guard stops the campaign" in lines[2]


def test_a_failing_workflow_is_reported_and_retried_on_the_next_change(task, campaign):
    calls, lines = [], []

    def run(targets: tuple[str, ...]) -> int:
        calls.append(targets)
        if len(calls) == 1:
            copy_candidates(campaign, "0002-fedavgm")
        if len(calls) == 2:
            (campaign / "STOP").touch()
        return 1 if len(calls) == 1 else 0

    watch(campaign, task, GuardConfig(), run, interval=0.01, final_report=False, say=lines.append)
    assert calls == [SEARCH_TARGETS, SEARCH_TARGETS]
    assert any("the workflow failed (exit 1)" in line for line in lines)


def test_snapshot_sees_complete_folders_and_literature(campaign):
    before = snapshot(campaign)
    (campaign / "candidates" / "0009-draft").mkdir()
    (campaign / "candidates" / ".0010-staging").mkdir()
    assert snapshot(campaign) == before
    (campaign / "literature").mkdir()
    (campaign / "literature" / "lit-0001.yaml").write_text("x")
    assert set(snapshot(campaign)) - set(before) == {"literature/lit-0001.yaml"}
    shutil.rmtree(campaign / "candidates" / "0000-baseline")
    assert "candidates/0000-baseline" not in snapshot(campaign)


def test_lock_is_exclusive_and_released(campaign):
    busy = pytest.raises(CampaignBusy, match="one workflow per campaign folder")
    with campaign_lock(campaign), busy, campaign_lock(campaign):
        pass
    with campaign_lock(campaign):
        assert "pid" in (campaign / ".flcampaign.lock").read_text()


def test_each_search_pass_rewrites_a_live_dashboard(task, campaign):
    """The watch rewrites reports/dashboard.html from the ledger after every search pass, reloading itself; the
    winners' evidence of an older ledger is not shown."""
    dashboard = campaign / "reports" / "dashboard.html"
    winners = campaign / "results" / "winners.json"
    seen = []

    def agent_run(targets: tuple[str, ...]) -> int:
        if targets == SEARCH_TARGETS:
            if winners.parent.is_dir():
                winners.write_text('{"entries": [{"candidate": "stale-winner"}], "controls": []}')
                time.sleep(0.02)
            ledger(campaign, ("0000-baseline", "baseline", "0.7"), *[(f"c{i}", "discard", "0.6") for i in seen])
            seen.append(len(seen))
            if len(seen) == 2:
                (campaign / "STOP").touch()
            else:
                copy_candidates(campaign, "0002-fedavgm")
        return 0

    watch(campaign, task, GuardConfig(), agent_run, interval=0.02, final_report=False, say=lambda _: None)
    page = dashboard.read_text(encoding="utf-8")
    assert page.count('<tr data-status="') == 2  # the second pass's ledger: the baseline and c0
    assert "location.reload()" in page and "stale-winner" not in page
