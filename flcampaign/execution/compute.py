"""The compute a run used, and the budget it must stay within.

CPU seconds come from the kernel's account of the run's process tree (``wait4``). GPU seconds are
the leased device's utilisation, sampled from the driver (``nvidia-smi``) while the run holds it;
when simulations share one GPU each is charged the device's whole utilisation (an upper bound).

The budget is relative: a task declares ``budget.max_compute_ratio``, and a run may use at most
that many times the compute of the reference run -- the task's baseline with every integer knob at
its maximum (the most local work the declared surface allows), or the knob values the task names
in ``budget.compute_reference``. A run over it did work the budget does not declare (extra steps
inside one reported step, a larger batch than the budget's, a second model trained on the side).
Once the reference has run, a run is stopped the moment its CPU passes the ceiling (``CpuCeiling``):
hidden work costs at most the budget, never the wall-clock limit.
"""

import shutil
import subprocess
import time
from typing import Any

from flcampaign.execution.process import tree_usage
from flcampaign.task import Task

REFERENCE_ID = "_compute-ref"
DEFAULT_RATIO = 1.5
GPU_SAMPLE_S = 2.0


class GpuMeter:
    """Integrates a device's utilisation over time; a no-op on CPU slots or without ``nvidia-smi``."""

    def __init__(self, device: str):
        self.command = shutil.which("nvidia-smi") if device not in ("", "cpu") else None
        self.device = device
        self.seconds = 0.0
        self._last = time.monotonic()

    def sample(self) -> None:
        now = time.monotonic()
        if self.command is None or now - self._last < GPU_SAMPLE_S:
            return
        query = [self.command, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", self.device]
        try:
            output = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
            self.seconds += (now - self._last) * float(output.strip().splitlines()[0]) / 100.0
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            pass
        self._last = now

    def record(self) -> float | None:
        return None if self.command is None else round(self.seconds, 3)


def reference_args(task: Task) -> dict[str, Any]:
    """Knob values of the reference run: the task's own, else every integer knob at its maximum."""
    declared = task.budget.get("compute_reference")
    if declared is not None:
        return dict(declared)
    return {name: spec["max"] for name, spec in task.knobs.items() if spec["type"] == "int" and "max" in spec}


def ratio_cap(task: Task) -> float:
    return float(task.budget.get("max_compute_ratio", DEFAULT_RATIO))


def reference_cpu(reference: dict | None) -> float | None:
    """The reference run's CPU seconds, or None when it has not run cleanly."""
    if reference is None or reference.get("state") != "ok":
        return None
    return (reference.get("compute") or {}).get("cpu_seconds") or None


class CpuCeiling:
    """An ``abort`` for a running simulation: true once the run's processes have used more CPU than
    the budget allows (``spent`` is what its earlier steps used)."""

    def __init__(self, task: Task, reference: dict | None, spent: float):
        ref = reference_cpu(reference)
        self.limit = None if ref is None else ratio_cap(task) * ref
        self.reference_cpu, self.spent, self.used, self.tripped = ref, spent, spent, False

    def __call__(self) -> bool:
        if self.limit is None:
            return False
        self.used = self.spent + tree_usage().cpu_seconds
        self.tripped = self.used > self.limit
        return self.tripped

    def violation(self, task: Task) -> str:
        return (
            f"stopped at {self.used:.1f} CPU-s, over the budget of {self.limit:.1f} CPU-s "
            f"({ratio_cap(task)}x the baseline at the knobs' maxima, {self.reference_cpu:.1f} CPU-s)"
        )


def check(task: Task, run: dict, reference: dict | None) -> dict:
    """The compute record of a scored run: what it used, the limit, and the violation if over it."""
    used = run.get("compute") or {}
    cap = ratio_cap(task)
    record: dict[str, Any] = {**used, "max_ratio": cap}
    if reference is None or reference_cpu(reference) is None:
        state = "missing" if reference is None else reference.get("state", "missing")
        record.update(checked=False, note=f"unchecked: the reference run is {state}")
        return record
    ref = reference["compute"]
    record.update(checked=True, reference_cpu_seconds=ref["cpu_seconds"])
    record["ratio"] = round(used.get("cpu_seconds", 0.0) / ref["cpu_seconds"], 4)
    over = [f"{record['ratio']:.2f}x the reference's CPU seconds"] if record["ratio"] > cap else []
    if used.get("gpu_seconds") and ref.get("gpu_seconds"):
        record["gpu_ratio"] = round(used["gpu_seconds"] / ref["gpu_seconds"], 4)
        if record["gpu_ratio"] > cap:
            over.append(f"{record['gpu_ratio']:.2f}x its GPU seconds")
    if over:
        record["violation"] = (
            f"used {used.get('cpu_seconds', 0.0):.1f} CPU-s: "
            + " and ".join(over)
            + f" (the budget allows {cap}x the baseline at the knobs' maxima, {ref['cpu_seconds']:.1f} CPU-s)"
        )
    return record
