"""Cost of the bubblewrap sandbox: the bundled baseline simulated and scored with and without it.

Usage: python bench/sandbox.py [rounds] [repetitions]
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from flcampaign.contract.validation import validate_candidate
from flcampaign.data.splits import prepare
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import choose
from flcampaign.execution.slots import Slot
from flcampaign.files import read_json
from flcampaign.scoring.evaluator import score_run
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent


def one_run(task: Task, root: Path, mode: str, index: int) -> tuple[float, float]:
    """Seconds for simulate and score of the baseline under ``mode``."""
    validation = read_json(root / "results" / "candidates" / "0000-baseline" / "validation.json")
    tree = root / "results" / "candidates" / "0000-baseline" / "src"
    out = root / "runs" / f"{mode}-{index}"
    sandbox = choose(mode)
    start = time.perf_counter()
    work = root / "work" / f"{mode}-{index}"
    slots = [Slot(0, "cpu", "cpu0")]
    train = root / "splits" / "train"
    run = simulate(task, validation, tree, train, "search", 0, out, work, slots, root / "locks", sandbox)
    simulated = time.perf_counter() - start
    assert run["state"] == "ok", run.get("reason")
    start = time.perf_counter()
    scored = score_run(task, run, out, tree, root / "splits", "search_val", out / "score.json", sandbox)
    assert scored["state"] == "ok", scored.get("reason")
    return simulated, time.perf_counter() - start


def main(rounds: int = 5, repetitions: int = 3) -> None:
    if choose("auto").kind != "bubblewrap":
        sys.exit(f"no sandbox on this machine ({choose('auto').detail}): nothing to compare")
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease", num_rounds=rounds)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        prepare(task, root / "splits")
        validate_candidate(REPO / "candidates", "0000-baseline", task, root / "results")
        times = {"off": [], "required": []}
        for index in range(repetitions):
            for mode in times:  # interleaved, so drift in machine load hits both alike
                times[mode].append(one_run(task, root, mode, index))
    print(f"baseline, {rounds} rounds, {repetitions} repetitions each (median seconds):")
    medians = {}
    for mode, values in times.items():
        sim, score = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
        medians[mode] = (sim, score)
        label = "bubblewrap" if mode == "required" else "unsandboxed"
        print(f"  {label:12s} simulate {sim:6.2f} s   score {score:5.2f} s")
    (sim_off, score_off), (sim_on, score_on) = medians["off"], medians["required"]
    print(f"sandbox overhead: simulate {sim_on / sim_off - 1:+.1%}, score {score_on / score_off - 1:+.1%}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
