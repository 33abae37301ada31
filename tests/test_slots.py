"""Slot leases: concurrent simulations never share a slot, a dead holder frees its slot, the slot count
follows the task's measured footprint and a lease waits for the memory a simulation needs."""

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from flcampaign.execution.capacity import Footprint, slots_for
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


def a_run(cpu_seconds: float, runtime_seconds: float, peak_memory_mb: float, state: str = "ok") -> dict:
    return {
        "state": state,
        "runtime_seconds": runtime_seconds,
        "compute": {"cpu_seconds": cpu_seconds},
        "caps": {"peak_memory_mb": peak_memory_mb},
    }


def test_the_footprint_is_read_from_finished_runs():
    runs = [
        a_run(24.0, 40.0, 2000.0),
        a_run(30.0, 40.0, 2500.0),
        a_run(12.0, 40.0, 1800.0),
        a_run(99.0, 1.0, 1.0, "crash"),
    ]
    assert Footprint.of(runs) == Footprint(busy_cores=0.6, peak_memory_mb=2500.0)  # median load, largest peak
    assert Footprint.of([]) is None and Footprint.of([a_run(1.0, 1.0, 1.0, "timeout")]) is None
    assert Footprint.of([{"state": "ok", "runtime_seconds": 3.0}]) is None  # a record from before peaks were kept


def test_slots_follow_the_measured_load_and_memory():
    # bench/concurrency.py on 2 cores (0.60-0.64); the compute reference of make run (0.67-0.71); one round (0.81)
    for busy in (0.61, 0.64, 0.67, 0.71, 0.81):
        measured_here = Footprint(busy_cores=busy, peak_memory_mb=2600.0)
        assert slots_for(measured_here, cores=2, memory_mb=24_000) == 2  # the knee of the measured curve
    assert slots_for(measured_here, cores=16, memory_mb=64_000) == 17  # 16 x 0.9 / 0.81
    assert slots_for(Footprint(busy_cores=0.95, peak_memory_mb=100.0), cores=2, memory_mb=24_000) == 1  # CPU-bound
    # with NVFlare's fixed waits capped a run keeps 1.34 cores busy, and two at once gave 1.17x: one slot
    assert slots_for(Footprint(busy_cores=1.34, peak_memory_mb=2200.0), cores=2, memory_mb=24_000) == 1
    assert slots_for(measured_here, cores=16, memory_mb=16_000) == 4  # 0.8 x 16 GB holds four peaks of 2.6 GB
    assert (
        slots_for(Footprint(busy_cores=0.1, peak_memory_mb=100.0), cores=2, memory_mb=24_000) == 8
    )  # at most 4 a core
    assert slots_for(Footprint(busy_cores=3.0, peak_memory_mb=100.0), cores=2, memory_mb=24_000) == 1
    assert slots_for(Footprint(busy_cores=0.5, peak_memory_mb=50_000.0), cores=2, memory_mb=24_000) == 1
    assert slots_for(None, cores=6, memory_mb=24_000) == 6  # before anything was measured: one per core


def test_machine_slots_without_gpus_use_the_footprint(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    light = Footprint(busy_cores=0.01, peak_memory_mb=1.0)
    assert len(machine_slots(footprint=light)) == 4 * len(os.sched_getaffinity(0))
    assert len(machine_slots(cpu_slots=3, footprint=light)) == 3  # a configured count wins


def test_a_lease_waits_for_the_memory_a_simulation_needs(tmp_path):
    readings = iter([500.0, 900.0, 2500.0])
    start = time.monotonic()
    with lease(tmp_path, [Slot(0, "cpu", "cpu0")], memory_mb=2000.0, available_mb=lambda: next(readings)) as slot:
        assert slot.label == "cpu0"
    assert time.monotonic() - start >= 0.35  # two polls while too little was free
    short = lease(tmp_path, [Slot(0, "cpu", "cpu0")], timeout_s=0.5, memory_mb=2000.0, available_mb=lambda: 500.0)
    with pytest.raises(TimeoutError, match=r"never had the 2000 MB a simulation needs at its peak \(500 MB"), short:
        pass
    with lease(tmp_path, [Slot(0, "cpu", "cpu0")], timeout_s=0.5, memory_mb=64.0) as slot:  # the real machine
        assert slot.label == "cpu0"
