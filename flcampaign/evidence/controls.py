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
from flcampaign.execution.compute import REFERENCE_ID, reference_args
from flcampaign.files import atomic_write_text, read_json, write_json
from flcampaign.layout import Records
from flcampaign.records import finish, validation_record
from flcampaign.task import Task, check_knob

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
        for name, value in args.items():
            problem = check_knob(name, value, task.knobs[name])
            if problem:
                raise ValueError(f"control draw broke its own knob bounds: {problem}")
        controls.append({"id": f"{CONTROL_PREFIX}{index:03d}", "args": args})
    return controls


def write_scalar_candidate(task: Task, record_id: str, meta: dict, results: Path) -> dict:
    """A knob-only candidate of the unchanged baseline (a control, the compute reference), validated like any other."""
    folder = Records(Path(results)).scalar_candidate(record_id)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "parent": "baseline", "created": CONTROL_CREATED}
    write_metadata(folder, meta)
    return validate_candidate(folder.parent, folder.name, task, results, record_id=record_id)


def write_control(task: Task, control: dict, results: Path) -> dict:
    """Materialise one control as a scalar-only candidate of the baseline and validate it like any other."""
    meta = {
        "title": f"Scalar control {control['id']}: " + ", ".join(f"{k}={v}" for k, v in control["args"].items()),
        "hypothesis": "Same-budget tuning of the declared knobs of the unchanged baseline recipe.",
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
