"""Pipeline overhead per candidate against the simulation's own wall time (target: at most 5%).

Reads a finished campaign (default: ./results after `make run`): each simulation's wall time from its
run record, the score time from Snakemake's benchmark files; validation and ledger are timed here on
the same records.

Usage: python bench/overhead.py [campaign_dir]
"""

import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flcampaign.contract.candidate import ancestry, discover
from flcampaign.contract.validation import validate_candidate
from flcampaign.evidence.ledger import build_rows
from flcampaign.files import read_json
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent
TARGET = 0.05


def benchmark_seconds(path: Path) -> float:
    with open(path) as handle:
        return float(next(csv.DictReader(handle, delimiter="\t"))["s"])


def main(campaign: Path) -> None:
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    results = campaign / "results"
    ids = discover(campaign / "candidates")
    simulated = [cid for cid in ids if (results / "runs" / "search" / cid / "seed0" / "global_model.pt").is_file()]
    # the simulation's own wall time: the simulate job's benchmark also counts its wait for a slot
    sim = {c: read_json(results / "runs" / "search" / c / "seed0" / "run.json")["runtime_seconds"] for c in simulated}
    score = {c: benchmark_seconds(results / "benchmarks" / "score" / "search" / c / "seed0.tsv") for c in simulated}
    validate = {}
    with tempfile.TemporaryDirectory() as scratch:
        for cid in sorted(ids, key=lambda c: len(ancestry(campaign / "candidates", c))):
            start = time.perf_counter()
            validate_candidate(campaign / "candidates", cid, task, Path(scratch))
            validate[cid] = time.perf_counter() - start
    start = time.perf_counter()
    build_rows(task, results, ids, task.seeds["search"], 0.0)
    ledger_per_candidate = (time.perf_counter() - start) / len(ids)
    print(f"campaign {campaign} ({len(simulated)} simulated candidates)")
    print("candidate                     simulate   validate  score   ledger   overhead")
    ratios = []
    for cid in simulated:
        overhead = validate[cid] + score[cid] + ledger_per_candidate
        ratios.append(overhead / sim[cid])
        print(f"  {cid:26s} {sim[cid]:7.1f} s {validate[cid] * 1000:6.0f} ms {score[cid]:5.2f} s "
              f"{ledger_per_candidate * 1000:5.1f} ms {100 * ratios[-1]:6.2f}%")  # fmt: skip
    worst = max(ratios)
    print(f"median overhead {100 * statistics.median(ratios):.2f}% of simulation time, worst {100 * worst:.2f}%")
    print(f"target {100 * TARGET:.0f}%: worst / target = {worst / TARGET:.2f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
