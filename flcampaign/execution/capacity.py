"""How many simulations run at once on this machine: from what the task's simulations measurably use.

A small task's simulation spends most of its wall time in NVFlare's waits, so one per core leaves
the machine half idle; a large task's simulation may need more memory than the core count suggests.
The footprint (cores busy on average, peak memory) is read from run records of the same task on
this campaign (the compute reference runs before any other simulation), so the slot count follows
the task, not a guess.
"""

import math
import statistics
from dataclasses import dataclass

MEMORY_SHARE = 0.8  # of the machine's memory that concurrent simulations may use at their peaks
# Of the cores, the share concurrent simulations keep busy on average: the knee of the measured throughput
# curve (docs/benchmarks.md, bench/concurrency.py). While NVFlare's waits dominated, a full-budget
# heart_disease simulation kept 0.62 cores busy and two on 2 cores reached 87% of twice one's throughput,
# three 70%: 2 x 0.9 / 0.62-0.71 = 2 slots. With the waits capped (nvflare_waits) the same run keeps 1.34
# cores busy, mostly with its six Python processes' imports, and two reach only 59%: one slot, while the
# campaign's other jobs (validation, scoring) use the rest.
TARGET_LOAD = 0.9
MAX_SLOTS_PER_CORE = 4  # a bound on the waiting-bound case: polls and sleeps still cost scheduling


@dataclass(frozen=True)
class Footprint:
    busy_cores: float  # CPU seconds per wall second of a run, the median over the runs measured
    peak_memory_mb: float  # the largest peak resident memory of a run's process tree

    @classmethod
    def of(cls, runs: list[dict]) -> "Footprint | None":
        """The footprint of finished runs (``run.json`` records); None when none was measured."""
        measured = [
            run
            for run in runs
            if run.get("state") == "ok"
            and (run.get("compute") or {}).get("cpu_seconds")
            and run.get("runtime_seconds")
            and (run.get("caps") or {}).get("peak_memory_mb")
        ]
        if not measured:
            return None
        busy = statistics.median_high(run["compute"]["cpu_seconds"] / run["runtime_seconds"] for run in measured)
        return cls(busy, max(run["caps"]["peak_memory_mb"] for run in measured))


def slots_for(footprint: Footprint | None, cores: int, memory_mb: float) -> int:
    """Simulations at once: as many as keep ``TARGET_LOAD`` of the cores busy, no more than the memory
    holds at their peaks. Without a measured footprint: one per core (before the first run)."""
    if footprint is None:
        return max(1, cores)
    by_cpu = min(math.floor(cores * TARGET_LOAD / max(footprint.busy_cores, 1e-3)), MAX_SLOTS_PER_CORE * cores)
    by_memory = math.floor(memory_mb * MEMORY_SHARE / max(footprint.peak_memory_mb, 1.0))
    return max(1, min(by_cpu, by_memory))
