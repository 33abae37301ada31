"""Where one simulation's time goes, as the runner runs it, with NVFlare's default waits and with the
runner's shortened ones (flcampaign.execution.nvflare_settings), next to the training compute it does.

Runs the bundled baseline of heart_disease at its full budget (real NVFlare simulations through the
runner, in the sandbox the machine allows), alternating the two settings, and reads each run's phases
from its record and its simulator log: export (job.py --export), simulator start-up (until the FedAvg
controller runs), client start (until the first client trains), the rounds, and shutdown. The training
compute is the same budget (every client's local steps of every round) in one plain PyTorch process,
measured in the same run, so the ratios hold on a slower or faster day. It also compares the final
models of the two settings at the same seed.

Usage: python bench/simulation_budget.py [repetitions]
"""

import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path

from flcampaign.contract.validation import validate_candidate
from flcampaign.data.splits import prepare
from flcampaign.evidence.winners import max_weight_difference
from flcampaign.execution import nvflare_settings
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import choose
from flcampaign.execution.slots import machine_slots
from flcampaign.files import read_json
from flcampaign.layout import Records
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
MARKS = {
    "controller": "Beginning model controller run",
    "first_training": "sending task data to in-process trainer",
    "finished": "Finished FedAvg",
}
ROUND = re.compile(r"Round (\d+) started")
# name: (job fields the runner writes, NVFlare's fixed waits capped)
SETTINGS = {
    "nvflare defaults": ({}, False),
    "job settings": (nvflare_settings.DEFAULTS, False),
    "+ capped waits": (nvflare_settings.DEFAULTS, True),
}

PLAIN_TRAINING = textwrap.dedent(
    """
    import resource, sys, time
    start = time.perf_counter()
    import numpy as np, torch
    sys.path.insert(0, sys.argv[1])
    from model import HeartLogReg
    torch.manual_seed(0)
    rounds, steps, batch, sites = (int(v) for v in sys.argv[3:7])
    data = [np.load(f"{sys.argv[2]}/site-{k}.npz") for k in range(1, sites + 1)]
    model = HeartLogReg()
    for _ in range(rounds):
        for site in data:
            x, y = torch.as_tensor(site["x"], dtype=torch.float32), torch.as_tensor(site["y"], dtype=torch.float32)
            local = HeartLogReg(); local.load_state_dict(model.state_dict())
            optimiser = torch.optim.SGD(local.parameters(), lr=0.001)
            for step in range(steps):
                index = torch.randint(0, len(x), (batch,))
                loss = torch.nn.functional.binary_cross_entropy(local(x[index]), y[index])
                optimiser.zero_grad(); loss.backward(); optimiser.step()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(time.perf_counter() - start, usage.ru_utime + usage.ru_stime)
    """
)


def log_times(log: Path) -> dict[str, float | list[float]]:
    """Epoch seconds of the phase marks in a simulator log, and of each round's start."""
    marks: dict[str, float | list[float]] = {"rounds": []}
    last = None
    for line in log.read_text(errors="replace").splitlines():
        found = STAMP.match(line)
        if found:
            last = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        for name, text in MARKS.items():
            if text in line and name not in marks and last is not None:
                marks[name] = last
        if ROUND.search(line) and last is not None:
            rounds = marks["rounds"]
            assert isinstance(rounds, list)
            rounds.append(last)
    return marks


def phases(run: dict, log: Path) -> dict[str, float]:
    """Seconds of each phase of one run (from its record and its simulator log)."""
    timing, marks = run["timing"], log_times(log)
    started, ended = timing["simulator_started_at"], timing["simulator_started_at"] + timing["simulator_s"]
    rounds = marks["rounds"]
    assert isinstance(rounds, list)
    controller, first, finished = (float(marks[name]) for name in MARKS)  # type: ignore[arg-type]
    per_round = statistics.mean(b - a for a, b in zip(rounds[1:], rounds[2:], strict=False)) if len(rounds) > 2 else 0.0
    return {
        "export (job.py --export)": timing["export_s"],
        "simulator start-up": controller - started,
        "client start (to first training)": first - controller,
        "round 0 (first training)": rounds[1] - first,
        "rounds after the first": finished - rounds[1],
        "  per round": per_round,
        "shutdown (FedAvg done to exit)": ended - finished,
        "total (runtime_seconds)": run["runtime_seconds"],
        "CPU seconds": run["compute"]["cpu_seconds"],
    }


def plain_training(task: Task, split_dir: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of the budget's training steps in one plain process (torch import included)."""
    budget, steps = task.budget, task.knobs["local_steps"]["default"]
    args = [str(task.sources), str(split_dir / "train"), str(budget["num_rounds"]), str(steps)]
    args += [str(budget["batch_size"]), str(budget["n_clients"])]
    out = subprocess.run([sys.executable, "-c", PLAIN_TRAINING, *args], capture_output=True, text=True, check=True)
    wall, cpu = (float(v) for v in out.stdout.split())
    return wall, cpu


def main(repetitions: int = 1) -> None:
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    sandbox = choose("auto")
    with tempfile.TemporaryDirectory() as scratch:
        records = Records(Path(scratch) / "results")
        prepare(task, records.splits)
        validation = validate_candidate(REPO / "candidates", "0000-baseline", task, records.root)
        figures: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}
        models: dict[str, Path] = {}
        plain = []
        for repetition in range(repetitions):
            plain.append(plain_training(task, records.splits))
            for name, (settings, short_waits) in SETTINGS.items():
                label = f"{name.replace(' ', '-')}-{repetition}"
                out, work = Path(scratch) / "runs" / label, Path(scratch) / "work" / label
                run = simulate(
                    task, validation, records.tree("0000-baseline"), records.split("train"), "search", 0, out, work,
                    machine_slots(1, 1), Path(scratch) / "slots", sandbox, idle_settings=settings,
                    short_waits=short_waits,
                )  # fmt: skip
                if run["state"] != "ok":
                    raise SystemExit(f"{name}: run {run['state']}: {run['reason']}")
                figures[name].append(phases(read_json(out / "run.json"), out / "sim.log"))
                models.setdefault(name, out / "global_model.pt")
                print(f"  {name}, repetition {repetition + 1}: {run['runtime_seconds']:.1f} s", flush=True)
        plain_wall = statistics.median(w for w, _ in plain)
        plain_cpu = statistics.median(c for _, c in plain)
        reference_model = models[next(iter(SETTINGS))]
        differences = {name: max_weight_difference(reference_model, model) for name, model in models.items()}
    print(f"\none full-budget {task.name} simulation ({task.budget['n_clients']} clients, {task.budget['num_rounds']} "
          f"rounds), sandbox {sandbox.kind}, median of {repetitions}:\n")  # fmt: skip
    names = list(SETTINGS)
    print(f"{'phase':40s}" + "".join(f"{name:>18s}" for name in names))
    for phase in figures[names[0]][0]:
        cells = "".join(f"{statistics.median(entry[phase] for entry in figures[name]):18.2f}" for name in names)
        print(f"{phase:40s}{cells}")
    print(f"\ntraining compute in one plain process (same steps, torch import included): "
          f"{plain_wall:.2f} s wall, {plain_cpu:.2f} CPU-s")  # fmt: skip
    limit = 3 * plain_wall + 10
    for name in names:
        total = statistics.median(entry["total (runtime_seconds)"] for entry in figures[name])
        cpu = statistics.median(entry["CPU seconds"] for entry in figures[name])
        ratios = f"{total / plain_wall:.1f}x the plain training's wall time, {cpu / plain_cpu:.1f}x its CPU"
        print(f"{name}: {total:.1f} s = {ratios}; target 3x + 10 s = {limit:.1f} s, ratio {total / limit:.2f}")
    print(f"physical limit: the plain training itself, {plain_wall:.1f} s")
    before = statistics.median(e["total (runtime_seconds)"] for e in figures[names[0]])
    for name in names[1:]:
        after = statistics.median(e["total (runtime_seconds)"] for e in figures[name])
        print(f"{name} vs {names[0]}: {after / before:.2f}x the wall time; same seed, final model's largest "
              f"weight difference {differences[name]:.2e}")  # fmt: skip


if __name__ == "__main__":
    start = time.perf_counter()
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    print(f"(benchmark took {time.perf_counter() - start:.0f} s)")
