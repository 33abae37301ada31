"""Baseline benchmarks: the unchanged task sources, validated, simulated per seed and scored over seeds.

The ``bench/baseline_*.py`` scripts put each task's baseline next to its published figure (or say that
there is none). They share one layout under a scratch root: ``candidates/<cid>`` (the baseline candidate),
``splits/``, ``results/candidates/<cid>/src`` (the validated tree), ``runs/seed<N>`` (run and score
records), ``work/seed<N>`` and ``locks/``. What differs between them (figures, tolerances, the printed
explanation) stays in the scripts.
"""

import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from flcampaign.contract.candidate import write_metadata
from flcampaign.contract.validation import validate_candidate
from flcampaign.data.splits import SPLITS, prepare
from flcampaign.evidence.stats import describe
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import Sandbox
from flcampaign.execution.slots import Slot
from flcampaign.files import read_json
from flcampaign.scoring.evaluator import score_run
from flcampaign.task import Task

CID = "0000-baseline"
CREATED = "2026-11-24T00:00:00+00:00"
TABLE_HEADER = "seed  state  wall s   held-out pooled  held-out site mean  search-val pooled"


@contextlib.contextmanager
def scratch(keep: Path | None, prefix: str) -> Iterator[Path]:
    """The root to work in: ``keep`` if given, so splits, models and scores stay for inspection, else a temp folder."""
    if keep:
        yield Path(keep)
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


def write_candidate(candidates: Path, cid: str = CID, title: str = "baseline", hypothesis: str = "reference") -> Path:
    """Write ``candidates/<cid>/candidate.yaml`` with no args and no patches: the task's sources as shipped."""
    folder = Path(candidates) / cid
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"title": title, "hypothesis": hypothesis, "parent": "baseline", "family": "fedavg", "created": CREATED}
    write_metadata(folder, meta)
    return folder


def set_up(task: Task, root: Path, cid: str = CID, title: str = "baseline", hypothesis: str = "reference") -> dict:
    """Write and validate the baseline candidate under ``root``; raises ValueError with the reason if it is invalid.

    Every run is of the validated tree, as in a campaign, so a task whose own sources break the contract
    fails here with the rule and file rather than as an unexplained crash of the first simulation.
    """
    write_candidate(Path(root) / "candidates", cid, title, hypothesis)
    validation = validate_candidate(Path(root) / "candidates", cid, task, Path(root) / "results")
    if validation["state"] != "ok":
        raise ValueError(f"baseline is {validation['state']}: {validation['reason']}")
    return validation


def prepare_splits(task: Task, root: Path, reuse: bool = False) -> tuple[dict[str, int], float]:
    """Prepare ``root/splits``; returns rows per split over all sites and the seconds (the scripts report both).

    ``reuse`` keeps splits already prepared there (a kept work folder need not re-read a large archive).
    """
    done = Path(root) / "splits" / "splits.json"
    start = time.perf_counter()
    summary = read_json(done) if reuse and done.is_file() else prepare(task, Path(root) / "splits")
    rows = {split: sum(site[split] for site in summary["sites"].values()) for split in SPLITS}
    return rows, time.perf_counter() - start


def header(task: Task, sandbox: Sandbox, name: str, below: str) -> str:
    """The budget a baseline ran at, and a NOTE (``below``) if --rounds shortened it: figures compare at one budget."""
    budget = task.budget
    text = (
        f"{name} baseline: {budget['n_clients']} clients, {budget['num_rounds']} rounds, batch {budget['batch_size']}, "
        f"knobs {task.knob_values({})}, sandbox {sandbox.kind}"
    )
    if task.budget_note:
        text += f"\n  NOTE: {task.budget_note} (--rounds): {below}"
    return text


def run_seed(
    task: Task,
    root: Path,
    validation: dict,
    seed: int,
    sandbox: Sandbox,
    splits: Sequence[str] = ("heldout", "search_val"),
    slots: list[Slot] | None = None,
) -> dict:
    """Simulate the validated baseline at one repeat seed and score it on each split, timing both.

    Returns ``seed``, ``seconds`` (simulation and scorings), ``run`` (the run record) and one score record
    per split under the split's name; a failed run gives skipped score records, never an exception.
    """
    root = Path(root)
    out = root / "runs" / f"seed{seed}"
    tree = root / "results" / "candidates" / validation["candidate"] / "src"
    start = time.perf_counter()
    run = simulate(
        task,
        validation,
        tree,
        root / "splits" / "train",
        "repeat",
        seed,
        out,
        root / "work" / f"seed{seed}",
        slots=slots or [Slot(0, "cpu", "cpu0")],
        lock_dir=root / "locks",
        sandbox=sandbox,
    )
    scores = {
        split: score_run(task, run, out, tree, root / "splits", split, out / f"score_{split}.json", sandbox)
        for split in splits
    }
    return {"seed": seed, "seconds": time.perf_counter() - start, "run": run, **scores}


def failure(result: dict, split: str = "heldout") -> str:
    """Why a seed has no score on ``split``, "" if it has one: a failed run's own reason says more than "skipped"."""
    run, score = result["run"], result[split]
    if score["state"] == "ok":
        return ""
    if run["state"] != "ok":
        return f"run {run['state']}: {run.get('reason')}"
    return f"{score['state']}: {score.get('reason')}"


def accuracy_row(result: dict) -> str:
    """A finished seed's row under TABLE_HEADER: wall seconds, held-out pooled and site mean, search-val pooled."""
    held, val = result["heldout"], result["search_val"]
    return (f"{result['seed']:4d}  ok     {result['seconds']:6.1f}   {held['score']:.4f}           "
            f"{held['mean_over_sites']:.4f}              {val['score']:.4f}")  # fmt: skip


def seed_table(
    task: Task,
    root: Path,
    validation: dict,
    seeds: list[int],
    sandbox: Sandbox,
    header: str = TABLE_HEADER,
    row: Callable[[dict], str] = accuracy_row,
) -> list[dict]:
    """Run every seed and print its row as it finishes (a long run shows progress); returns every result."""
    print(header)
    results = []
    for seed in seeds:
        result = run_seed(task, root, validation, seed, sandbox)
        results.append(result)
        print(f"{seed:4d}  {failure(result)}" if failure(result) else row(result), flush=True)
    return results


def finished(results: list[dict], split: str = "heldout") -> list[dict]:
    """The seeds with a score on ``split``: figures over seeds count only runs that finished."""
    return [result for result in results if result[split]["state"] == "ok"]


def summary(results: list[dict], key: str, split: str = "heldout") -> dict[str, float]:
    """``describe`` of one score field (score, pooled, mean_over_sites) over seeds: the mean and its seed sd."""
    return describe([result[split][key] for result in results])


def median_seconds(results: list[dict]) -> float:
    """Median wall seconds per seed: the cost a campaign pays per simulation of this task."""
    return statistics.median(result["seconds"] for result in results)


def spread_text(results: list[dict]) -> str:
    """Held-out accuracy over seeds, pooled and mean over sites, with the seconds per seed: two printed lines."""
    pooled, site_mean = summary(results, "score"), summary(results, "mean_over_sites")
    return (
        f"held-out accuracy, pooled: {pooled['mean']:.4f} +- {pooled['sd']:.4f} (sd over {pooled['n']} seeds)\n"
        f"  mean over sites: {site_mean['mean']:.4f} +- {site_mean['sd']:.4f}; "
        f"median {median_seconds(results):.0f} s per seed"
    )
