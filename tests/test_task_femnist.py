"""The FEMNIST task: loader facts of the shipped LEAF sample, the grouping, the profile, the base sources."""

import copy
import gzip
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from flcampaign.contract.validation import validate_candidate
from flcampaign.data.datasets import femnist
from flcampaign.data.splits import load_split, prepare
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import choose
from flcampaign.execution.slots import Slot
from flcampaign.scoring.evaluator import score_run
from flcampaign.task import Task

TASK_DIR = REPO / "flcampaign" / "tasks" / "femnist"
RAW = TASK_DIR / "data"
SHARED_RAW = REPO.parent / "shared" / "data" / "leaf_femnist_small"
BASELINE = (
    "title: b\nhypothesis: b\nparent: baseline\nfamily: fedavg\ncreated: '2026-11-24T00:00:00+00:00'\npatches: {}\n"
)


@pytest.fixture(scope="module")
def writers() -> dict:
    return femnist.load_writers(RAW)


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(TASK_DIR)


def total(centers: list[tuple], index: int) -> int:
    return sum(len(site[index]) for site in centers)


def test_shipped_shards_are_the_listed_ones():
    listed = femnist.listed_shards(RAW)
    assert len(listed) == 40
    assert sum("_train_" in name for name in listed) == sum("_test_" in name for name in listed) == 20
    assert {p.name for p in RAW.glob("*.json.gz")} == set(listed)
    assert (RAW / "SOURCES.md").is_file() and "NOT verified" in (RAW / "SOURCES.md").read_text()


@pytest.mark.skipif(not SHARED_RAW.is_dir(), reason="no shared data folder next to this checkout")
def test_shipped_files_equal_the_shared_copy():
    for path in sorted(SHARED_RAW.iterdir()):
        assert (RAW / path.name).read_bytes() == path.read_bytes(), path.name


def test_loader_facts(writers):
    assert len(writers) == femnist.N_WRITERS == 105
    train = {w: parts["train"] for w, parts in writers.items()}
    test = {w: parts["test"] for w, parts in writers.items()}
    assert sum(len(y) for _, y in train.values()) == 14_708
    assert sum(len(y) for _, y in test.values()) == 1_685
    counts = sorted(len(y) for _, y in train.values())
    assert (counts[0], int(np.median(counts)), counts[-1]) == (4, 152, 165)
    labels = np.concatenate([y for _, y in train.values()])
    assert labels.dtype == np.int64 and set(np.unique(labels)) == set(range(62))
    assert all(y.min() >= 0 and y.max() <= 61 for _, y in test.values())
    x, _ = train["f3137_47"]
    assert x.dtype == np.float32 and x.shape[1] == 784
    assert x.min() >= 0.0 and x.max() == 1.0
    assert np.allclose(x * 255, np.round(x * 255), atol=1e-3)  # LEAF's v / 255


def test_changed_shard_is_refused(tmp_path):
    raw = tmp_path / "data"
    shutil.copytree(RAW, raw)
    shard = raw / "all_data_0_niid_05_keep_0_test_9.json.gz"
    text = gzip.decompress(shard.read_bytes()).replace(b'"y": [', b'"y": [ ', 1)
    shard.write_bytes(gzip.compress(text))
    with pytest.raises(ValueError, match="sha256"):
        femnist.load_writers(raw)
    shard.unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        femnist.load_writers(raw)


def test_grouping_is_deterministic_complete_and_documented(writers):
    ids = list(writers)
    groups = femnist.group_writers(ids, 5, grouping_seed=1)
    assert groups == femnist.group_writers(list(reversed(ids)), 5, grouping_seed=1)
    flat = [w for group in groups for w in group]
    assert sorted(flat) == sorted(ids) and len(flat) == len(set(flat))
    assert [len(g) for g in groups] == [21] * 5
    ordered = sorted(ids)
    assert femnist.group_writers(ids, 4, None) == [ordered[k::4] for k in range(4)]
    assert femnist.group_writers(ids, 5, grouping_seed=2) != groups
    for n_sites in (0, 106):
        with pytest.raises(ValueError, match="writers"):
            femnist.group_writers(ids, n_sites, 1)


def test_load_centers_follows_the_grouping_and_regroups_with_n_sites(writers):
    five = femnist.load_centers(RAW, 5, {"grouping_seed": 1})
    assert len(five) == 5
    for site, group in zip(five, femnist.group_writers(list(writers), 5, 1), strict=True):
        expected = [np.concatenate([writers[w][part][k] for w in group]) for part in ("train", "test") for k in (0, 1)]
        assert all(np.array_equal(a, b) for a, b in zip(site, expected, strict=True))
    seven = femnist.load_centers(RAW, 7, {"grouping_seed": 1})
    assert len(seven) == 7
    for centers in (five, seven):
        assert (total(centers, 1), total(centers, 3)) == (14_708, 1_685)
        for x_train, y_train, x_test, y_test in centers:
            assert x_train.shape == (len(y_train), 784) and x_test.shape == (len(y_test), 784)
    assert [len(s[1]) for s in five] != [len(s[1]) for s in seven[:5]]
    with pytest.raises(ValueError, match="unknown FEMNIST loader options"):
        femnist.load_centers(RAW, 5, {"grouping seed": 1})


def test_profile_loads(task):
    assert task.name == "femnist" and task.budget["n_clients"] == 5
    assert task.metric == {"name": "accuracy", "kind": "accuracy", "direction": "max", "site_aggregation": "pooled"}
    data = task.data
    assert (data["loader"], data["normalize"], data["stratify"]) == ("femnist", "none", "none")
    assert task.seeds == {"search": 0, "repeat": [42, 43, 44, 45, 46]}
    assert set(task.knobs) == {"lr", "local_steps", "aggregator", "server_lr", "server_momentum"}
    assert task.surface["fixed"] == ["fl_data.py"]


def test_splits_keep_leaf_pixels_and_integer_labels(task, tmp_path):
    summary = prepare(task, tmp_path)
    assert sorted(summary["sites"]) == [f"site-{k}" for k in range(1, 6)]
    rows = {split: sum(site[split] for site in summary["sites"].values()) for split in ("train", "search_val")}
    assert rows["train"] + rows["search_val"] == 14_708
    assert sum(site["heldout"] for site in summary["sites"].values()) == 1_685
    assert abs(rows["search_val"] / 14_708 - 0.2) < 0.01
    for x, y in load_split(tmp_path, "train").values():
        assert x.shape[1] == 784 and x.min() >= 0.0 and x.max() == 1.0
        assert np.array_equal(y, np.round(y)) and y.min() >= 0 and y.max() <= 61


def test_model_gives_class_scores_under_the_cap(task):
    spec = importlib.util.spec_from_file_location("femnist_task_model", task.sources / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.FemnistCNN(num_classes=62, seed=0)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == 222_078 <= task.budget["max_model_params"]
    assert model(torch.zeros(3, 784)).shape == (3, 62)
    twin = module.FemnistCNN(num_classes=62, seed=0)
    pairs = zip(model.state_dict().values(), twin.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_base_sources_pass_validation(task, tmp_path):
    (tmp_path / "candidates" / "0000-baseline").mkdir(parents=True)
    (tmp_path / "candidates" / "0000-baseline" / "candidate.yaml").write_text(BASELINE)
    record = validate_candidate(tmp_path / "candidates", "0000-baseline", task, tmp_path / "results")
    assert record["state"] == "ok", record["reason"]
    assert record["is_baseline"] and record["changed_files"] == []


@pytest.mark.slow
def test_one_round_runs_and_scores(task, tmp_path):
    profile = copy.deepcopy(task.profile)
    profile["budget"].update(num_rounds=1)
    short = Task(task.root, profile)
    splits = tmp_path / "splits"
    prepare(short, splits)
    (tmp_path / "candidates" / "0000-baseline").mkdir(parents=True)
    (tmp_path / "candidates" / "0000-baseline" / "candidate.yaml").write_text(BASELINE)
    validation = validate_candidate(tmp_path / "candidates", "0000-baseline", short, tmp_path / "results")
    assert validation["state"] == "ok", validation["reason"]
    tree = tmp_path / "results" / "candidates" / "0000-baseline" / "src"
    run_dir = tmp_path / "runs" / "0000-baseline"
    sandbox = choose("auto")
    run = simulate(
        short,
        validation,
        tree,
        splits / "train",
        "search",
        0,
        run_dir,
        tmp_path / "work" / "0000-baseline",
        slots=[Slot(0, "cpu", "cpu0")],
        lock_dir=tmp_path / "locks",
        sandbox=sandbox,
    )
    assert run["state"] == "ok", run["reason"]
    assert run["model_spec"]["path"] == "model.FemnistCNN"  # NVFlare leaves out arguments equal to the defaults
    score = score_run(short, run, run_dir, tree, splits, "search_val", Path(run_dir) / "score.json", sandbox)
    assert score["state"] == "ok", score["reason"]
    assert 0.0 <= score["score"] <= 1.0 and score["n_params"] == 222_078
    assert sorted(score["per_site"]) == [f"site-{k}" for k in range(1, 6)]
