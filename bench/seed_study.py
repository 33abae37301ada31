"""Many seeds of the bundled task's baseline and of three changes: the runs behind the measured error
rates of the campaign's decision rules (``flcampaign calibrate``, ``docs/statistics.md``).

Real NVFlare simulations through the runner, two at a time (the sandbox the machine allows), each
scored by the trusted evaluator on the search-validation and the held-out split, pooled and
averaged over sites. Seeds from 1000 on, disjoint from the search seed and the repeat seeds; the
baseline runs on twice as many seeds as each change, and its second half is the null arm of the
A/A study (a change that alters nothing but the run's randomness). The study is saved after every
run; a second call resumes it.

Usage: python bench/seed_study.py OUT.json [seeds per arm] [rounds]
"""

import sys
from pathlib import Path

from flcampaign.evidence.seed_study import run_study
from flcampaign.execution.sandbox import choose
from flcampaign.task import Task

TASK_DIR = Path(__file__).resolve().parent.parent / "flcampaign" / "tasks" / "heart_disease"
# arm -> knob values; the effects are what the study measures (the baseline's lr is 0.001)
ARMS = {
    "baseline": {},
    "fedavgm": {"aggregator": "fedavgm", "server_lr": 1.0, "server_momentum": 0.9},
    "lr-x1_5": {"lr": 0.0015},
    "lr-x2": {"lr": 0.002},
}

if __name__ == "__main__":
    out, per_arm = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 20
    task = Task.load(TASK_DIR, num_rounds=int(sys.argv[3]) if len(sys.argv) > 3 else None)
    study = run_study(task, ARMS, per_arm, out, choose("auto"), progress=lambda line: print(line, flush=True))
    print(f"{sum(len(seeds) for seeds in study.scores.values())} runs in {out}")
