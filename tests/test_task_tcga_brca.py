"""Fed-TCGA-BRCA task: FLamby's split and facts, the profile, the base sources, the C-index, one real run."""

import copy
import hashlib
import importlib.util
import shutil
import sys

import numpy as np
import pytest
import torch
from conftest import REPO

from flcampaign.contract.validation import validate_candidate
from flcampaign.data.datasets import tcga_brca
from flcampaign.data.splits import load_split, prepare
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import choose
from flcampaign.execution.slots import Slot
from flcampaign.scoring.evaluator import c_index, score_run
from flcampaign.task import Task

TASK_ROOT = REPO / "flcampaign" / "tasks" / "tcga_brca"
RAW = TASK_ROOT / "data"
SRC = Task.load(TASK_ROOT).sources

# FLamby's README / shared/reference/datasets.md §4
TRAIN_SIZES = [248, 156, 164, 129, 129, 40]
TEST_SIZES = [63, 40, 42, 33, 33, 11]
TEST_EVENTS = [14, 4, 8, 3, 2, 1]
SHA256 = {  # shipped SOURCES.md (owkin/FLamby @ edacf54, byte for byte)
    "brca.csv": "07cb53423f7d579d33cfdbf2cba57b2aee75318b85866c68ce39a75b1f1ba020",
    "centers.csv": "d610df2dae0203ea229c9579747ed3eb8d28e137c5378f55acc6fe6b4632bb1d",
    "train_test_split.csv": "1249c6543a4060ff0fdaf8510fc37017755836db6c9fc5e6af96057c36510990",
}
BASELINE_YAML = (
    "title: baseline\nhypothesis: FLamby's FedAvg reference\nparent: baseline\nfamily: baseline\n"
    "created: '2026-11-24T00:00:00+00:00'\npatches: {}\n"
)


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(TASK_ROOT)


@pytest.fixture(scope="module")
def centers() -> list[tuple]:
    return tcga_brca.load_centers(RAW, 6, {})


# --- loader ----------------------------------------------------------------------------------------


def test_loader_reproduces_flamby_split(centers):
    assert [len(y) for _, y, _, _ in centers] == TRAIN_SIZES
    assert [len(y) for _, _, _, y in centers] == TEST_SIZES
    assert sum(TRAIN_SIZES) == 866 and sum(TEST_SIZES) == 222
    assert [int(y[:, 1].sum()) for _, _, _, y in centers] == TEST_EVENTS
    for x_train, y_train, x_test, y_test in centers:
        assert x_train.shape[1] == x_test.shape[1] == 39
        assert y_train.shape[1] == y_test.shape[1] == 2
        for y in (y_train, y_test):
            assert set(np.unique(y[:, 1])) <= {0.0, 1.0} and y[:, 0].min() >= 0 and y[:, 0].max() <= 8605
    features = np.concatenate([np.concatenate([c[0], c[2]]) for c in centers])
    # raw covariates, as FLamby feeds them: age in years, then 38 one-hot columns
    assert features[:, 0].min() >= 26 and features[:, 0].max() <= 90
    assert set(np.unique(features[:, 1:])) == {0.0, 1.0}


def test_loader_centers_come_from_the_tss_region_and_agree_with_flamby_fold2():
    table = tcga_brca.center_table(RAW)
    assert len(table) == 1088 and table["pid"].is_unique  # the 8 "Other"-region patients are never used
    assert table.groupby("region")["center"].first().to_dict() == {
        "Northeast": 0, "South": 1, "West": 2, "Midwest": 3, "Europe": 4, "Canada": 5,
    }  # fmt: skip
    assert (table["fold2"] == table["fold"] + "_" + table["center"].astype(str)).all()
    assert table.columns[1] == "age_at_index" and list(table.columns[40:42]) == ["E", "T"]


def test_loader_checks_the_sha256_listed_in_sources(tmp_path):
    assert tcga_brca.listed_sha256(RAW) == SHA256
    for name, digest in SHA256.items():
        assert hashlib.sha256((RAW / name).read_bytes()).hexdigest() == digest
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    data = bytearray((raw / "brca.csv").read_bytes())
    data[-2] = ord("9") if data[-2] != ord("9") else ord("8")  # the last digit of the last T value
    (raw / "brca.csv").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="brca.csv: sha256"):
        tcga_brca.load_centers(raw, 6, {})
    (raw / "train_test_split.csv").unlink()
    shutil.copyfile(RAW / "brca.csv", raw / "brca.csv")
    with pytest.raises(FileNotFoundError, match="train_test_split.csv"):
        tcga_brca.load_centers(raw, 6, {})


def test_loader_refuses_another_site_count():
    with pytest.raises(ValueError, match="6 centers"):
        tcga_brca.load_centers(RAW, 4, {})


def test_prepared_splits_keep_events_raw_features_and_flamby_test_rows(task, tmp_path):
    summary = prepare(task, tmp_path)
    assert [summary["sites"][f"site-{k}"]["heldout"] for k in range(1, 7)] == TEST_SIZES
    assert [sum(summary["sites"][f"site-{k}"][s] for s in ("train", "search_val")) for k in range(1, 7)] == TRAIN_SIZES
    heldout = load_split(tmp_path, "heldout")
    assert [int(heldout[f"site-{k}"][1][:, 1].sum()) for k in range(1, 7)] == TEST_EVENTS
    for site, (x, y) in load_split(tmp_path, "search_val").items():
        assert y.shape[1] == 2 and y[:, 1].sum() >= 1, site  # every site validates on at least one event
        assert x[:, 0].min() >= 26, site  # not normalised


# --- profile and base sources ----------------------------------------------------------------------


def test_profile_loads_with_flamby_budget(task):
    assert task.name == "tcga_brca"
    assert {k: task.budget[k] for k in ("n_clients", "num_rounds", "batch_size")} == {
        "n_clients": 6, "num_rounds": 5, "batch_size": 8,
    }  # fmt: skip
    assert task.metric == {"name": "c_index", "kind": "c_index", "direction": "max", "site_aggregation": "pooled"}
    assert task.data["normalize"] == "none" and task.data["stratify"] == "event"
    assert task.knob_values({})["lr"] == 0.1 and task.knob_values({})["local_steps"] == 100
    assert task.seeds == {"search": 0, "repeat": [42, 43, 44, 45, 46]}


def test_baseline_passes_validation(task, tmp_path):
    (tmp_path / "candidates" / "0000-baseline").mkdir(parents=True)
    (tmp_path / "candidates" / "0000-baseline" / "candidate.yaml").write_text(BASELINE_YAML)
    record = validate_candidate(tmp_path / "candidates", "0000-baseline", task, tmp_path / "results")
    assert record["state"] == "ok", record["reason"]
    assert record["changed_files"] == [] and record["effective_args"]["aggregator"] == "fedavg"


def _client_module():
    """The base client.py, imported with its sibling modules and removed from sys.modules again."""
    saved = {name: sys.modules.pop(name) for name in ("fl_data", "model") if name in sys.modules}
    sys.path.insert(0, str(SRC))
    try:
        spec = importlib.util.spec_from_file_location("tcga_src_client_for_tests", SRC / "client.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SRC))
        for name in ("fl_data", "model"):
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def test_cox_loss_is_flambys_partial_likelihood():
    client = _client_module()
    scores = torch.tensor([0.3, -1.2, 0.8, 0.1, 2.0], dtype=torch.float64)
    labels = torch.tensor([[5.0, 1.0], [9.0, 0.0], [2.0, 1.0], [9.0, 1.0], [5.0, 0.0]], dtype=torch.float64)
    # datasets.md §4 by hand: stable sort by descending T gives rows 1, 3, 0, 4, 2;
    # loss_i = logsumexp(score[:i+1] - score[i]) * E_i, then the batch mean
    s = scores[[1, 3, 0, 4, 2]].tolist()
    e = labels[[1, 3, 0, 4, 2], 1].tolist()
    expected = sum(np.log(sum(np.exp(s[j] - s[i]) for j in range(i + 1))) * e[i] for i in range(5)) / 5
    assert client.cox_loss(scores, labels).item() == pytest.approx(expected, rel=1e-12)
    assert client.cox_loss(torch.tensor([0.4]), torch.tensor([[3.0, 1.0]])).item() == 0.0
    assert client.concordance(scores, labels) == pytest.approx(c_index(scores.numpy(), labels.numpy()))


# --- C-index ---------------------------------------------------------------------------------------

# Reference values computed with lifelines 0.30.3 (the version FLamby pins), as FLamby's metric calls
# it: lifelines.utils.concordance_index(T, -score, E). Installed outside the project
# (pip install --target /tmp/lifelines lifelines==0.30.3) for the check; not a dependency.
LIFELINES_CASES = [
    ([1, 2, 3, 4], [1, 1, 0, 1], [4, 3, 2, 1], 1.0),
    ([1, 2, 3, 4], [1, 1, 0, 1], [1, 2, 3, 4], 0.0),
    ([2, 2, 3, 3, 5], [1, 0, 1, 1, 0], [0.5, 0.5, 0.2, 0.9, 0.2], 0.6666666666666666),
    ([5, 5, 5, 1, 8, 8], [1, 1, 0, 0, 1, 0], [1.0, 2.0, 2.0, 0.0, 1.0, 1.0], 0.5714285714285714),
    ([10, 4, 4, 7, 2, 9, 7], [0, 1, 1, 1, 0, 1, 0], [0.1, 0.7, 0.7, -0.2, 0.7, 0.3, -0.2], 0.7916666666666666),
    ([3, 1, 4, 1, 5, 9, 2, 6], [1, 0, 1, 1, 0, 1, 1, 0], [2, 7, 1, 8, 2, 8, 1, 8], 0.42105263157894735),
]


@pytest.mark.parametrize(("time", "event", "risk", "expected"), LIFELINES_CASES)
def test_c_index_matches_lifelines(time, event, risk, expected):
    labels = np.stack([np.asarray(time, float), np.asarray(event, float)], axis=1)
    assert c_index(np.asarray(risk, float), labels) == pytest.approx(expected, abs=1e-12)
    assert c_index(np.asarray(risk, float).reshape(-1, 1), labels) == pytest.approx(expected, abs=1e-12)


def test_c_index_without_a_comparable_pair_is_one_half():
    # lifelines raises ZeroDivisionError ("No admissable pairs"); the evaluator scores it as chance
    assert c_index(np.array([0.1, 0.2]), np.array([[3.0, 0.0], [5.0, 0.0]])) == 0.5
    assert c_index(np.array([0.1, 0.2]), np.array([[5.0, 1.0], [5.0, 1.0]])) == 0.5


def test_c_index_refuses_wrong_shapes_and_non_finite_scores():
    labels = np.array([[1.0, 1.0], [2.0, 0.0]])
    with pytest.raises(ValueError):
        c_index(np.array([0.1, 0.2, 0.3]), labels)
    with pytest.raises(ValueError):
        c_index(np.array([np.nan, 0.2]), labels)


# --- one real simulation ---------------------------------------------------------------------------


@pytest.mark.slow
def test_one_round_runs_and_scores_a_c_index(task, tmp_path):
    profile = copy.deepcopy(task.profile)
    profile["budget"]["num_rounds"] = 1
    short = Task(task.root, profile)
    prepare(short, tmp_path / "splits")
    (tmp_path / "candidates" / "0000-baseline").mkdir(parents=True)
    (tmp_path / "candidates" / "0000-baseline" / "candidate.yaml").write_text(BASELINE_YAML)
    validation = validate_candidate(tmp_path / "candidates", "0000-baseline", short, tmp_path / "results")
    assert validation["state"] == "ok", validation["reason"]
    tree = tmp_path / "results" / "candidates" / "0000-baseline" / "src"
    sandbox = choose("auto")
    run = simulate(
        short,
        validation,
        tree,
        tmp_path / "splits" / "train",
        "search",
        0,
        tmp_path / "runs" / "0000-baseline",
        tmp_path / "work" / "0000-baseline",
        slots=[Slot(0, "cpu", "cpu0")],
        lock_dir=tmp_path / "locks",
        sandbox=sandbox,
    )
    assert run["state"] == "ok", run["reason"]
    assert run["model_spec"]["path"] == "model.CoxLinear"
    score = score_run(
        short, run, tmp_path / "runs" / "0000-baseline", tree, tmp_path / "splits", "search_val",
        tmp_path / "score.json", sandbox,
    )  # fmt: skip
    assert score["state"] == "ok", score["reason"]
    assert score["n_params"] == 40 and set(score["per_site"]) == {f"site-{k}" for k in range(1, 7)}
    assert 0.0 <= score["score"] <= 1.0 and score["score"] == score["pooled"]
    assert 0.0 <= score["mean_over_sites"] <= 1.0
