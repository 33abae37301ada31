"""Slot leases: concurrent simulations never share a slot, and a dead holder frees its slot."""

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from flcampaign.execution.slots import Slot, all_slots, lease, machine_slots, visible_gpus


def hold(lock_dir: str, slots: list[Slot], seconds: float, out: "multiprocessing.Queue") -> None:
    with lease(Path(lock_dir), slots) as slot:
        out.put((os.getpid(), slot.label, time.monotonic()))
        time.sleep(seconds)
    out.put((os.getpid(), "released", time.monotonic()))


def test_slots_from_gpus_and_sharing():
    slots = all_slots(["0", "3"], simulations_per_gpu=2, cpu_slots=8)
    assert [s.label for s in slots] == ["gpu0#0", "gpu0#1", "gpu3#0", "gpu3#1"]
    assert [s.env()["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "0", "3", "3"]
    cpu = all_slots([], simulations_per_gpu=2, cpu_slots=3)
    assert [s.label for s in cpu] == ["cpu0", "cpu1", "cpu2"]
    assert cpu[0].env() == {"CUDA_VISIBLE_DEVICES": ""}  # a CPU slot sees no GPU


def test_visible_gpus_follow_the_scheduler(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert visible_gpus() == ["2", "5"]
    assert [s.label for s in machine_slots()] == ["gpu2#0", "gpu5#0"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == []
    assert machine_slots(cpu_slots=2) == [Slot(0, "cpu", "cpu0"), Slot(1, "cpu", "cpu1")]


def test_concurrent_holders_get_distinct_slots_and_a_third_waits(tmp_path):
    slots = all_slots(["0", "1"], 1, 1)
    queue = multiprocessing.get_context("fork").Queue()
    procs = [
        multiprocessing.get_context("fork").Process(target=hold, args=(str(tmp_path), slots, 1.5, queue))
        for _ in range(3)
    ]
    for proc in procs:
        proc.start()
    events = [queue.get(timeout=20) for _ in range(6)]
    for proc in procs:
        proc.join(timeout=20)
    leases = [(pid, label, t) for pid, label, t in events if label != "released"]
    released = sorted(t for _, label, t in events if label == "released")
    first_two = sorted(leases, key=lambda e: e[2])[:2]
    assert {label for _, label, _ in first_two} == {"gpu0#0", "gpu1#0"}
    third = sorted(leases, key=lambda e: e[2])[2]
    assert third[2] >= released[0] - 0.05  # it got a slot only once another was given back


def test_a_killed_holder_releases_its_slot(tmp_path):
    slots = [Slot(0, "0", "gpu0#0")]
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    holder = context.Process(target=hold, args=(str(tmp_path), slots, 60, queue))
    holder.start()
    assert queue.get(timeout=20)[1] == "gpu0#0"
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(timeout=20)
    start = time.monotonic()
    with lease(tmp_path, slots, timeout_s=10) as slot:
        assert slot.label == "gpu0#0"
    assert time.monotonic() - start < 5


def test_lease_times_out_when_every_slot_is_held(tmp_path):
    slots = [Slot(0, "cpu", "cpu0")]
    with lease(tmp_path, slots), pytest.raises(TimeoutError), lease(tmp_path, slots, timeout_s=0.5):
        pass
