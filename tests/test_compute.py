"""The compute budget: what a run used against the reference run at the knobs' maxima."""

import copy
import os
import sys
import time

import pytest
from conftest import REPO

from flcampaign.execution.compute import CpuCeiling, GpuMeter, check, reference_args
from flcampaign.execution.process import run_contained
from flcampaign.task import Task


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")


def run_using(cpu: float, gpu: float | None = None, state: str = "ok") -> dict:
    return {"state": state, "compute": {"cpu_seconds": cpu, "gpu_seconds": gpu}}


def test_the_reference_is_the_baseline_at_the_largest_local_work(task):
    assert reference_args(task) == {"local_steps": 400}
    profile = copy.deepcopy(task.profile)
    profile["budget"]["compute_reference"] = {"local_steps": 200, "aggregator": "median"}
    assert reference_args(Task(task.root, profile)) == {"local_steps": 200, "aggregator": "median"}
    cifar = Task.load(REPO / "flcampaign" / "tasks" / "cifar10")
    assert reference_args(cifar) == {"aggregation_epochs": 8, "local_steps": 1000}


def test_a_run_over_the_ratio_is_a_violation(task):
    within = check(task, run_using(70.0), run_using(50.0))
    assert within["checked"] and within["ratio"] == 1.4 and "violation" not in within
    over = check(task, run_using(80.0), run_using(50.0))
    assert over["ratio"] == 1.6 and "1.60x the reference's CPU seconds" in over["violation"]
    assert "1.5x the baseline at the knobs' maxima" in over["violation"]
    gpu = check(task, run_using(60.0, gpu=40.0), run_using(50.0, gpu=20.0))
    assert gpu["gpu_ratio"] == 2.0 and "GPU seconds" in gpu["violation"]


def test_without_a_usable_reference_the_budget_is_unchecked_and_says_so(task):
    assert check(task, run_using(500.0), None) == {
        "cpu_seconds": 500.0,
        "gpu_seconds": None,
        "max_ratio": 1.5,
        "checked": False,
        "note": "unchecked: the reference run is missing",
    }
    crashed = check(task, run_using(500.0), run_using(0.0, state="crash"))
    assert not crashed["checked"] and "crash" in crashed["note"] and "violation" not in crashed


def test_the_gpu_meter_integrates_the_drivers_utilisation(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 50\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    meter = GpuMeter("0")
    meter._last -= 4.0  # four seconds at 50 %
    meter.sample()
    assert meter.record() == pytest.approx(2.0, abs=0.1)
    assert GpuMeter("cpu").record() is None  # a CPU slot has no GPU seconds
    start = time.monotonic()
    GpuMeter("cpu").sample()
    assert time.monotonic() - start < 0.5


def test_a_run_is_stopped_once_its_processes_pass_the_ceiling(task, tmp_path):
    """A grandchild that spins (hidden work two processes down) is charged, and the run ends early."""
    spin = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'while True: pass'])"
    ceiling = CpuCeiling(task, run_using(0.4), spent=0.1)  # limit 1.5 x 0.4 = 0.6 CPU-s
    outcome = run_contained(
        [sys.executable, "-c", spin], tmp_path, dict(os.environ), 120, tmp_path / "log", abort=ceiling
    )
    assert outcome.aborted and ceiling.tripped and not outcome.timed_out
    assert 0.6 < ceiling.used < 10 and outcome.cpu_seconds > 0.3
    assert "over the budget of 0.6 CPU-s" in ceiling.violation(task) and "0.4 CPU-s" in ceiling.violation(task)
    assert not CpuCeiling(task, None, spent=0.0)()  # without a reference nothing is stopped
