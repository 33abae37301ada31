"""Trusted scoring: the task's evaluator judges the saved final global model.

The candidate's model class turns features into predictions in a contained subprocess; labels,
the metric and the site aggregation stay here. The parameter count is taken by the trusted driver
before any candidate code is imported and sent back through a pipe the driver then closes, so the
candidate's code can neither see nor change it. Client-reported metrics and anything the run
wrote are never read.
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from flcampaign.files import sha256_bytes, sha256_file, write_json
from flcampaign.process import filtered_env, run_contained
from flcampaign.sandbox import Sandbox
from flcampaign.splits import load_split
from flcampaign.task import Task

PREDICT_DRIVER = Path(__file__).with_name("predict_driver.py")


def evaluator_sha256() -> str:
    """Hash of the code that decides the score (this module and the prediction driver)."""
    return sha256_bytes(Path(__file__).read_bytes() + PREDICT_DRIVER.read_bytes())


def _check_rows(predictions: np.ndarray, labels: np.ndarray, shape: tuple) -> None:
    if predictions.shape != shape or not np.all(np.isfinite(predictions)):
        raise ValueError(
            f"predictions of shape {predictions.shape} for {labels.shape} labels (want {shape}), or not finite"
        )


def binary_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """FLamby's accuracy: ((p > 0.5) == y).mean(); one probability per row."""
    _check_rows(probabilities, labels, labels.shape)
    return float(((probabilities > 0.5) == (labels > 0.5)).mean())


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class accuracy: the arg-max of each row's class scores against the integer label."""
    if scores.ndim != 2:
        raise ValueError(f"predictions of shape {scores.shape}: want one row of class scores per sample")
    _check_rows(scores, labels, (len(labels), scores.shape[1]))
    return float((scores.argmax(axis=1) == labels.astype(int)).mean())


def c_index(risk: np.ndarray, labels: np.ndarray) -> float:
    """Harrell's concordance of risk scores with survival (labels: time, event), as lifelines computes it.

    A pair is comparable when the earlier time is an event; it is concordant when that subject has
    the higher risk, and a tie in risk counts one half. Tied times count only when one is an event
    and the other censored (the event comes first). Without a comparable pair the index is 0.5.
    """
    risk = risk.reshape(-1) if risk.ndim == 2 and risk.shape[1] == 1 else risk
    _check_rows(risk, labels, (len(labels),))
    time, event = labels[:, 0], labels[:, 1] > 0.5
    concordant = comparable = 0.0
    for i in np.flatnonzero(event):
        later = (time > time[i]) | ((time == time[i]) & ~event)
        comparable += later.sum()
        concordant += (risk[i] > risk[later]).sum() + 0.5 * (risk[i] == risk[later]).sum()
    return float(concordant / comparable) if comparable else 0.5


METRICS = {"binary_accuracy": binary_accuracy, "accuracy": accuracy, "c_index": c_index}


def score_predictions(task: Task, predictions: dict[str, np.ndarray], data: dict[str, tuple]) -> dict:
    """Per-site and pooled metric; the profile's site aggregation picks the score."""
    metric = METRICS[task.metric["kind"]]
    per_site, pooled_pred, pooled_true = {}, [], []
    for site, (_, labels) in data.items():
        pred = predictions.get(site)
        if pred is None:
            raise ValueError(f"{site}: no predictions")
        try:
            per_site[site] = metric(pred, labels)
        except ValueError as error:
            raise ValueError(f"{site}: {error}") from None
        pooled_pred.append(pred)
        pooled_true.append(labels)
    pooled = metric(np.concatenate(pooled_pred), np.concatenate(pooled_true))
    mean = float(np.mean(list(per_site.values())))
    score = pooled if task.metric["site_aggregation"] == "pooled" else mean
    return {"score": score, "per_site": per_site, "pooled": pooled, "mean_over_sites": mean}


def score_run(
    task: Task, run: dict, run_dir: Path, tree: Path, split_dir: Path, split: str, out_path: Path, sandbox: Sandbox
) -> dict:
    """Score one run on ``split``; writes ``out_path`` (score.json) in every case."""
    record = {"candidate": run["candidate"], "phase": run["phase"], "seed": run["seed"], "split": split}
    record["sandbox"] = sandbox.record()
    record.update(metric=task.metric["name"], direction=task.metric["direction"], evaluator_sha256=evaluator_sha256())
    if run["state"] != "ok":
        return _finish(record, out_path, "skipped", f"run: {run['state']}")
    model_path = Path(run_dir) / "global_model.pt"
    if sha256_file(model_path) != run["model_sha256"]:
        return _finish(record, out_path, "invalid", "global_model.pt changed after the run", rule="integrity")
    record["model_sha256"] = run["model_sha256"]
    data = load_split(split_dir, split)
    record["split_sha256"] = {site: sha256_file(Path(split_dir) / split / f"{site}.npz") for site in data}
    with tempfile.TemporaryDirectory(prefix="flc-predict-") as tmp:
        tmp = Path(tmp)
        for sub in ("features", "predictions"):
            (tmp / sub).mkdir()
        for site, (features, _) in data.items():
            np.save(tmp / "features" / f"{site}.npy", features)
        write_spec = tmp / "model_spec.json"
        write_json(write_spec, run["model_spec"])
        shutil.copytree(tree, tmp / "code")
        cmd = [
            sys.executable,
            str(PREDICT_DRIVER),
            str(tmp / "code"),
            str(model_path.resolve()),
            str(write_spec),
            str(tmp / "features"),
            str(tmp / "predictions"),
        ]
        log = Path(out_path).with_suffix(".log")
        log.unlink(missing_ok=True)
        report_read, report_write = os.pipe()
        cmd.append(str(report_write))
        try:
            readonly = [PREDICT_DRIVER, tmp / "code", model_path, write_spec, tmp / "features"]
            outcome = run_contained(
                sandbox.wrap(cmd, tmp / "code", readonly=readonly, writable=[tmp / "predictions"]),
                tmp / "code",
                filtered_env({}),
                task.budget["predict_timeout_seconds"],
                log,
                pass_fds=(report_write,),
            )
        finally:
            os.close(report_write)
        with os.fdopen(report_read) as report:
            checked = report.read()
        record["predict_seconds"] = round(outcome.elapsed_s, 3)
        if checked:
            record["n_params"] = json.loads(checked)["n_params"]
            if record["n_params"] > task.budget["max_model_params"]:
                reason = f"{record['n_params']} parameters > cap {task.budget['max_model_params']}"
                return _finish(record, out_path, "invalid", reason, rule="max-model-params")
        if outcome.timed_out or outcome.returncode != 0:
            reason = "timed out" if outcome.timed_out else f"exit code {outcome.returncode}"
            return _finish(
                record, out_path, "crash", f"prediction step failed ({reason}); see {log.name}", rule="predict"
            )
        predictions = {p.stem: np.load(p, allow_pickle=False) for p in (tmp / "predictions").glob("*.npy")}
    try:
        record.update(score_predictions(task, predictions, data))
    except ValueError as error:
        return _finish(record, out_path, "crash", f"unusable predictions: {error}", rule="predict")
    return _finish(record, out_path, "ok", "")


def _finish(record: dict, out_path: Path, state: str, reason: str, rule: str = "") -> dict:
    record.update(state=state, reason=reason, rule=rule)
    write_json(out_path, record)
    return record
