"""Validation time per candidate (target: at most 100 ms), on the bundled candidates.

Usage: python bench/validation.py [repetitions]
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from flcampaign.contract.candidate import ancestry, discover
from flcampaign.contract.validation import validate_candidate
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent
TARGET_MS = 100.0


def main(repetitions: int = 20) -> None:
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    candidates = REPO / "candidates"
    ids = discover(candidates)
    timings: dict[str, list[float]] = {cid: [] for cid in ids}
    for _ in range(repetitions):
        with tempfile.TemporaryDirectory() as scratch:
            for cid in sorted(ids, key=lambda c: len(ancestry(candidates, c))):  # parents first
                start = time.perf_counter()
                validate_candidate(candidates, cid, task, Path(scratch))
                timings[cid].append((time.perf_counter() - start) * 1000)
    print(f"validation time per candidate ({repetitions} repetitions, median ms):")
    medians = {cid: statistics.median(values) for cid, values in timings.items()}
    for cid, value in medians.items():
        print(f"  {cid:28s} {value:7.1f} ms")
    worst = max(medians.values())
    print(f"median over candidates {statistics.median(medians.values()):.1f} ms, worst {worst:.1f} ms")
    print(f"target {TARGET_MS:.0f} ms: worst / target = {worst / TARGET_MS:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
