"""Faults: a workflow killed with SIGKILL resumes without loss; a full or read-only disk keeps the ledger."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import REPO, copy_candidates
from test_ledger import add_candidate, t

from flcampaign.evidence.ledger import read_tsv, write_ledger
from flcampaign.execution.sandbox import choose
from flcampaign.task import Task

FLCAMPAIGN = Path(sys.executable).with_name("flcampaign")
CANDIDATES = ("0000-baseline", "0002-fedavgm", "0003-median")


def campaign_processes(campaign: Path) -> list[int]:
    """Live processes started for this campaign (their environment names its folder)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and any(str(campaign) in value for value in proc.environ().values()):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@pytest.mark.slow
def test_sigkill_mid_campaign_then_resume(tmp_path):
    campaign = tmp_path / "campaign"
    copy_candidates(campaign, *CANDIDATES)
    (campaign / "config.yaml").write_text("task: heart_disease\nnum_rounds: 1\n")
    run = [str(FLCAMPAIGN), "run", "results/results.tsv"]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(run, cwd=campaign, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    running = lambda: list((campaign / "results" / "work").rglob(".seed0.token"))  # noqa: E731
    wait_until(lambda: running() or first.poll() is not None, 600, "a simulation to start")
    assert first.poll() is None, (tmp_path / "first.log").read_text()
    time.sleep(3)
    os.killpg(first.pid, signal.SIGKILL)  # the workflow, its job scripts and their supervisors, at once
    first.wait()
    if choose("auto").kind == "bubblewrap":  # sandboxed runs die with their supervisor
        wait_until(lambda: not campaign_processes(campaign), 30, "the killed simulations to go away")
    resumed = subprocess.run(run, cwd=campaign, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rows = read_tsv(campaign / "results" / "results.tsv")
    assert sorted(row["candidate"] for row in rows) == sorted(CANDIDATES)  # none lost, none twice
    assert all(row["status"] in ("baseline", "keep", "discard") for row in rows), rows
    assert campaign_processes(campaign) == []
    assert not list((campaign / "results" / "work").rglob(".seed0.token"))


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB file system mounted for the test (root only)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def ledger_inputs(tmp_path: Path) -> tuple[Task, Path, list[str]]:
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    results = tmp_path / "records"
    add_candidate(results, "base", t(0), 0.70, baseline=True)
    add_candidate(results, "next", t(1), 0.72)
    return task, results, ["base", "next"]


def test_full_disk_keeps_the_previous_ledger(tmp_path, small_disk):
    task, records, ids = ledger_inputs(tmp_path)
    tsv = small_disk / "results.tsv"
    tsv.write_text("the previous ledger\n")
    with open(small_disk / "filler", "wb", buffering=0) as filler, pytest.raises(OSError):
        while True:
            filler.write(b"\0" * 4096)
    with pytest.raises(OSError) as error:
        write_ledger(task, records, ids, 0, 0.0, [], tsv)
    assert error.value.errno == errno.ENOSPC
    assert f"cannot write {tsv}" in str(error.value) and "the previous version is kept" in str(error.value)
    assert tsv.read_text() == "the previous ledger\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "results.tsv"]


def test_read_only_results_folder_keeps_the_previous_ledger(tmp_path, small_disk):
    task, records, ids = ledger_inputs(tmp_path)
    tsv = small_disk / "results.tsv"
    tsv.write_text("the previous ledger\n")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(OSError) as error:
        write_ledger(task, records, ids, 0, 0.0, [], tsv)
    assert error.value.errno == errno.EROFS and "read-only file system" in str(error.value).lower()
    assert tsv.read_text() == "the previous ledger\n"
