"""Trusted scoring: the task's evaluator judges the saved final global model.

The candidate's model class turns features into predictions in a contained subprocess; labels,
the metric and the site aggregation stay here. The parameter count is taken by the trusted driver
before any candidate code is imported and sent back through a pipe the driver then closes, so the
candidate's code can neither see nor change it. Client-reported metrics and anything the run
wrote are never read.

``verify`` recomputes a recorded score with the same steps (``split_hashes``, ``scored_views``, ``judge``):
in its own process with the task's own class where the task fixes the architecture (``OwnModel``, no
candidate code), else through the same contained prediction step (``contained_predictions``).
"""

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flcampaign.data.splits import load_split, partition_of
from flcampaign.execution import compute
from flcampaign.execution.containment import Policy, importable_from, python_grants, violations_in
from flcampaign.execution.process import filtered_env, run_contained
from flcampaign.execution.sandbox import Sandbox
from flcampaign.files import sha256_bytes, sha256_file, write_json
from flcampaign.records import finish, score_record
from flcampaign.task import Task

PREDICT_DRIVER = Path(__file__).with_name("predict_driver.py")
PERTURBATION_DEFAULTS: dict[str, Any] = {"scale": 0.1, "draws": 8, "max_drop": 0.1}
ROW_TOLERANCE = 1e-4  # relative: the same row predicted in another order or batch


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
    task: Task,
    run: dict,
    run_dir: Path,
    tree: Path,
    split_dir: Path,
    split: str,
    out_path: Path,
    sandbox: Sandbox,
    reference: dict | None = None,
) -> dict:
    """Score one run on ``split``; writes ``out_path`` (score.json) in every case.

    ``reference`` is the compute reference run's record: a run over the compute budget is invalid.
    """
    record = score_record(
        run["candidate"], run["phase"], run["seed"], split, sandbox.record(), task.metric, evaluator_sha256()
    )
    record["partition_seed"] = partition_of(split_dir)
    if run["state"] != "ok":
        return _finish(record, out_path, "skipped", f"run: {run['state']}")
    model_path = Path(run_dir) / "global_model.pt"
    if sha256_file(model_path) != run["model_sha256"]:
        return _finish(record, out_path, "invalid", "global_model.pt changed after the run", rule="integrity")
    record["model_sha256"] = run["model_sha256"]
    record["compute"] = compute.check(task, run, reference)
    if "violation" in record["compute"]:
        return _finish(record, out_path, "invalid", record["compute"]["violation"], rule="compute-budget")
    fixed = task.model.get("fixed")
    data = load_split(split_dir, split)
    record["split_sha256"] = split_hashes(split_dir, split, data)
    views = scored_views(task, data, run["model_sha256"], record["split_sha256"])
    # where the task fixes the architecture, the weights go into the task's own class, not the candidate's
    own = own_spec(task)
    code, spec = (task.sources, own) if own is not None else (tree, run["model_spec"])
    outcome, predictions, log = _predict(task, model_path, code, spec, views, Path(split_dir), out_path, sandbox)
    record["predict_seconds"] = round(outcome["elapsed_s"], 3)
    if "n_params" in outcome:
        record["n_params"] = outcome["n_params"]
        if record["n_params"] > task.budget["max_model_params"]:
            reason = f"{record['n_params']} parameters > cap {task.budget['max_model_params']}"
            return _finish(record, out_path, "invalid", reason, rule="max-model-params")
    if outcome["violation"]:
        return _finish(record, out_path, "invalid", outcome["violation"][1], rule=outcome["violation"][0])
    if fixed and outcome["misfit"]:
        reason = f"the final model's tensors do not fit the task's own {fixed['class']}: {outcome['misfit']}"
        return _finish(record, out_path, "invalid", reason, rule="fixed-architecture")
    if outcome["failed"]:
        return _finish(
            record, out_path, "crash", f"prediction step failed ({outcome['failed']}); see {log.name}", rule="predict"
        )
    try:
        record.update(judge(task, views, predictions, data))
        checks = views.function_checks(task, predictions, data, record["score"])
    except ValueError as error:
        return _finish(record, out_path, "crash", f"unusable predictions: {error}", rule="predict")
    record["function_checks"] = checks
    if checks["row_difference"] > ROW_TOLERANCE * (1.0 + checks["prediction_scale"]):
        reason = (
            f"a row's prediction changed by {checks['row_difference']:.3g} when the rows beside it or their order "
            "changed: predictions must be a function of each row's features (no lookup by position or batch)"
        )
        return _finish(record, out_path, "invalid", reason, rule="row-independence")
    if checks["perturbation_drop"] > checks["max_drop"]:
        reason = (
            f"the score fell by {checks['perturbation_drop']:.3f} (from {record['score']:.3f}) when every feature "
            f"moved by {checks['scale']} of its spread (allowed {checks['max_drop']}): the predictions behave like "
            "a table of the evaluation rows, not a function of their features"
        )
        return _finish(record, out_path, "invalid", reason, rule="perturbation")
    return _finish(record, out_path, "ok", "")


def own_spec(task: Task) -> dict | None:
    """The model spec of the task's own class where the task fixes the architecture (else None): the weights are
    judged in that class, never in the candidate's."""
    fixed = task.model.get("fixed")
    return {"path": fixed["class"], "args": fixed.get("args", {}), "trusted": True} if fixed else None


def split_hashes(split_dir: Path, split: str, data: dict[str, tuple]) -> dict[str, str]:
    """sha256 of each site's file of the split, in the order the sites were loaded (that order seeds the views)."""
    return {site: sha256_file(Path(split_dir) / split / f"{site}.npz") for site in data}


def scored_views(
    task: Task, data: dict[str, tuple], model_sha256: str, split_sha256: dict[str, str], scored_only: bool = False
) -> "Views":
    """The views of one model on one split, drawn from the model's and the split files' hashes: the same rows in
    the same orders whenever that model is judged on that split. ``scored_only``: the scored view alone (``a``,
    drawn first, so it is the very view scoring drew) -- what recomputing the score needs."""
    return Views.draw(task, data, seed=f"{model_sha256}:{split_sha256}", scored_only=scored_only)


def judge(task: Task, views: "Views", predictions: dict[str, np.ndarray], data: dict[str, tuple]) -> dict:
    """The score of a model's predictions: those of the scored view (``a``), back in the split's row order, judged
    per site and pooled (``score_predictions``). How ``score_run`` scores and ``verify`` recomputes."""
    return score_predictions(task, views.assemble(predictions, "a"), data)


class PredictionFailed(ValueError):
    """The prediction step did not end cleanly; ``timed_out`` when it only ran out of time."""

    def __init__(self, message: str, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


class OwnModel:
    """The task's own model class, imported once in this process (trusted code only), for a task that fixes the
    architecture: ``verify`` predicts with it as the contained driver does (the weights read as tensors only,
    fitted strictly, each block of rows in one call on one thread), without any candidate code."""

    def __init__(self, task: Task):
        spec = own_spec(task)
        if spec is None:
            raise ValueError(f"task {task.name} does not fix the architecture: its model class is the candidate's")
        from flcampaign.scoring import predict_driver  # torch is imported only when a score is recomputed

        self.driver, self.spec = predict_driver, spec
        self.cls = predict_driver.own_class(task.sources, spec["path"])

    def predictions(self, model_path: Path, views: "Views") -> dict[str, np.ndarray]:
        import torch

        model = self.cls(**self.spec["args"])
        try:
            self.driver.fit(model, self.driver.load_state(model_path))
        except RuntimeError as error:
            misfit = " ".join(str(error).split())[:400]
            raise PredictionFailed(
                f"the final model's tensors do not fit the task's own {self.spec['path']}: {misfit}"
            ) from None
        model.eval()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as the driver predicts: the same reductions, the same bits
        try:
            return {name: self.driver.predict(model, rows) for name, rows in sorted(views.features.items())}
        finally:
            torch.set_num_threads(threads)


def contained_predictions(
    task: Task, model_path: Path, code_tree: Path, spec: dict, views: "Views", split_dir: Path, sandbox: Sandbox
) -> dict[str, np.ndarray]:
    """The predictions of a model class made by the contained prediction step, as ``score_run`` makes them, with
    its log kept in a scratch folder (nothing is written beside the records): how ``verify`` recomputes a score
    where the architecture is the candidate's. Raises ``PredictionFailed`` when the step does not end cleanly."""
    with tempfile.TemporaryDirectory(prefix="flc-rescore-") as scratch:
        outcome, predictions, log = _predict(
            task, model_path, code_tree, spec, views, split_dir, Path(scratch) / "score.json", sandbox
        )
        tail = log.read_text(errors="replace")[-400:].strip() if log.is_file() else ""
    if outcome["violation"]:
        raise PredictionFailed(f"{outcome['violation'][0]}: {outcome['violation'][1]}")
    if outcome["misfit"]:
        raise PredictionFailed(f"the final model's tensors do not fit {spec['path']}: {outcome['misfit']}")
    if outcome["failed"]:
        timed_out = outcome["failed"] == "timed out"
        raise PredictionFailed(f"prediction step failed ({outcome['failed']}): {tail}", timed_out)
    return predictions


@dataclass(frozen=True)
class Views:
    """Copies of the evaluation rows the model predicts: in one order (scored), in another order and
    batching (must agree row by row), and slightly perturbed (the score may not collapse)."""

    order: dict[str, dict[str, np.ndarray]]  # view -> site -> row order of that view
    features: dict[str, np.ndarray]  # file stem -> feature rows
    scale: float
    draws: int

    @classmethod
    def draw(cls, task: Task, data: dict[str, tuple], seed: str, scored_only: bool = False) -> "Views":
        """Every view, or with ``scored_only`` the scored view ``a`` alone: it is drawn first, so it is the same."""
        settings = {**PERTURBATION_DEFAULTS, **(task.metric.get("perturbation") or {})}
        rng = np.random.default_rng(int(sha256_bytes(seed.encode())[:16], 16))
        order: dict[str, dict[str, np.ndarray]] = {}
        features: dict[str, np.ndarray] = {}
        names = ["a"] if scored_only else ["a", "b", *(f"p{k}" for k in range(int(settings["draws"])))]
        spread: Any = 0.0
        if not scored_only:  # the perturbed views' noise scale (no random draw: view a is the same either way)
            pooled = np.concatenate([x for x, _ in data.values()]).astype(np.float64)
            # a robust spread (interquartile range / 1.349 = sd for a normal feature): outlying values do not inflate it
            q75, q25 = np.percentile(pooled, [75, 25], axis=0) if len(pooled) > 1 else (0.0, 0.0)
            spread = (q75 - q25) / 1.349
        for view in names:
            order[view] = {}
            for site, (x, _) in data.items():
                rows = rng.permutation(len(x))
                order[view][site] = rows
                chosen = x[rows]
                if view.startswith("p"):
                    noise = rng.standard_normal(chosen.shape) * spread * settings["scale"]
                    chosen = (chosen + noise).astype(x.dtype)
                if view == "b":  # another batching: two halves, each its own call
                    half = len(rows) // 2
                    features[f"{site}.b0"], features[f"{site}.b1"] = chosen[:half], chosen[half:]
                else:
                    features[f"{site}.{view}"] = chosen
        return cls(order, features, float(settings["scale"]), int(settings["draws"]))

    def assemble(self, predictions: dict[str, np.ndarray], view: str) -> dict[str, np.ndarray]:
        """Per site, the predictions of ``view`` back in the split's row order."""
        out = {}
        for site, rows in self.order[view].items():
            got: np.ndarray | None
            if view == "b":
                first, second = predictions.get(f"{site}.b0"), predictions.get(f"{site}.b1")
                if first is None or second is None:
                    raise ValueError(f"{site}: no predictions")
                got = np.concatenate([first, second])
            else:
                got = predictions.get(f"{site}.{view}")
                if got is None:
                    raise ValueError(f"{site}: no predictions")
            if len(got) != len(rows):
                raise ValueError(f"{site}: {len(got)} predictions for {len(rows)} rows")
            restored = np.empty_like(got)
            restored[rows] = got
            out[site] = restored
        return out

    def function_checks(self, task: Task, predictions: dict, data: dict, score: float) -> dict:
        """Row-by-row agreement across orders and batchings, and the score on perturbed copies."""
        settings = {**PERTURBATION_DEFAULTS, **(task.metric.get("perturbation") or {})}
        first, second = self.assemble(predictions, "a"), self.assemble(predictions, "b")
        difference = max(float(np.max(np.abs(first[s] - second[s]))) if len(first[s]) else 0.0 for s in first)
        scale = max(float(np.max(np.abs(p))) if len(p) else 0.0 for p in first.values())
        perturbed = [
            score_predictions(task, self.assemble(predictions, f"p{k}"), data)["score"] for k in range(self.draws)
        ]
        mean_perturbed = float(np.mean(perturbed))
        drop = task.gain(score, mean_perturbed)
        return {
            "row_difference": difference,
            "prediction_scale": scale,
            "scale": self.scale,
            "perturbed_score": mean_perturbed,
            "perturbation_drop": drop,
            "max_drop": float(settings["max_drop"]),
        }


def _predict(
    task: Task,
    model_path: Path,
    code_tree: Path,
    spec: dict,
    views: Views,
    split_dir: Path,
    out_path: Path,
    sandbox: Sandbox,
) -> tuple[dict, dict[str, np.ndarray], Path]:
    """Run the prediction driver, contained, on every view; its outcome, predictions and log."""
    log = Path(out_path).with_suffix(".log")
    log.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="flc-predict-") as tmp_dir:
        tmp = Path(tmp_dir).resolve()
        for sub in ("features", "predictions"):
            (tmp / sub).mkdir()
        for name, rows in views.features.items():
            np.save(tmp / "features" / f"{name}.npy", rows)
        spec_path = tmp / "model_spec.json"
        write_json(spec_path, spec)
        shutil.copytree(code_tree, tmp / "code", ignore=shutil.ignore_patterns("__pycache__"))
        model = Path(model_path).resolve()
        policy = Policy(
            "predict",
            (str(tmp / "code"), str(model), str(spec_path), str(tmp / "features")),
            (str(tmp / "predictions"),),
            named=((str(split_dir.resolve()), "split-access"),),  # reaching for labels, sandboxed or not
            **python_grants(),
            kernel=sandbox.kernel,
        )
        pythonpath = importable_from(tmp / "pythonpath")
        policy_path = tmp / "policy.json"
        policy_path.write_text(policy.to_json())
        report_read, report_write = os.pipe()
        cmd = [sys.executable, str(PREDICT_DRIVER), str(policy_path), str(tmp / "code"), str(model), str(spec_path)]
        cmd += [str(tmp / "features"), str(tmp / "predictions"), str(report_write)]
        try:
            readonly = [PREDICT_DRIVER, tmp / "code", model, spec_path, policy_path, tmp / "features", Path(pythonpath)]
            outcome = run_contained(
                sandbox.wrap(cmd, tmp / "code", readonly=readonly, writable=[tmp / "predictions"]),
                tmp / "code",
                filtered_env({"PYTHONPATH": pythonpath}),
                task.budget["predict_timeout_seconds"],
                log,
                pass_fds=(report_write,),
            )
        finally:
            os.close(report_write)
        with os.fdopen(report_read) as report:
            checked = report.read()
        found = violations_in(log.read_text(errors="replace")) if log.is_file() else []
        result: dict = {"elapsed_s": outcome.elapsed_s, "violation": None, "failed": "", "misfit": ""}
        if checked:
            report = json.loads(checked)
            result["n_params"], result["misfit"] = report["n_params"], report.get("misfit", "")
        if found:
            result["violation"] = (found[0]["rule"], f"prediction step: {found[0].get('detail', '')}")
        elif outcome.timed_out or outcome.returncode != 0:
            result["failed"] = "timed out" if outcome.timed_out else f"exit code {outcome.returncode}"
        predictions = {p.stem: np.load(p, allow_pickle=False) for p in (tmp / "predictions").glob("*.npy")}
    return result, predictions, log


def _finish(record: dict, out_path: Path, state: str, reason: str, rule: str = "") -> dict:
    """End the score record (``records.finish``) and write it: every outcome leaves one."""
    write_json(out_path, finish(record, state, reason, rule))
    return record
