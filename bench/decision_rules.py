"""Error rates of two decision rules on the bundled task: the compute budget and the perturbation check.

Usage:
  python bench/decision_rules.py compute [rounds] [repetitions]   # real NVFlare runs, two at a time
  python bench/decision_rules.py perturbation [campaign folder]    # the scored models of a finished campaign

compute: runs the compute reference (the baseline at the knobs' maxima) ``repetitions`` times, half
alone and half two at a time, and the same recipe with 2x, 4x and 8x hidden local steps; prints each
run's CPU seconds, the false-alarm rate of the ratio rule for an honest run at the reference (share
of ordered pairs of reference runs whose ratio passes the cap) and which hidden multiples it catches.

perturbation: scores every final model of the campaign (search, controls, repeats) on the
search-validation split through the evaluator's own views, many draws each, and a model that memorised
every row's label; prints the distribution of the score's fall and the share above ``max_drop``.
"""

import itertools
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from flcampaign.contract.candidate import write_metadata
from flcampaign.contract.validation import patches, validate_candidate
from flcampaign.data.splits import load_split, prepare
from flcampaign.execution.compute import DEFAULT_RATIO, reference_args
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import choose
from flcampaign.execution.slots import Slot
from flcampaign.scoring.evaluator import PERTURBATION_DEFAULTS, Views, score_predictions
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent
TASK_DIR = REPO / "flcampaign" / "tasks" / "heart_disease"
HIDDEN = (2, 4, 8)


def write_candidate(root: Path, cid: str, args: dict, hidden: int = 1) -> None:
    folder = root / "candidates" / cid
    folder.mkdir(parents=True)
    if hidden > 1:
        edited = root / "edited" / cid
        shutil.copytree(Task.load(TASK_DIR).sources, edited)
        client = (edited / "client.py").read_text()
        (edited / "client.py").write_text(
            client.replace("for _ in range(steps):", f"for _ in range(steps * {hidden}):")
        )
        (folder / "patches").mkdir()
        (folder / "patches" / "001.patch").write_text(patches.make(Task.load(TASK_DIR).sources, edited))
    meta = {"title": cid, "hypothesis": "bench", "parent": "baseline", "family": "bench"}
    write_metadata(folder, meta | {"created": "2026-12-01T00:00:00+00:00", "args": args})


def compute(rounds: int, repetitions: int) -> None:
    """The reference recipe run alone and two at a time, and hidden local work: the 1.5x rule on raw CPU
    seconds and on CPU seconds at the reference's machine speed (the runner's probe)."""
    task = Task.load(TASK_DIR, num_rounds=rounds)
    args = reference_args(task)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        prepare(task, root / "splits")
        alone = [f"alone-{k}" for k in range(repetitions // 2)]
        paired = [f"paired-{k}" for k in range(repetitions - len(alone))]
        jobs = [(cid, 1) for cid in alone + paired] + [(f"hidden-{m}x", m) for m in HIDDEN]
        for cid, hidden in jobs:
            write_candidate(root, cid, args, hidden)

        def run(job: tuple[str, int], slot: int) -> float:
            cid = job[0]
            validation = validate_candidate(root / "candidates", cid, task, root / "results")
            tree = root / "results" / "candidates" / cid / "src"
            slots = [Slot(slot, "cpu", f"cpu{slot}")]
            record = simulate(task, validation, tree, root / "splits" / "train", "search", 0, root / "runs" / cid,
                              root / "work" / cid, slots, root / "locks", choose("auto"))  # fmt: skip
            assert record["state"] == "ok", (cid, record.get("reason"))
            return float(record["compute"]["cpu_seconds"])

        used = {cid: run((cid, 1), 0) for cid in alone}
        later = [job for job in jobs if not job[0].startswith("alone")]
        with ThreadPoolExecutor(max_workers=2) as pool:
            used |= dict(zip((cid for cid, _ in later), pool.map(run, later, itertools.cycle((0, 1))), strict=True))
    print(f"compute reference ({', '.join(f'{k}={v}' for k, v in args.items())}), {rounds} rounds: "
          f"{len(alone)} runs alone, {len(paired)} two at a time")  # fmt: skip
    references = alone + paired
    print("  CPU seconds: " + ", ".join(f"{cid} {used[cid]:.1f}" for cid in references))
    ratios = [used[a] / used[b] for a, b in itertools.permutations(references, 2)]
    false_alarms = sum(ratio > DEFAULT_RATIO for ratio in ratios)
    print(f"  largest ratio between reference runs {max(ratios):.3f}; false alarms of the {DEFAULT_RATIO}x rule: "
          f"{false_alarms} of {len(ratios)} ordered pairs")  # fmt: skip
    for multiple in HIDDEN:
        against = [used[f"hidden-{multiple}x"] / used[reference] for reference in references]
        caught = sum(ratio > DEFAULT_RATIO for ratio in against)
        print(f"  {multiple}x hidden local steps: {used[f'hidden-{multiple}x']:.1f} CPU-s, ratio "
              f"{min(against):.2f}-{max(against):.2f} against each reference run, caught against {caught} of "
              f"{len(against)}")  # fmt: skip


def heart_predictions(state: dict, features: np.ndarray) -> np.ndarray:
    weight = torch.as_tensor(state["linear.weight"]).double().numpy().ravel()
    bias = float(torch.as_tensor(state["linear.bias"]).double())
    return 1.0 / (1.0 + np.exp(-np.clip(features.astype(np.float64) @ weight + bias, -50, 50)))


def perturbation(campaign: Path, draws: int = 50) -> None:
    task = Task.load(TASK_DIR)
    data = load_split(campaign / "results" / "task", "search_val")
    models = sorted((campaign / "results" / "runs").glob("*/*/seed*/global_model.pt"))
    if not models:
        sys.exit(f"no final models under {campaign}/results/runs: run the campaign first")
    drops = []
    for path in models:
        state = torch.load(path, map_location="cpu", weights_only=True)["model"]
        for draw in range(draws):
            views = Views.draw(task, data, seed=f"{path}:{draw}")
            predictions = {name: heart_predictions(state, rows) for name, rows in views.features.items()}
            score = score_predictions(task, views.assemble(predictions, "a"), data)["score"]
            drops.append(views.function_checks(task, predictions, data, score)["perturbation_drop"])
    table = {tuple(np.round(row, 1)): float(label) for x, y in data.values() for row, label in zip(x, y, strict=True)}
    memorised = []
    state = torch.load(models[0], map_location="cpu", weights_only=True)["model"]

    def recall(rows: np.ndarray) -> np.ndarray:
        """The memorised label of a row it has seen, the model's prediction otherwise."""
        learned = heart_predictions(state, rows)
        return np.array([table.get(tuple(np.round(row, 1)), p) for row, p in zip(rows, learned, strict=True)])

    for draw in range(draws):
        views = Views.draw(task, data, seed=f"memorised:{draw}")
        predictions = {name: recall(rows) for name, rows in views.features.items()}
        score = score_predictions(task, views.assemble(predictions, "a"), data)["score"]
        memorised.append(views.function_checks(task, predictions, data, score)["perturbation_drop"])
    cap = PERTURBATION_DEFAULTS["max_drop"]
    drops_array = np.array(drops)
    print(f"perturbation check (scale {PERTURBATION_DEFAULTS['scale']}, {PERTURBATION_DEFAULTS['draws']} copies per "
          f"scoring, max_drop {cap}) on {len(models)} final models x {draws} draws:")  # fmt: skip
    print(f"  honest models: fall mean {drops_array.mean():+.4f}, sd {drops_array.std():.4f}, "
          f"99th percentile {np.quantile(drops_array, 0.99):+.4f}, max {drops_array.max():+.4f}")  # fmt: skip
    print(f"  false alarms: {(drops_array > cap).sum()} of {len(drops_array)} scorings")
    print(f"  memorising model: fall {np.mean(memorised):+.4f} (min {np.min(memorised):+.4f}), "
          f"caught in {sum(d > cap for d in memorised)} of {len(memorised)} scorings")  # fmt: skip


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "perturbation"
    if command == "compute":
        compute(int(sys.argv[2]) if len(sys.argv) > 2 else 15, int(sys.argv[3]) if len(sys.argv) > 3 else 6)
    else:
        perturbation(Path(sys.argv[2]) if len(sys.argv) > 2 else REPO)
