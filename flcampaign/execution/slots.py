"""Device slots for simulations on one machine: a file-lock lease per slot, and a memory guard.

Snakemake counts ``gpu`` resources but assigns no device ids, so two concurrent simulations could
land on the same GPU. Each simulation leases a concrete slot by taking an exclusive ``flock`` on
the slot's lock file; the lease dies with the process, so a crashed job never keeps a slot. Slots
are GPU ids (optionally several simulations per GPU) or, on a machine without GPUs, CPU slots, as
many as the task's measured footprint allows (``capacity``). A lease also waits until the machine
has the memory the simulation is known to need, so concurrent runs never ask for more than it has.
"""

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from flcampaign.execution.capacity import Footprint, slots_for
from flcampaign.execution.resource_caps import MB
from flcampaign.layout import Records

POLL_S = 0.2


def available_memory_mb() -> float:
    return psutil.virtual_memory().available / MB


@dataclass(frozen=True)
class Slot:
    index: int
    device: str  # a GPU id for CUDA_VISIBLE_DEVICES, or "cpu"
    label: str  # "gpu0#1" (second simulation on GPU 0) or "cpu3"

    def env(self) -> dict[str, str]:
        """Variables that pin the simulation to this slot ("" hides every GPU from a CPU slot)."""
        return {"CUDA_VISIBLE_DEVICES": "" if self.device == "cpu" else self.device}


def visible_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES when set (e.g. by SLURM), else nvidia-smi."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


def all_slots(gpus: list[str], simulations_per_gpu: int, cpu_slots: int) -> list[Slot]:
    if gpus:
        return [
            Slot(i * simulations_per_gpu + k, gpu, f"gpu{gpu}#{k}")
            for i, gpu in enumerate(gpus)
            for k in range(simulations_per_gpu)
        ]
    return [Slot(k, "cpu", f"cpu{k}") for k in range(cpu_slots)]


@contextlib.contextmanager
def lease(
    lock_dir: Path,
    slots: list[Slot],
    timeout_s: float = 24 * 3600,
    memory_mb: float | None = None,
    available_mb: Callable[[], float] = available_memory_mb,
) -> Iterator[Slot]:
    """Hold the first free slot for the duration of the block; waits while every slot is taken and,
    with ``memory_mb`` (the simulation's measured peak), while the machine has less memory available."""
    if not slots:
        raise ValueError("no slots to lease")
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    while True:
        for slot in slots:
            handle = open(lock_dir / f"{slot.label}.lock", "a+")  # noqa: SIM115 - closed below
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                _await_memory(memory_mb, available_mb, deadline)
                yield slot
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no free slot among {[s.label for s in slots]} after {timeout_s} s")
        time.sleep(POLL_S)


def _await_memory(memory_mb: float | None, available_mb: Callable[[], float], deadline: float) -> None:
    """Wait (holding the slot) until ``memory_mb`` is available: a run that would push the machine
    into swap or the OOM killer starts later instead."""
    while memory_mb is not None and available_mb() < memory_mb:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the machine never had the {memory_mb:.0f} MB a simulation needs at its peak "
                f"({available_mb():.0f} MB available)"
            )
        time.sleep(POLL_S)


def machine_slots(
    simulations_per_gpu: int = 1, cpu_slots: int | None = None, footprint: Footprint | None = None
) -> list[Slot]:
    """The slots of this machine (or of this SLURM allocation): its visible GPUs, else CPU slots, by
    default as many as the task's measured ``footprint`` lets the cores and the memory carry."""
    cores, memory = len(os.sched_getaffinity(0)), psutil.virtual_memory().total / MB
    return all_slots(visible_gpus(), simulations_per_gpu, cpu_slots or slots_for(footprint, cores, memory))


def lock_dir(results: Path) -> Path:
    """Per-host lock folder: slot numbers are only unique on one machine."""
    return Records(Path(results)).slots / socket.gethostname()
