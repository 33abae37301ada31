"""Same-budget scalar controls: a scripted search over the task's declared knobs only.

Controls answer "could plain tuning of the unchanged baseline recipe have found this?". They use
the baseline's code, the same budget and rounds, and knob values drawn with a fixed seed: uniform
(log-uniform for ``log_scale`` knobs) inside the declared bounds, or uniform over the choices.
"""

import math
from pathlib import Path

import numpy as np

from flcampaign.contract.candidate import write_metadata
from flcampaign.contract.validation import validate_candidate
from flcampaign.evidence.tpe_controls import TPE_PREFIX, TpeSettings, arm_ids
from flcampaign.execution.compute import REFERENCE_ID, reference_args
from flcampaign.files import atomic_write_text, read_json, write_json
from flcampaign.layout import SCORE_RECORD, Records
from flcampaign.records import finish, scored_records, validation_record
from flcampaign.task import Task, require_knobs

CONTROL_PREFIX = "_ctl-"
BEST_CONTROL = f"{CONTROL_PREFIX}best"
CONTROL_CREATED = "2000-01-01T00:00:00+00:00"  # fixed: a control's record must not change between runs


def draw_knob(rng: np.random.Generator, spec: dict) -> object:
    if "choices" in spec:
        return spec["choices"][int(rng.integers(len(spec["choices"])))]
    low, high = float(spec["min"]), float(spec["max"])
    if spec.get("log_scale") and low > 0:
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    if spec["type"] == "int":
        return int(min(max(round(value), math.ceil(low)), math.floor(high)))
    return float(f"{value:.6g}")


def draw_controls(task: Task, n: int, seed: int) -> list[dict]:
    """``n`` knob settings, each a full assignment of every declared knob."""
    rng = np.random.default_rng(seed)
    controls = []
    for index in range(1, n + 1):
        args = {name: draw_knob(rng, spec) for name, spec in task.knobs.items()}
        require_knobs(args, task.knobs, "a random control draw")
        controls.append({"id": f"{CONTROL_PREFIX}{index:03d}", "args": args})
    return controls


def control_arms(controls: list[dict], results: Path, search_seed: int, tpe: TpeSettings | None = None) -> dict:
    """Every control (id and knob values: the random draws, then TPE's in the order it asked) with its arm and search
    score, and the TPE arm's settings: what the evidence and the report show of the controls."""
    records = Records(Path(results))
    found = []
    for control in controls:
        scored = scored_records(records, "control", control["id"], [search_seed], SCORE_RECORD)
        arm = "tpe" if control["id"].startswith(TPE_PREFIX) else "random"
        score = scored[search_seed][0] if scored else None
        found.append({"id": control["id"], "args": control["args"], "arm": arm, "search_score": score})
    settings = None
    if tpe is not None and tpe.enabled:
        runs = sum(c["arm"] == "tpe" for c in found)
        settings = {"n": runs, "batch": tpe.batch, "startup": tpe.random_start, "seed": tpe.seed}
    return {"controls": found, "tpe": settings}


def control_score_paths(random_scores: list[Path], tpe: dict | None, results: Path, search_seed: int) -> list[Path]:
    """Every control's search-seed score record: the random arm's as the workflow lists them, then the TPE arm's in
    the order it asked (its last step lists them all)."""
    records = Records(Path(results))
    tpe_scores = [records.score_record("control", cid, search_seed) for cid in arm_ids(tpe)] if tpe else []
    return [Path(path) for path in random_scores] + tpe_scores


def validated_controls(score_paths: list[Path], results: Path) -> list[dict]:
    """The controls behind the workflow's control score records, with the knob values their validation recorded:
    read from the records, so writing them waits on no checkpoint and re-runs only when a control does."""
    records = Records(Path(results))
    ids = [Path(path).parent.parent.name for path in score_paths]
    return [{"id": cid, "args": read_json(records.validation(cid))["args"]} for cid in ids]


def write_scalar_candidate(task: Task, record_id: str, meta: dict, results: Path) -> dict:
    """A knob-only candidate of the unchanged baseline (a control, the compute reference), validated like any other."""
    folder = Records(Path(results)).scalar_candidate(record_id)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "parent": "baseline", "created": CONTROL_CREATED}
    write_metadata(folder, meta)
    return validate_candidate(folder.parent, folder.name, task, results, record_id=record_id)


def write_control(task: Task, control: dict, results: Path) -> dict:
    """Materialise one control as a scalar-only candidate of the baseline and validate it like any other."""
    tuner = "TPE" if control["id"].startswith(TPE_PREFIX) else "random"
    meta = {
        "title": f"Scalar control {control['id']}: " + ", ".join(f"{k}={v}" for k, v in control["args"].items()),
        "hypothesis": f"Same-budget tuning ({tuner}) of the declared knobs of the unchanged baseline recipe.",
        "family": "scalar-control",
        "args": control["args"],
    }
    return write_scalar_candidate(task, control["id"], meta, results)


def pick_best_control(task: Task, score_paths: list[Path], results: Path) -> dict:
    """Re-file the best-scoring control (ties to the lower id) as the control to repeat.

    ``score_paths`` are the controls' ``runs/control/<id>/seed<S>/score.json`` records.
    """
    best = None
    for path in sorted(score_paths, key=lambda p: p.parent.parent.name):
        score = read_json(path)
        if score["state"] == "ok" and (best is None or task.better(score["score"], best[1])):
            best = (path.parent.parent.name, score["score"])
    records = Records(Path(results))
    if best is None:
        records.tree(BEST_CONTROL).mkdir(parents=True, exist_ok=True)
        atomic_write_text(records.effective_diff(BEST_CONTROL), "")
        record = validation_record(BEST_CONTROL, task.name, task.budget_sha256, task.fixed_hashes)
        finish(record, "invalid", "no control produced a score", "no-control")
        write_json(records.validation(BEST_CONTROL), record)
        return record
    control_id, score = best
    folder = records.scalar_candidate(control_id)
    record = validate_candidate(folder.parent, folder.name, task, results, record_id=BEST_CONTROL)
    record.update(source_control=control_id, source_score=score)
    write_json(records.validation(BEST_CONTROL), record)
    return record


def write_reference(task: Task, results: Path) -> dict:
    """The compute reference as a knob-only candidate of the baseline (``_compute-ref``)."""
    args = reference_args(task)
    meta = {
        "title": "Compute reference: the baseline at "
        + (", ".join(f"{k}={v}" for k, v in args.items()) or "its knobs"),
        "hypothesis": "The most compute the declared surface allows; every run's budget is relative to it.",
        "family": "compute-reference",
        "args": args,
    }
    return write_scalar_candidate(task, REFERENCE_ID, meta, results)
