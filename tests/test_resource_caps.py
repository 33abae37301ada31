"""Resource caps: a bounded memory hog and a bounded fork loop are stopped by the kernel (cgroup) where
this machine allows one, and by the watchdog where not; open files are capped per process."""

import os
import sys
from pathlib import Path

import psutil
import pytest

from flcampaign.execution.process import run_contained
from flcampaign.execution.resource_caps import DEFAULTS, Caps, ResourceCaps

# allocates up to 1.5 GB in touched 20 MB blocks, slowly enough for the watchdog to see it grow
MEMORY_HOG = """
import time
blocks = []
for _ in range(75):
    blocks.append(bytearray(20 << 20))
    time.sleep(0.05)
print("survived", flush=True)
"""
# up to 300 sleeping children: far past the cap, bounded so that a broken cap cannot hurt the machine
FORK_LOOP = """
import os, sys, time
children = []
for _ in range(300):
    try:
        pid = os.fork()
    except OSError as error:
        print("fork refused:", error, flush=True)
        time.sleep(30)
        sys.exit(1)
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children.append(pid)
time.sleep(30)
"""
MODES = [pytest.param(True, id="cgroup"), pytest.param(False, id="watchdog")]


def loop_processes() -> list[psutil.Process]:
    """Live processes of the fork loop (each fork keeps the loop's command line)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] != psutil.STATUS_ZOMBIE and FORK_LOOP in (proc.info["cmdline"] or []):
            found.append(proc)
    return found


def contained(tmp_path: Path, source: str, caps: ResourceCaps):
    with caps:
        outcome = run_contained(
            [sys.executable, "-c", source],
            tmp_path,
            dict(os.environ),
            60,
            tmp_path / "log",
            abort=caps,
            preexec=caps.preexec,
        )
        caps.settle()
    return outcome


def needs_cgroup(cgroups: bool) -> None:
    with ResourceCaps(Caps.of({}), cgroups=cgroups) as probe:
        if cgroups and not probe.groups:
            pytest.skip("this process may not make a cgroup here: only the watchdog applies")


@pytest.mark.parametrize("cgroups", MODES)
def test_a_memory_hog_is_stopped_at_the_cap(tmp_path, cgroups):
    needs_cgroup(cgroups)
    caps = ResourceCaps(Caps(memory_mb=300, processes=64, open_files=256), cgroups=cgroups)
    outcome = contained(tmp_path, MEMORY_HOG, caps)
    assert caps.hit == "memory-cap", (tmp_path / "log").read_text()
    assert "survived" not in (tmp_path / "log").read_text()
    assert outcome.elapsed_s < 30 and not outcome.timed_out
    assert caps.enforced_by.startswith("cgroup v") if cgroups else caps.enforced_by == "watchdog"
    assert "memory passed 300 MB" in caps.reason()
    assert 200 < caps.record()["peak_memory_mb"] < 1500


@pytest.mark.parametrize("cgroups", MODES)
def test_a_fork_loop_is_stopped_at_the_cap(tmp_path, cgroups):
    needs_cgroup(cgroups)
    caps = ResourceCaps(Caps(memory_mb=4096, processes=40, open_files=256), cgroups=cgroups)
    outcome = contained(tmp_path, FORK_LOOP, caps)
    assert caps.hit == "process-cap", (tmp_path / "log").read_text()
    assert outcome.aborted and outcome.elapsed_s < 30
    assert not loop_processes()  # the loop's children went with the run
    if cgroups:
        assert "fork refused" in (tmp_path / "log").read_text()  # the kernel said no at the cap
        assert caps.record()["peak_tasks"] <= 41


def test_open_files_are_capped_per_process(tmp_path):
    source = "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE))"
    caps = ResourceCaps(Caps(memory_mb=4096, processes=64, open_files=100))
    outcome = contained(tmp_path, source, caps)
    assert outcome.returncode == 0 and "(100, 100)" in (tmp_path / "log").read_text()
    assert caps.hit is None


def test_caps_come_from_the_budget_with_defaults_and_the_cgroups_go_with_the_run():
    assert Caps.of({}) == Caps(DEFAULTS["max_memory_mb"], DEFAULTS["max_processes"], DEFAULTS["max_open_files"])
    assert Caps.of({"max_memory_mb": 1024}).memory_mb == 1024
    with ResourceCaps(Caps.of({})) as caps:
        groups = set(caps.groups.values())
        assert all(path.is_dir() for path in groups)
    assert not any(path.exists() for path in groups)
