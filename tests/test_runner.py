"""The simulation runner against real NVFlare: budget checks on the exported job, crash, hang."""

import copy
import json
import shutil
from pathlib import Path

import psutil
import pytest
from conftest import REPO, copy_candidates

from flcampaign.contract import validate_candidate
from flcampaign.runner import check_exported_budget, judge_workspace, simulate
from flcampaign.slots import Slot
from flcampaign.task import Task


def short_task(task: Task, **budget) -> Task:
    profile = copy.deepcopy(task.profile)
    profile["budget"].update(budget)
    return Task(task.root, profile)


def write_candidate(root: Path, cid: str, source_edits: dict[str, tuple[str, str]]) -> None:
    """A candidate whose patch applies ``old -> new`` replacements to the task sources."""
    from flcampaign import patches

    base = REPO / "tasks" / "heart_disease" / "src"
    edited = root / "edited" / cid
    shutil.copytree(base, edited)
    for rel, (old, new) in source_edits.items():
        text = (edited / rel).read_text()
        assert old in text
        (edited / rel).write_text(text.replace(old, new, 1))
    folder = root / "candidates" / cid
    (folder / "patches").mkdir(parents=True)
    (folder / "patches" / "001.patch").write_text(patches.make(base, edited))
    (folder / "candidate.yaml").write_text(
        f"title: {cid}\nhypothesis: test\nparent: baseline\nfamily: test\ncreated: '2026-11-24T00:00:00+00:00'\n"
    )


def run_candidate(tmp_path: Path, task: Task, cid: str, splits: Path) -> dict:
    validation = validate_candidate(tmp_path / "candidates", cid, task, tmp_path / "results")
    assert validation["state"] == "ok", validation["reason"]
    return simulate(
        task,
        validation,
        tmp_path / "results" / "candidates" / cid / "src",
        splits / "train",
        "search",
        0,
        tmp_path / "results" / "runs" / cid,
        tmp_path / "work" / cid,
        slots=[Slot(0, "cpu", "cpu0")],
        lock_dir=tmp_path / "locks",
    )


def token_holders(root: Path) -> list[int]:
    """Processes whose environment points into ``root`` (a simulation of this test)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if any(str(root) in value for value in proc.environ().values()):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_budget_computed_at_run_time_is_caught_on_the_exported_job(tmp_path, heart_task, heart_splits):
    """A non-literal change passes the static check but the exported NVFlare config gives it away."""
    write_candidate(
        tmp_path,
        "double-rounds",
        {"job.py": ("        num_rounds=args.num_rounds,\n", "        num_rounds=args.num_rounds * 2,\n")},
    )
    run = run_candidate(tmp_path, short_task(heart_task, num_rounds=1), "double-rounds", heart_splits)
    assert run["state"] == "invalid" and run["rule"] == "fixed-budget" and run["file"] == "job.py"
    assert "num_rounds is 2, budget says 1" in run["reason"]
    assert "returncode" not in run  # refused before any simulation started


def test_exported_budget_checks_each_field(tmp_path, heart_task):
    job = tmp_path / "job"
    (job / "app" / "config").mkdir(parents=True)
    fedavg = "nvflare.app_common.workflows.fedavg.FedAvg"
    server = {"workflows": [{"path": fedavg, "args": {"num_rounds": 15, "num_clients": 4}}], "components": []}
    client = {"executors": [{"executor": {"args": {"task_script_args": "--seed 7 --batch_size 4"}}}]}
    (job / "app/config/config_fed_server.json").write_text(json.dumps(server))
    (job / "app/config/config_fed_client.json").write_text(json.dumps(client))
    (job / "meta.json").write_text(json.dumps({"min_clients": 4}))
    assert check_exported_budget(job, heart_task, seed=7) == []
    assert check_exported_budget(job, heart_task, seed=8) != []
    client["executors"][0]["executor"]["args"]["task_script_args"] = "--seed 7 --batch_size 64"
    (job / "app/config/config_fed_client.json").write_text(json.dumps(client))
    assert any("--batch_size 4" in p for p in check_exported_budget(job, heart_task, seed=7))
    (job / "meta.json").write_text(json.dumps({"min_clients": 2}))
    assert any("min_clients is 2" in p for p in check_exported_budget(job, heart_task, seed=7))
    (job / "meta.json").write_text(json.dumps({"min_clients": 4}))
    client["executors"][0]["executor"]["args"]["task_script_args"] = "--seed 7 --batch_size 4"
    (job / "app/config/config_fed_client.json").write_text(json.dumps(client))
    # NVFlare leaves out arguments equal to their defaults (FedAvg: 5 rounds, 3 clients)
    server["workflows"][0]["args"] = {"num_clients": 4}
    (job / "app/config/config_fed_server.json").write_text(json.dumps(server))
    assert check_exported_budget(job, heart_task, seed=7) == ["num_rounds is 5, budget says 15"]
    five_rounds = short_task(heart_task, num_rounds=5)
    assert check_exported_budget(job, five_rounds, seed=7) == []
    server["workflows"][0]["args"] = {"num_rounds": 5}
    (job / "app/config/config_fed_server.json").write_text(json.dumps(server))
    assert check_exported_budget(job, five_rounds, seed=7) == ["server expects 3 clients, budget says 4"]
    server["workflows"][0]["path"] = "custom_controller.Loop"
    (job / "app/config/config_fed_server.json").write_text(json.dumps(server))
    assert "must be an NVFlare controller" in check_exported_budget(job, five_rounds, seed=7)[0]


def test_judge_workspace(tmp_path):
    (tmp_path / "server").mkdir()
    (tmp_path / "site-1").mkdir()
    (tmp_path / "server" / "error_log.txt").write_text("")
    assert "FL_global_model.pt" in judge_workspace(tmp_path)
    (tmp_path / "site-1" / "log.txt").write_text("... 4 vars excluded as they were non-tensor type ...")
    assert "dropped" in judge_workspace(tmp_path)
    (tmp_path / "site-1" / "error_log.txt").write_text("Traceback: boom")
    assert "site-1/error_log.txt is not empty" in judge_workspace(tmp_path)


@pytest.mark.slow
def test_crash_in_round_two_is_recorded(tmp_path, heart_task, heart_splits):
    copy_candidates(tmp_path, "0009-lr-warmup-div-zero")
    run = run_candidate(tmp_path, short_task(heart_task, num_rounds=2), "0009-lr-warmup-div-zero", heart_splits)
    assert run["state"] == "crash" and run["rule"] in ("exit-code", "run-health")
    assert run["slot"] == "cpu0" and run["device"] == "cpu" and run["finished_at"] > run["started_at"]
    assert not (tmp_path / "results" / "runs" / "0009-lr-warmup-div-zero" / "global_model.pt").exists()
    assert "ZeroDivisionError" in (tmp_path / "results/runs/0009-lr-warmup-div-zero/sim.log").read_text()
    assert token_holders(tmp_path) == []


@pytest.mark.slow
def test_hung_client_is_stopped_by_the_stall_watchdog(tmp_path, heart_task, heart_splits):
    copy_candidates(tmp_path, "0010-wait-for-peers")
    task = short_task(heart_task, num_rounds=1, stall_seconds=20, timeout_seconds=300)
    run = run_candidate(tmp_path, task, "0010-wait-for-peers", heart_splits)
    assert run["state"] == "timeout" and run["rule"] == "stall"
    assert run["runtime_seconds"] < 120
    assert token_holders(tmp_path) == []
