"""How much of a run's spread the client partition adds: a task's baseline on many seeds, once on the
campaign's own partition and once with each seed on its own partition (``repeats.vary_partition``).

Real NVFlare simulations through the runner, two at a time, scored by the trusted evaluator on the
search-validation and held-out splits (two seed studies, saved after every run and resumable). Prints,
per split and site aggregation, the sd over seeds in each mode and the ratio of the two with its F
interval: a ratio above 1 is spread that intervals computed on one partition do not cover. The held-out
rows are the same rows in every partition, so the held-out comparison is of like with like.

Usage: python bench/partition_variance.py OUT_DIR [task, default femnist] [seeds per mode] [rounds]
"""

import sys
from pathlib import Path

from flcampaign.evidence.calibration import AGGREGATIONS, BASELINE_ARM, STUDY_SPLITS
from flcampaign.evidence.seed_study import run_study
from flcampaign.evidence.stats import describe, sd_ratio
from flcampaign.execution.sandbox import choose
from flcampaign.task import Task

TASKS = Path(__file__).resolve().parent.parent / "tasks"

if __name__ == "__main__":
    out = Path(sys.argv[1])
    name = sys.argv[2] if len(sys.argv) > 2 else "femnist"
    seeds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    task = Task.load(TASKS / name, num_rounds=int(sys.argv[4]) if len(sys.argv) > 4 else None)
    out.mkdir(parents=True, exist_ok=True)
    studies = {
        varied: run_study(
            task,
            {BASELINE_ARM: {}},
            (seeds + 1) // 2,  # the study runs its baseline on twice the seeds per arm
            out / f"{name}_{'varied' if varied else 'fixed'}_partition.json",
            choose("auto"),
            progress=lambda line: print(line, flush=True),
            vary_partition=varied,
        )
        for varied in (False, True)
    }
    print(f"\n{name}, {task.budget['num_rounds']} rounds, baseline; sd over seeds, one partition vs one per seed")
    print("split       aggregation      n   mean (one)  sd (one)  mean (per seed)  sd (per seed)  ratio [95% CI]   p")
    for split in STUDY_SPLITS:
        for aggregation in AGGREGATIONS:
            one, each = (
                [runs[split][aggregation] for runs in studies[varied].scores[BASELINE_ARM].values()]
                for varied in (False, True)
            )
            a, b, ratio = describe(one), describe(each), sd_ratio(one, each)
            print(
                f"{split:<11} {aggregation:<15} {len(one):>2}/{len(each):<2} {a['mean']:.4f}     {a['sd']:.4f}    "
                f"{b['mean']:.4f}           {b['sd']:.4f}         {ratio['sd_ratio']:.2f} "
                f"[{ratio['ci_low']:.2f}, {ratio['ci_high']:.2f}]  {ratio['p']:.3f}"
            )
