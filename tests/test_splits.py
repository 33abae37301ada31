"""Splits: FLamby's Fed-Heart-Disease preprocessing, the seeded search-validation carve-out, normalisation."""

import copy
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from flcampaign.data.datasets.heart_disease import FEATURES, load_centers
from flcampaign.data.splits import SPLITS, carve_search_val, load_split, prepare
from flcampaign.task import Task

TASK_ROOT = REPO / "tasks" / "heart_disease"
FLAMBY_SIZES = [(199, 104), (172, 89), (30, 16), (85, 45)]  # (train, test) per center, FLamby's numbers


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(TASK_ROOT)


@pytest.fixture(scope="module")
def centers(task):
    return load_centers(task.root / task.data["raw"])


@pytest.fixture(scope="module")
def prepared(task, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("splits-a")
    return out, prepare(task, out)


def _with_data(task: Task, **changes) -> Task:
    profile = copy.deepcopy(task.profile)
    profile["data"].update(changes)
    return Task(task.root, profile)


# --- load_centers: FLamby exactness -------------------------------------------------------------


def test_load_centers_gives_flamby_sizes(centers):
    assert len(centers) == 4
    assert [(len(c[1]), len(c[3])) for c in centers] == FLAMBY_SIZES
    for x_train, y_train, x_test, y_test in centers:
        assert x_train.shape == (len(y_train), 13)
        assert x_test.shape == (len(y_test), 13)
    assert len(FEATURES) == 13


def test_load_centers_labels_are_binary(centers):
    for _, y_train, _, y_test in centers:
        assert set(np.unique(np.concatenate([y_train, y_test]))) <= {0.0, 1.0}
    # Both classes exist in the pooled data and at the large centers.
    assert set(np.unique(centers[0][1])) == {0.0, 1.0}


def test_switzerland_train_labels_are_all_positive(centers):
    _, y_train, _, _ = centers[2]
    assert len(y_train) == 30
    assert np.all(y_train == 1.0)


def test_one_hot_columns_are_zero_or_one(centers):
    one_hot = [FEATURES.index(name) for name in FEATURES if "_" in name]
    assert len(one_hot) == 5
    for x_train, _, x_test, _ in centers:
        values = np.unique(np.concatenate([x_train, x_test])[:, one_hot])
        assert set(values) <= {0.0, 1.0}


# --- carve_search_val ----------------------------------------------------------------------------


def test_carve_keeps_one_row_per_class_in_train_even_with_a_large_fraction():
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 0, 1])
    mask = carve_search_val(labels, 0.95, seed=3)
    for value in (0, 1):
        assert np.sum((labels == value) & ~mask) >= 1, f"class {value} vanished from train"
        assert np.sum((labels == value) & mask) >= 1


def test_carve_takes_at_least_one_row_per_class_with_a_tiny_fraction():
    labels = np.array([0] * 10 + [1] * 3)
    mask = carve_search_val(labels, 0.01, seed=0)
    assert mask[labels == 0].sum() == 1
    assert mask[labels == 1].sum() == 1


def test_carve_is_stratified_and_seeded():
    labels = np.array([0] * 50 + [1] * 30)
    mask = carve_search_val(labels, 0.2, seed=7)
    assert mask.dtype == bool and mask.shape == labels.shape
    assert mask[labels == 0].sum() == 10
    assert mask[labels == 1].sum() == 6
    np.testing.assert_array_equal(mask, carve_search_val(labels, 0.2, seed=7))
    assert not np.array_equal(mask, carve_search_val(labels, 0.2, seed=8))


def test_carve_leaves_a_single_row_class_in_train_at_small_fraction():
    labels = np.array([1, 1, 1, 1, 1, 0])
    mask = carve_search_val(labels, 0.2, seed=1)
    assert not mask[5]
    assert mask[:5].sum() == 1


# --- prepare -------------------------------------------------------------------------------------


def test_prepare_writes_every_split_per_site(prepared):
    out, summary = prepared
    for split in SPLITS:
        assert sorted(p.name for p in (out / split).glob("*.npz")) == [f"site-{k}.npz" for k in range(1, 5)]
    on_disk = json.loads((out / "splits.json").read_text())
    assert on_disk == summary
    assert set(summary["files"]) == {f"{s}/site-{k}.npz" for s in SPLITS for k in range(1, 5)}


def test_prepare_sizes_add_up_to_flamby(prepared):
    out, summary = prepared
    for k, (n_train, n_test) in enumerate(FLAMBY_SIZES, start=1):
        sizes = summary["sites"][f"site-{k}"]
        assert sizes["train"] + sizes["search_val"] == n_train
        assert sizes["heldout"] == n_test
        assert sizes["search_val"] == pytest.approx(0.2 * n_train, abs=1.5)
        assert sizes["train"] > sizes["search_val"] > 0
    for split in SPLITS:
        data = load_split(out, split)
        for site, (x, y) in data.items():
            assert x.shape == (summary["sites"][site][split], 13)
            assert x.dtype == np.float32 and y.dtype == np.float32


def test_prepare_labels_partition_flamby_labels(prepared, centers):
    out, _ = prepared
    train, val, heldout = (load_split(out, s) for s in SPLITS)
    for k, (_, y_train, _, y_test) in enumerate(centers, start=1):
        site = f"site-{k}"
        assert Counter(np.concatenate([train[site][1], val[site][1]]).tolist()) == Counter(y_train.tolist())
        np.testing.assert_array_equal(heldout[site][1], y_test.astype(np.float32))


def test_prepare_is_deterministic(task, prepared, tmp_path):
    _, first = prepared
    second = prepare(task, tmp_path)
    assert second["files"] == first["files"]
    assert second["sites"] == first["sites"]


def test_prepare_changes_with_split_seed(task, prepared, tmp_path):
    _, first = prepared
    other = _with_data(task, split_seed=task.data["split_seed"] + 1)
    assert task.data["split_seed"] != other.profile["data"]["split_seed"]  # original untouched
    second = prepare(other, tmp_path)
    for k in range(1, 5):
        key = f"search_val/site-{k}.npz"
        assert second["files"][key] != first["files"][key], key
        assert second["sites"][f"site-{k}"] == first["sites"][f"site-{k}"]  # same sizes, other rows


def test_train_features_are_normalised(prepared):
    out, _ = prepared
    constant_seen = False
    for site, (x, _) in load_split(out, "train").items():
        std = x.std(axis=0, ddof=1)
        constant = std < 1e-6
        constant_seen |= bool(constant.any())
        np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-5, err_msg=site)
        np.testing.assert_allclose(std[~constant], 1.0, atol=1e-4, err_msg=site)
        assert np.all(x[:, constant] == 0.0), site
    assert constant_seen  # Switzerland has constant columns (e.g. cholesterol recorded as 0)


def test_other_splits_use_train_statistics(prepared, centers):
    """Held-out rows are FLamby's test rows, in order, under the same affine map as train."""
    out, _ = prepared
    heldout = load_split(out, "heldout")
    for k, (_, _, x_test, _) in enumerate(centers, start=1):
        x = heldout[f"site-{k}"][0].astype(np.float64)
        for col in range(13):
            if np.ptp(x_test[:, col]) == 0:
                continue
            # (x_test - mean) / std: a per-column affine map with positive slope.
            slope, intercept = np.polyfit(x_test[:, col], x[:, col], 1)
            assert slope > 0
            np.testing.assert_allclose(x[:, col], slope * x_test[:, col] + intercept, atol=1e-4)


def _duplicate_pairs(rows: np.ndarray) -> int:
    counts = Counter(r.tobytes() for r in rows)
    return sum(n * (n - 1) // 2 for n in counts.values())


def test_no_search_val_or_heldout_row_in_train(prepared, centers):
    out, _ = prepared
    train, val, heldout = (load_split(out, s) for s in SPLITS)
    for k, (x_train, _, x_test, _) in enumerate(centers, start=1):
        site = f"site-{k}"
        train_rows = Counter(r.tobytes() for r in train[site][0])
        # Raw duplicates (the same record twice in the source file) are the only allowed overlap.
        allowed = _duplicate_pairs(np.concatenate([x_train, x_test]))
        overlap = sum(train_rows[r.tobytes()] for split in (val, heldout) for r in split[site][0])
        assert overlap <= allowed, f"{site}: {overlap} evaluation rows also in train (raw duplicates {allowed})"
        if allowed == 0:
            assert overlap == 0
        val_rows = {r.tobytes() for r in val[site][0]}
        assert not val_rows & set(train_rows) or allowed > 0
