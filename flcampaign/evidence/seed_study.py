"""Run a seed study: the baseline and a few changes on many seeds, each run scored on both splits.

Real simulations through the runner and the trusted evaluator, as a campaign's repeat stage runs
them, but outside the workflow (a study is a measurement of the rules, not a campaign). The study
is saved after every run and resumed from what is saved, so an interrupted study loses at most the
runs in flight.
"""

import itertools
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flcampaign.contract.candidate import write_metadata
from flcampaign.contract.validation import validate_candidate
from flcampaign.data.splits import partition_seed, prepare
from flcampaign.evidence.calibration import BASELINE_ARM, STUDY_SPLITS, SeedStudy
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import Sandbox
from flcampaign.execution.slots import Slot
from flcampaign.files import read_json, write_json
from flcampaign.layout import Records
from flcampaign.scoring.evaluator import score_run
from flcampaign.task import Task

FIRST_SEED = 1000  # disjoint from every task's search and repeat seeds


class StudyError(RuntimeError):
    """An arm that cannot be validated, or a run that did not end with a score."""


def arm_folder(arm: str) -> str:
    """The candidate id an arm runs as (an arm may be named like the parent alias: the baseline arm is)."""
    return f"arm-{arm}"


def study_jobs(arms: dict[str, dict], per_arm: int, done: SeedStudy) -> list[tuple[str, int]]:
    """(arm, seed) still to run: the baseline on twice as many seeds (its second half is the null arm)."""
    jobs = [(arm, FIRST_SEED + k) for arm in arms for k in range(2 * per_arm if arm == BASELINE_ARM else per_arm)]
    return [(arm, seed) for arm, seed in jobs if seed not in done.scores.get(arm, {})]


def run_study(
    task: Task,
    arms: dict[str, dict],
    per_arm: int,
    out: Path,
    sandbox: Sandbox,
    workers: int = 2,
    progress: Callable[[str], None] = print,
    vary_partition: bool = False,
) -> SeedStudy:
    """Run (or resume) the study into ``out``; ``arms`` maps an arm id to its knob values (the baseline's: {}).
    With ``vary_partition`` each seed trains and is scored on its own client partition, as repeats do under
    ``repeats.vary_partition``."""
    study = SeedStudy(task.name, task.budget["num_rounds"], dict(arms), sandbox=sandbox.kind, partitions=vary_partition)
    if Path(out).is_file():
        study = SeedStudy.from_dict(read_json(Path(out)))
    if study.partitions != vary_partition:
        raise StudyError(f"{out} was run with partitions varied = {study.partitions}: resume it the same way")
    jobs = study_jobs(arms, per_arm, study)
    saving, preparing, started = threading.Lock(), threading.Lock(), time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        records = Records(root / "results")  # the campaign's layout, so a partition's splits sit where a campaign's do
        campaign = prepare(task, records.splits)

        def splits_of(seed: int) -> Path:
            """The seed's own partition's splits (prepared once), or the study's one partition."""
            partition = partition_seed("repeat", seed, vary_partition)
            folder = records.partition_splits(partition)
            with preparing:
                if not folder.is_dir():
                    prepare(task, folder, partition, campaign)
            return folder

        validations = {}
        for arm, args in arms.items():
            folder = root / "candidates" / arm_folder(arm)
            folder.mkdir(parents=True)
            meta = {"title": arm, "hypothesis": "seed study", "parent": "baseline", "family": "study"}
            write_metadata(folder, meta | {"created": "2026-12-01T00:00:00+00:00", "args": args})
            validations[arm] = validate_candidate(root / "candidates", folder.name, task, records.root)
            if validations[arm]["state"] != "ok":
                raise StudyError(f"arm {arm}: {validations[arm].get('rule')}: {validations[arm].get('reason')}")

        def run(job: tuple[str, int], slot: int) -> None:
            arm, seed = job
            tree = records.tree(arm_folder(arm))
            run_dir = root / "runs" / arm / str(seed)
            lease, splits = [Slot(slot, "cpu", f"cpu{slot}")], splits_of(seed)
            record = simulate(task, validations[arm], tree, splits / "train", "repeat", seed, run_dir,
                              root / "work" / arm / str(seed), lease, root / "locks", sandbox)  # fmt: skip
            if record["state"] != "ok":
                raise StudyError(f"{arm} seed {seed}: {record['state']}: {record.get('reason')}")
            scored = {}
            for split in STUDY_SPLITS:
                path = run_dir / f"{split}.json"
                scored[split] = score_run(task, record, run_dir, tree, splits, split, path, sandbox)
                if scored[split]["state"] != "ok":
                    raise StudyError(f"{arm} seed {seed} on {split}: {scored[split].get('reason')}")
            with saving:
                for split, score in scored.items():
                    study.add(arm, seed, split, score)
                write_json(Path(out), study.as_dict())
                count = sum(len(seeds) for seeds in study.scores.values())
            progress(f"[{time.monotonic() - started:6.0f} s] {count} runs scored; {arm} seed {seed}")

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, jobs, itertools.cycle(range(workers))))
    return study
