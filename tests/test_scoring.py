"""Trusted scoring: the metric, site aggregation, and score_run with the real contained prediction step."""

import copy
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from flcampaign.data.splits import load_split, prepare
from flcampaign.execution.sandbox import choose
from flcampaign.files import read_json, sha256_file
from flcampaign.scoring.evaluator import binary_accuracy, evaluator_sha256, score_predictions, score_run
from flcampaign.scoring.predict_driver import count_parameters
from flcampaign.task import Task

TASK_ROOT = REPO / "flcampaign" / "tasks" / "heart_disease"
SRC = Task.load(TASK_ROOT).sources
SANDBOX = choose("auto")  # bubblewrap where it works, as the workflow does
MODEL_SPEC = {"path": "model.HeartLogReg", "args": {}}


def _load_model_module():
    spec = importlib.util.spec_from_file_location("heart_src_model_for_scoring_tests", SRC / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(TASK_ROOT)


def _variant(task: Task, section: str, **changes) -> Task:
    profile = copy.deepcopy(task.profile)
    profile[section] = {**profile[section], **changes}
    return Task(task.root, profile)


@pytest.fixture(scope="module")
def open_task(task) -> Task:
    """The task with the architecture left to the candidate: its model class makes the predictions."""
    return _variant(task, "model", fixed=None)


# --- metric --------------------------------------------------------------------------------------


def test_binary_accuracy_hand_computed():
    p = np.array([0.9, 0.2, 0.4, 0.6, 0.5])
    y = np.array([1.0, 0.0, 1.0, 1.0, 1.0])
    # correct: yes, yes, no, yes, no (0.5 is not > 0.5, so predicted negative)
    assert binary_accuracy(p, y) == pytest.approx(3 / 5)
    assert binary_accuracy(np.array([0.51]), np.array([1.0])) == 1.0
    assert binary_accuracy(np.array([0.5]), np.array([0.0])) == 1.0
    assert binary_accuracy(np.ones(4), np.zeros(4)) == 0.0
    assert isinstance(binary_accuracy(p, y), float)


TINY_PRED = {"site-1": np.array([0.9, 0.2, 0.4, 0.6]), "site-2": np.array([0.7, 0.8])}
TINY_DATA = {
    "site-1": (np.zeros((4, 13)), np.array([1.0, 0.0, 1.0, 1.0])),  # 3 / 4 correct
    "site-2": (np.zeros((2, 13)), np.array([0.0, 1.0])),  # 1 / 2 correct
}


def test_score_predictions_pooled(task):
    assert task.metric["site_aggregation"] == "pooled"
    result = score_predictions(task, TINY_PRED, TINY_DATA)
    assert result["per_site"] == {"site-1": pytest.approx(0.75), "site-2": pytest.approx(0.5)}
    assert result["pooled"] == pytest.approx(4 / 6)
    assert result["mean_over_sites"] == pytest.approx(0.625)
    assert result["score"] == pytest.approx(4 / 6)


def test_score_predictions_mean_over_sites(task):
    result = score_predictions(_variant(task, "metric", site_aggregation="mean"), TINY_PRED, TINY_DATA)
    assert result["score"] == pytest.approx(0.625)
    assert result["pooled"] == pytest.approx(4 / 6)


def test_score_predictions_ignores_extra_sites(task):
    preds = {**TINY_PRED, "site-9": np.array([1.0])}
    assert score_predictions(task, preds, TINY_DATA)["per_site"].keys() == {"site-1", "site-2"}


@pytest.mark.parametrize(
    "predictions",
    [
        {"site-1": TINY_PRED["site-1"]},  # missing site
        {"site-1": TINY_PRED["site-1"], "site-2": np.array([0.7, 0.8, 0.1])},  # wrong length
        {"site-1": TINY_PRED["site-1"].reshape(4, 1), "site-2": TINY_PRED["site-2"]},  # wrong shape
        {"site-1": np.array([0.9, np.nan, 0.4, 0.6]), "site-2": TINY_PRED["site-2"]},  # NaN
        {"site-1": np.array([0.9, np.inf, 0.4, 0.6]), "site-2": TINY_PRED["site-2"]},  # inf
    ],
    ids=["missing-site", "wrong-length", "wrong-shape", "nan", "inf"],
)
def test_score_predictions_rejects_unusable_predictions(task, predictions):
    with pytest.raises(ValueError):
        score_predictions(task, predictions, TINY_DATA)


def test_count_parameters():
    assert count_parameters({"a": torch.zeros(3, 4), "b": np.zeros(5), "c": torch.tensor(1.0)}) == 18
    assert count_parameters({}) == 0
    assert count_parameters(_load_model_module().HeartLogReg().state_dict()) == 14


# --- score_run with the real prediction step ------------------------------------------------------


@pytest.fixture(scope="module")
def splits(task, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scoring-splits")
    prepare(task, out)
    return out


@pytest.fixture(scope="module")
def weights() -> tuple[np.ndarray, float]:
    w = np.linspace(-0.8, 0.9, 13).astype(np.float32)
    w[[1, 5]] = [0.7, -0.6]  # sex, thalach: plausible signs
    return w, 0.15


def _save_model(run_dir: Path, weights) -> Path:
    w, b = weights
    model = _load_model_module().HeartLogReg()
    state = {
        "linear.weight": torch.tensor(w).reshape(1, 13),
        "linear.bias": torch.tensor([b], dtype=torch.float32),
    }
    assert set(state) == set(model.state_dict())
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "global_model.pt"
    torch.save({"model": state, "meta_props": {}, "train_conf": {}}, path)
    return path


def _run(path: Path, state: str = "ok", spec: dict | None = None) -> dict:
    return {
        "candidate": "c1",
        "phase": "search",
        "seed": 0,
        "state": state,
        "model_sha256": sha256_file(path),
        "model_spec": spec or MODEL_SPEC,
    }


def _expected_accuracy(splits: Path, weights) -> tuple[float, dict]:
    w, b = weights
    pred, true, per_site = [], [], {}
    for site, (x, y) in load_split(splits, "search_val").items():
        p = 1.0 / (1.0 + np.exp(-(x.astype(np.float64) @ w.astype(np.float64) + b)))
        per_site[site] = float(np.mean((p > 0.5) == (y > 0.5)))
        pred.append(p > 0.5)
        true.append(y > 0.5)
    return float(np.mean(np.concatenate(pred) == np.concatenate(true))), per_site


def test_score_run_matches_accuracy_of_saved_weights(task, splits, weights, tmp_path):
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    out = run_dir / "score.json"
    record = score_run(task, _run(path), run_dir, SRC, splits, "search_val", out, SANDBOX)
    assert record["state"] == "ok", record
    expected, per_site = _expected_accuracy(splits, weights)
    assert 0.0 < expected < 1.0
    assert record["score"] == pytest.approx(expected, abs=1e-12)
    assert record["pooled"] == pytest.approx(expected, abs=1e-12)
    assert record["per_site"] == pytest.approx(per_site, abs=1e-12)
    assert record["n_params"] == 14
    assert record["split"] == "search_val"
    assert record["evaluator_sha256"] == evaluator_sha256()
    assert set(record["split_sha256"]) == {f"site-{k}" for k in range(1, 5)}
    assert read_json(out) == json.loads(json.dumps(record))


def test_score_run_skips_failed_runs(task, splits, weights, tmp_path):
    path = _save_model(tmp_path / "run", weights)
    out = tmp_path / "run" / "score.json"
    record = score_run(task, _run(path, state="crash"), tmp_path / "run", SRC, splits, "search_val", out, SANDBOX)
    assert record["state"] == "skipped"
    assert "crash" in record["reason"]
    assert "score" not in record
    assert read_json(out)["state"] == "skipped"


def test_score_run_detects_model_changed_after_the_run(task, splits, weights, tmp_path):
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    run = _run(path)
    w, b = weights
    _save_model(run_dir, (w * 2, b))  # tampered after hashing
    assert sha256_file(path) != run["model_sha256"]
    record = score_run(task, run, run_dir, SRC, splits, "search_val", run_dir / "score.json", SANDBOX)
    assert (record["state"], record["rule"]) == ("invalid", "integrity")
    assert "score" not in record


def test_score_run_enforces_parameter_cap(task, splits, weights, tmp_path):
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    capped = _variant(task, "budget", max_model_params=5)
    assert task.budget["max_model_params"] == 2000  # the original is untouched
    record = score_run(capped, _run(path), run_dir, SRC, splits, "search_val", run_dir / "score.json", SANDBOX)
    assert (record["state"], record["rule"]) == ("invalid", "max-model-params")
    assert record["n_params"] == 14
    assert "score" not in record


BROKEN_FORWARD = """
    def forward(self, x):
        raise RuntimeError("candidate model blew up")
"""


def test_score_run_records_a_crashing_model_as_predict_crash(open_task, splits, weights, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns("__pycache__"))
    source = (tree / "model.py").read_text()
    head, _, _ = source.partition("    def forward(")
    (tree / "model.py").write_text(head + BROKEN_FORWARD.lstrip("\n"))
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    out = run_dir / "score.json"
    record = score_run(open_task, _run(path), run_dir, tree, splits, "search_val", out, SANDBOX)
    assert (record["state"], record["rule"]) == ("crash", "predict")
    assert "score" not in record
    assert "candidate model blew up" in out.with_suffix(".log").read_text()
    assert read_json(out)["state"] == "crash"


SPY_MODEL = '''
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn


class Spy(nn.Module):
    """Ignores its input; reports (on its log) what the prediction subprocess can see."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(13, 1)
        features = Path(sys.argv[5])
        seen = {}
        for path in sorted(features.iterdir()):
            array = np.load(path, allow_pickle=False)
            seen[path.name] = {"shape": list(array.shape), "dtype": str(array.dtype)}
        report = {"files": seen, "env": sorted(os.environ), "argv": sys.argv[1:]}
        print("SPY " + json.dumps(report), file=sys.stderr, flush=True)

    def forward(self, x):
        return torch.full((x.shape[0],), 0.9)
'''


def test_prediction_step_sees_features_only(open_task, splits, weights, tmp_path, monkeypatch):
    monkeypatch.setenv("FLC_TEST_SECRET_TOKEN", "do-not-leak")
    tree = tmp_path / "tree"
    shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "spy.py").write_text(SPY_MODEL)
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    spec = {"path": "spy.Spy", "args": {}}
    out = run_dir / "score.json"
    record = score_run(open_task, _run(path, spec=spec), run_dir, tree, splits, "search_val", out, SANDBOX)
    assert record["state"] == "ok", record
    line = next(line for line in out.with_suffix(".log").read_text().splitlines() if line.startswith("SPY "))
    seen = json.loads(line[4:])
    sizes = {site: len(y) for site, (_, y) in load_split(splits, "search_val").items()}
    expected = {}
    for site, n in sizes.items():  # each site in one order, in another order split in two, and perturbed
        views = {"a": n, "b0": n // 2, "b1": n - n // 2, **{f"p{k}": n for k in range(8)}}
        expected |= {f"{site}.{view}.npy": {"shape": [rows, 13], "dtype": "float32"} for view, rows in views.items()}
    assert seen["files"] == expected
    assert "FLC_TEST_SECRET_TOKEN" not in seen["env"]
    assert not any(str(splits) in arg for arg in seen["argv"]), "the split folder (with labels) was exposed"
    # Constant 0.9 ignores the features: the score is the pooled share of positives, judged here.
    labels = np.concatenate([y for _, y in load_split(splits, "search_val").values()])
    assert record["score"] == pytest.approx(float(np.mean(labels > 0.5)))
    assert record["function_checks"]["row_difference"] == 0.0
    assert record["function_checks"]["perturbation_drop"] == 0.0


def test_candidate_code_cannot_forge_the_parameter_count(task, splits, weights, tmp_path):
    """The count travels through a pipe the trusted driver closes before importing model.py."""
    tree = tmp_path / "tree"
    shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns("__pycache__"))
    forge = (
        "import os as _os, sys as _sys\n"
        "try:\n"
        "    _os.write(int(_sys.argv[6]), b'{\"n_params\": 1}')\n"
        "except OSError:\n"
        "    open('forge-failed', 'w').close()\n"
    )
    (tree / "model.py").write_text(forge + (tree / "model.py").read_text())
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    capped = _variant(task, "budget", max_model_params=5)
    record = score_run(capped, _run(path), run_dir, tree, splits, "search_val", run_dir / "score.json", SANDBOX)
    assert record["n_params"] == 14
    assert (record["state"], record["rule"]) == ("invalid", "max-model-params")


PROBE_MODEL = """
import os

from model import HeartLogReg


class Probe(HeartLogReg):
    \"\"\"Refuses to predict when it can see anything of the campaign beyond its features.\"\"\"

    def __init__(self, forbidden: list, **kwargs):
        super().__init__(**kwargs)
        visible = [path for path in forbidden if os.path.exists(path)]
        if visible:
            raise RuntimeError(f"visible from candidate code: {visible}")
"""


@pytest.mark.skipif(SANDBOX.kind != "bubblewrap", reason=f"no sandbox here: {SANDBOX.detail}")
def test_sandboxed_prediction_sees_no_labels_results_or_task_data(open_task, splits, weights, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "probe.py").write_text(PROBE_MODEL)
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    forbidden = [str(splits), str(splits / "heldout"), str(TASK_ROOT / "data"), str(tmp_path / "tree")]
    spec = {"path": "probe.Probe", "args": {"forbidden": forbidden, **_run(path)["model_spec"]["args"]}}
    out = run_dir / "score.json"
    record = score_run(open_task, _run(path, spec=spec), run_dir, tree, splits, "search_val", out, SANDBOX)
    assert record["state"] == "ok", out.with_suffix(".log").read_text()
    assert record["sandbox"] == SANDBOX.record()
    record = score_run(open_task, _run(path, spec=spec), run_dir, tree, splits, "search_val", out, choose("off"))
    assert (record["state"], record["rule"]) == ("crash", "predict")  # the same probe, unsandboxed, sees them
    assert "visible from candidate code" in out.with_suffix(".log").read_text()


# --- answer keys: the score measures what the weights learned ------------------------------------


LOOKUP_MODEL = """
import torch
from model import HeartLogReg

TABLE = {table!r}


class Lookup(HeartLogReg):
    '''An answer key: the memorised label of every evaluation row (keyed by its rounded features).'''

    def forward(self, x):
        fallback = super().forward(x)
        keys = [tuple(round(float(v), 1) for v in row) for row in x]
        return torch.tensor([TABLE.get(key, float(p)) for key, p in zip(keys, fallback)])
"""

POSITIONAL_MODEL = """
import torch
from model import HeartLogReg

LABELS = {labels!r}


class Positional(HeartLogReg):
    '''An answer key by position: a batch as long as a site's split gets that site's labels in order.'''

    def forward(self, x):
        return torch.tensor(LABELS[len(x)]) if len(x) in LABELS else super().forward(x)
"""


def _answer_key_tree(tmp_path: Path, splits: Path, module: str, text: str) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns("__pycache__"))
    data = load_split(splits, "search_val")
    table = {
        tuple(round(float(v), 1) for v in row): float(y)
        for x, ys in data.values()
        for row, y in zip(x, ys, strict=True)
    }
    labels = {len(ys): [float(y) for y in ys] for _, ys in data.values()}
    (tree / f"{module}.py").write_text(text.format(table=table, labels=labels))
    return tree


def test_where_the_task_fixes_the_model_an_answer_key_in_model_code_is_never_run(task, splits, weights, tmp_path):
    tree = _answer_key_tree(tmp_path, splits, "model", LOOKUP_MODEL.replace("from model import", "from base import"))
    (tree / "base.py").write_text((SRC / "model.py").read_text())
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    spec = {"path": "model.Lookup", "args": {}}
    record = score_run(task, _run(path, spec=spec), run_dir, tree, splits, "search_val", run_dir / "s.json", SANDBOX)
    assert record["state"] == "ok", record
    assert record["score"] == pytest.approx(_expected_accuracy(splits, weights)[0], abs=1e-12)  # the weights' own


def test_weights_that_do_not_fit_the_tasks_model_are_invalid(task, splits, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    state = {"linear.weight": torch.zeros(1, 20), "linear.bias": torch.zeros(1)}
    torch.save({"model": state, "meta_props": {}, "train_conf": {}}, run_dir / "global_model.pt")
    path = run_dir / "global_model.pt"
    record = score_run(task, _run(path), run_dir, SRC, splits, "search_val", run_dir / "s.json", SANDBOX)
    assert (record["state"], record["rule"]) == ("invalid", "fixed-architecture"), record
    assert "model.HeartLogReg" in record["reason"]


def test_a_lookup_table_of_the_rows_fails_the_perturbation_check(open_task, splits, weights, tmp_path):
    tree = _answer_key_tree(tmp_path, splits, "lookup", LOOKUP_MODEL)
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    spec = {"path": "lookup.Lookup", "args": {}}
    out = run_dir / "s.json"
    record = score_run(open_task, _run(path, spec=spec), run_dir, tree, splits, "search_val", out, SANDBOX)
    assert (record["state"], record["rule"]) == ("invalid", "perturbation"), record
    checks = record["function_checks"]
    assert record["score"] == 1.0 and checks["perturbation_drop"] > checks["max_drop"]
    honest = score_run(open_task, _run(path), run_dir, SRC, splits, "search_val", out, SANDBOX)
    assert honest["state"] == "ok" and honest["function_checks"]["perturbation_drop"] <= checks["max_drop"]


def test_an_answer_key_by_position_fails_the_row_independence_check(open_task, splits, weights, tmp_path):
    tree = _answer_key_tree(tmp_path, splits, "positional", POSITIONAL_MODEL)
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    spec = {"path": "positional.Positional", "args": {}}
    out = run_dir / "s.json"
    record = score_run(open_task, _run(path, spec=spec), run_dir, tree, splits, "search_val", out, SANDBOX)
    assert (record["state"], record["rule"]) == ("invalid", "row-independence"), record
    assert record["function_checks"]["row_difference"] > 0.1


READER_MODEL = """
from model import HeartLogReg


class Reader(HeartLogReg):
    '''Reads the split with the labels from the model code (Python's open: the audit hook sees it).'''

    def __init__(self, path: str, **kwargs):
        super().__init__(**kwargs)
        with open(path, "rb") as handle:
            handle.read()
"""


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_prediction_code_that_opens_a_split_is_stopped_with_or_without_the_sandbox(
    open_task, splits, weights, tmp_path, mode
):
    tree = tmp_path / "tree"
    shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "reader.py").write_text(READER_MODEL)
    run_dir = tmp_path / "run"
    path = _save_model(run_dir, weights)
    spec = {"path": "reader.Reader", "args": {"path": str(splits / "search_val" / "site-1.npz")}}
    out = run_dir / "s.json"
    record = score_run(open_task, _run(path, spec=spec), run_dir, tree, splits, "search_val", out, choose(mode))
    assert (record["state"], record["rule"]) == ("invalid", "split-access"), record
    assert "site-1.npz" in record["reason"]
