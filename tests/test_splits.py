"""Splits: FLamby's Fed-Heart-Disease preprocessing, the seeded search-validation carve-out, normalisation."""

import copy
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, task_with_own_loader

from flcampaign.data import splits
from flcampaign.data.datasets.heart_disease import FEATURES, load_centers
from flcampaign.data.splits import (
    MAX_STANDARD_VALUE,
    SPLITS,
    carve_search_val,
    check_features,
    load_split,
    prepare,
    site_scale,
)
from flcampaign.layout import PHASES
from flcampaign.task import ProfileError, Task

TASK_ROOT = REPO / "flcampaign" / "tasks" / "heart_disease"
PARTITIONED = {"cifar10": "seed", "femnist": "grouping_seed", "leaf_synthetic": "grouping_seed"}
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


# -- partitions varied between repeats (repeats.vary_partition) ------------------------------------------------


def test_only_repeats_take_their_seeds_partition_and_only_when_asked():
    assert [splits.partition_seed(phase, 42, vary=True) for phase in PHASES] == [
        42 if phase in ("repeat", "rerun") else None for phase in PHASES
    ]
    assert all(splits.partition_seed(phase, 42, vary=False) is None for phase in PHASES)


def test_varying_a_partition_the_task_does_not_draw_is_refused(task):
    assert splits.partition_option(task, vary=False) is None
    with pytest.raises(ValueError, match=r"repeats.vary_partition: task heart_disease's clients are fixed sites"):
        splits.partition_option(task, vary=True)
    seeded = {
        name: splits.partition_option(Task.load(REPO / "flcampaign" / "tasks" / name), vary=True)
        for name in PARTITIONED
    }
    assert seeded == PARTITIONED


def test_rows_digest_ignores_which_site_holds_a_row_but_not_the_rows():
    x, y = np.arange(12.0).reshape(6, 2), np.array([0, 1, 0, 1, 1, 0])
    one = splits.rows_digest([(x[:2], y[:2]), (x[2:], y[2:])])
    assert one == splits.rows_digest([(x[::-1][:4], y[::-1][:4]), (x[::-1][4:], y[::-1][4:])])
    assert one != splits.rows_digest([(x[:5], y[:5])])  # a row missing
    assert one != splits.rows_digest([(x, y), (x[:1], y[:1])])  # a row twice
    assert one != splits.rows_digest([(x, 1 - y)])  # same features, other labels


def test_a_partition_redeals_the_training_rows_and_keeps_the_held_out_rows(tmp_path):
    femnist = Task.load(REPO / "flcampaign" / "tasks" / "femnist")
    campaign = prepare(femnist, tmp_path / "campaign")
    partition = prepare(femnist, tmp_path / "p42", 42, campaign)
    assert campaign["partition_seed"] is None and campaign["partition_option"] is None
    assert partition["partition_seed"] == 42 and partition["partition_option"] == "data.options.grouping_seed"
    assert splits.partition_of(tmp_path / "p42") == 42 and splits.partition_of(tmp_path / "campaign") is None
    assert partition["heldout_rows_sha256"] == campaign["heldout_rows_sha256"]
    assert partition["files"]["train/site-1.npz"] != campaign["files"]["train/site-1.npz"]
    assert partition["sites"] != campaign["sites"]  # other writers per client, so other site sizes

    def pooled(folder: Path, split: str) -> int:
        return sum(len(y) for _, y in load_split(folder, split).values())

    for split in SPLITS:  # the same rows in all, dealt to other clients
        assert pooled(tmp_path / "p42", split) == pooled(tmp_path / "campaign", split), split


def test_a_partition_that_changes_the_held_out_rows_is_refused(task, tmp_path, monkeypatch):
    """A loader whose seed also draws which rows are held out cannot have its partition varied: the paired
    held-out comparison would then compare scores on different rows."""

    class Drawn:
        PARTITION_OPTION = "seed"

        @staticmethod
        def load_centers(raw, n_sites, options):
            rng = np.random.default_rng(options.get("seed", 0))
            return [tuple(rng.normal(size=shape) for shape in ((20, 3), (20,), (8, 3), (8,))) for _ in range(n_sites)]

    monkeypatch.setattr(splits, "loader_of", lambda _: Drawn)
    campaign = prepare(task, tmp_path / "campaign")
    with pytest.raises(ValueError, match=r"partition 7 \(data.options.seed\) changes the held-out rows"):
        prepare(task, tmp_path / "p7", 7, campaign)


def test_a_task_s_own_loader_prepares_the_same_splits_and_is_hashed_with_the_fixed_files(tmp_path, prepared):
    own = Task.load(task_with_own_loader(tmp_path))
    assert own.loader_file == own.root / "loader.py"
    assert splits.library_loader(own) == () and splits.library_loader(Task.load(TASK_ROOT)) != ()
    out = tmp_path / "splits"
    prepare(own, out)
    for name in SPLITS:
        mine, bundled = load_split(out, name), load_split(prepared[0], name)
        assert mine.keys() == bundled.keys()
        for site, (x, y) in bundled.items():
            assert np.array_equal(mine[site][0], x) and np.array_equal(mine[site][1], y), (name, site)
    before = own.fixed_hashes["loader.py"]
    (own.root / "loader.py").write_text((own.root / "loader.py").read_text() + "\n# edited\n")
    assert Task.load(own.root).fixed_hashes["loader.py"] != before, "an edited loader shows in the fixed hashes"
    assert "loader.py" not in Task.load(TASK_ROOT).fixed_hashes


@pytest.mark.parametrize(
    ("loader", "where", "message"),
    [
        ("src/loader.py", "src/loader.py", "lies in the sources (src/), which candidates patch"),
        ("outside.py", "outside.py", "lies outside the task folder"),
        ("reader.py", "loader.py", "no such file in the task folder"),
        ("../loader.py", "loader.py", "does not match"),  # the schema's pattern, before the file is looked at
    ],
)
def test_a_task_s_own_loader_must_be_a_file_of_the_task_that_candidates_cannot_patch(tmp_path, loader, where, message):
    root = task_with_own_loader(tmp_path, loader, where)
    if loader == "outside.py":  # a link out of the task folder is followed before the check
        (tmp_path / "elsewhere.py").write_text((root / where).read_text())
        (root / where).unlink()
        (root / where).symlink_to(tmp_path / "elsewhere.py")
    with pytest.raises(ProfileError, match=f"data.loader:? {re.escape(repr(loader))}.*{re.escape(message)}"):
        Task.load(root)


def test_a_feature_constant_on_a_site_is_centred_not_blown_up(prepared, centers):
    """Switzerland's training rows hold one value of some columns (restecg_2 is 0 there): those columns are
    centred with scale 1, so their search-validation and held-out values stay the raw differences, not ~1e9."""
    out, _ = prepared
    blown = []
    for k, (x_train, _, x_test, _) in enumerate(centers, start=1):
        constant = np.ptp(x_train, axis=0) == 0
        for split in ("search_val", "heldout"):
            x = load_split(out, split)[f"site-{k}"][0]
            assert np.abs(x).max() < MAX_STANDARD_VALUE, (k, split)
        if constant.any():
            held = load_split(out, "heldout")[f"site-{k}"][0][:, constant]
            np.testing.assert_allclose(held, x_test[:, constant] - x_train[0, constant], atol=1e-5)
            blown.append(k)
    assert blown  # the case exists in the data


def test_site_scale_and_the_check_of_prepared_features():
    mean, std = site_scale(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(mean, [2.0, 5.0])
    np.testing.assert_allclose(std, [np.sqrt(2.0), 1.0])  # the constant column keeps scale 1
    np.testing.assert_allclose(site_scale(np.array([[4.0, 2.0]]))[1], [1.0, 1.0])  # one row: no spread to use
    check_features("t", "site-1", "train", np.zeros((3, 2), np.float32), standard=True)
    with pytest.raises(ValueError, match=r"t: site-2 heldout row 1 feature 0 is .*nan.*1 such values"):
        check_features("t", "site-2", "heldout", np.array([[0.0, 0.0], [np.nan, 1.0]]), standard=False)
    with pytest.raises(ValueError, match="more than 1000 standard deviations"):
        check_features("t", "site-1", "search_val", np.array([[2e3, 0.0]]), standard=True)
    check_features("t", "site-1", "search_val", np.array([[2e3, 0.0]]), standard=False)  # raw values may be large
