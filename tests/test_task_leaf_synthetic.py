"""The LEAF synthetic task: LEAF's reference output reproduced exactly, the split, the grouping, the
profile, the base sources' contract, and one real one-round NVFlare simulation scored by the evaluator.

Generating the 107,553 samples takes about a second; the module generates them once (fixtures).
"""

import copy
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from flcampaign.contract.validation import validate_candidate
from flcampaign.data.datasets import leaf_synthetic
from flcampaign.data.splits import prepare
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import choose
from flcampaign.execution.slots import Slot
from flcampaign.files import sha256_tree
from flcampaign.scoring.evaluator import score_run
from flcampaign.task import Task

TASK_ROOT = REPO / "flcampaign" / "tasks" / "leaf_synthetic"
SPLIT_SEED = 931231
LABEL_COUNTS = {0: 16607, 1: 15477, 2: 23124, 3: 35783, 4: 16562}


@pytest.fixture(scope="module")
def users() -> list[tuple[np.ndarray, np.ndarray]]:
    return leaf_synthetic.generate(num_users=1000, num_classes=5, num_dim=60, seed=931231)


@pytest.fixture(scope="module")
def masks(users) -> dict:
    return leaf_synthetic.leaf_split(users, SPLIT_SEED)


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(TASK_ROOT)


@pytest.fixture(scope="module")
def centers(task) -> list[tuple]:
    data = task.data
    return leaf_synthetic.load_centers(TASK_ROOT / data["raw"], task.budget["n_clients"], data["options"])


# --- LEAF's reference output (shared/reference/datasets.md section 7) ------------------------------


def test_reference_totals_and_per_user_counts(users):
    sizes = np.array([len(y) for _, y in users])
    assert len(users) == 1000
    assert sizes.sum() == 107_553
    assert sizes.min() == 5 and np.median(sizes) == 25.5 and sizes.max() == 1000
    assert round(sizes.mean(), 2) == 107.55
    assert (sizes == 1000).sum() == 30
    assert all(x.shape == (len(y), 60) for x, y in users)


def test_reference_labels(users):
    labels = np.concatenate([y for _, y in users])
    assert labels.dtype == np.int64
    assert dict(sorted(Counter(labels.tolist()).items())) == LABEL_COUNTS
    majority = np.mean([np.bincount(y).max() / len(y) for _, y in users])
    assert round(majority, 3) == 0.887


def test_reference_user_zero(users):
    x, y = users[0]
    assert len(y) == 86
    assert np.round(x[0, :3], 4).tolist() == [-1.6808, 2.3470, -1.3534]
    assert x[0, :3] == pytest.approx([-1.6808, 2.3470, -1.3534], abs=5e-5)
    assert y[:10].tolist() == [4] * 10


def test_generation_is_deterministic_and_leaves_the_global_rng_alone(users):
    before = np.random.get_state()[1].copy()
    again = leaf_synthetic.generate()
    assert np.array_equal(np.random.get_state()[1], before)
    assert len(again) == len(users)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(again, users, strict=True))


def test_fewer_users_are_a_prefix_of_the_same_stream(users):
    """Draws happen user by user in LEAF's order, so 20 users are the first 20 of 1,000."""
    few = leaf_synthetic.generate(num_users=20)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(few, users[:20], strict=True))
    other = leaf_synthetic.generate(num_users=20, seed=1)
    assert [len(y) for _, y in other] != [len(y) for _, y in few]


# --- LEAF's split: -s niid --sf 1.0 -k 5 -t sample --tf 0.6 ---------------------------------------


def test_split_sizes_follow_leaf(users, masks):
    assert sorted(masks, key=int) == [str(i) for i in range(1000)]  # -k 5 keeps everyone
    assert list(masks) != sorted(masks, key=int)  # the --sf 1.0 sample shuffles the user order
    for user, (train, test) in masks.items():
        n = len(users[int(user)][1])
        assert len(train) == n and not np.any(train & test) and np.all(train | test)
        assert train.sum() == max(1, int(0.6 * n))
    assert sum(int(train.sum()) for train, _ in masks.values()) == 64_153
    assert sum(int(test.sum()) for _, test in masks.values()) == 43_400


def test_split_is_deterministic_and_seeded(users, masks):
    def fingerprint(split: dict) -> str:
        digest = hashlib.sha256()
        for user, (train, _) in split.items():
            digest.update(user.encode() + np.packbits(train).tobytes())
        return digest.hexdigest()

    assert fingerprint(leaf_synthetic.leaf_split(users, SPLIT_SEED)) == fingerprint(masks)
    assert fingerprint(leaf_synthetic.leaf_split(users, SPLIT_SEED + 1)) != fingerprint(masks)
    assert list(masks)[:5] == ["978", "482", "560", "716", "624"]  # random.Random(931231).shuffle
    same_order = leaf_synthetic.leaf_split(users, SPLIT_SEED + 1, sample_seed=SPLIT_SEED)
    assert list(same_order) == list(masks)


def test_split_drops_users_below_k():
    tiny = [(np.zeros((n, 2)), np.zeros(n, dtype=np.int64)) for n in (1, 2, 4, 5, 9)]
    split = leaf_synthetic.leaf_split(tiny, 0, min_samples=2)
    assert sorted(split, key=int) == ["1", "2", "3", "4"]
    assert [int(split[u][0].sum()) for u in ("1", "2", "3", "4")] == [1, 2, 3, 5]


# --- grouping users into sites -----------------------------------------------------------------


@pytest.mark.parametrize("grouping", leaf_synthetic.GROUPINGS)
def test_every_user_is_in_exactly_one_site(grouping):
    ids = [str(i) for i in range(1000)]
    shuffled = list(np.random.default_rng(0).permutation(ids))
    groups = leaf_synthetic.group_users(shuffled, 10, grouping)
    assert groups == leaf_synthetic.group_users(ids, 10, grouping)  # depends on the ids only
    assert len(groups) == 10 and [len(g) for g in groups] == [100] * 10
    assert sorted((u for g in groups for u in g), key=int) == ids


def test_grouping_rules():
    ids = [str(i) for i in range(1000)]
    blocks = leaf_synthetic.group_users(ids, 10, "blocks")
    assert blocks[0] == [str(i) for i in range(100)] and blocks[9][-1] == "999"
    assert [len(g) for g in leaf_synthetic.group_users(ids, 3, "blocks")] == [334, 333, 333]
    assert leaf_synthetic.group_users(ids, 10, "round_robin")[1][:3] == ["1", "11", "21"]
    with pytest.raises(ValueError, match="unknown grouping"):
        leaf_synthetic.group_users(ids, 10, "random")
    seeded = leaf_synthetic.group_users(ids, 10, "blocks", grouping_seed=42)
    assert sorted(u for g in seeded for u in g) == sorted(ids) and [len(g) for g in seeded] == [100] * 10
    assert seeded != blocks and all(g == sorted(g, key=int) for g in seeded)  # other users, each site in id order
    assert seeded == leaf_synthetic.group_users(ids, 10, "blocks", grouping_seed=42)
    assert leaf_synthetic.PARTITION_OPTION == "grouping_seed"
    with pytest.raises(ValueError, match="cannot make"):
        leaf_synthetic.group_users(ids[:5], 10, "blocks")


def test_load_centers_gives_each_site_its_users_train_and_test_rows(users, masks, centers):
    assert len(centers) == 10
    for site, (x_train, y_train, x_test, y_test) in enumerate(centers):
        group = [str(i) for i in range(100 * site, 100 * (site + 1))]
        assert np.array_equal(x_train, np.concatenate([users[int(u)][0][masks[u][0]] for u in group]))
        assert np.array_equal(y_test, np.concatenate([users[int(u)][1][masks[u][1]] for u in group]))
        assert x_train.shape == (len(y_train), 60) and x_test.shape == (len(y_test), 60)
    assert sum(len(c[1]) for c in centers) == 64_153 and sum(len(c[3]) for c in centers) == 43_400
    pooled = Counter(np.concatenate([np.concatenate([c[1], c[3]]) for c in centers]).tolist())
    assert dict(sorted(pooled.items())) == LABEL_COUNTS


def test_load_centers_is_deterministic(task, centers):
    data = task.data
    again = leaf_synthetic.load_centers(TASK_ROOT / data["raw"], 10, data["options"])
    assert all(
        all(np.array_equal(a, b) for a, b in zip(s, t, strict=True)) for s, t in zip(again, centers, strict=True)
    )


def test_load_centers_rejects_bad_options():
    with pytest.raises(ValueError, match="unknown leaf_synthetic options"):
        leaf_synthetic.load_centers(None, 10, {"split_seed": 1, "alpha": 0.5})
    with pytest.raises(ValueError, match="split_seed"):
        leaf_synthetic.load_centers(None, 10, {})


# --- the task profile and base sources ------------------------------------------------------------


def test_profile_loads(task):
    assert task.name == "leaf_synthetic"
    assert task.budget["n_clients"] == 10 and task.budget["num_rounds"] == 20 and task.budget["batch_size"] == 10
    assert task.metric == {"name": "accuracy", "kind": "accuracy", "direction": "max", "site_aggregation": "pooled"}
    assert task.data["loader"] == "leaf_synthetic"
    assert task.data["normalize"] == "none" and task.data["stratify"] == "label"
    assert task.data["options"]["split_seed"] == SPLIT_SEED
    assert (TASK_ROOT / task.data["raw"] / "SOURCES.md").is_file()
    assert task.seeds == {"search": 0, "repeat": [42, 43, 44, 45, 46]}
    assert task.knob_values({})["lr"] == 0.0003  # LEAF's MODEL_PARAMS['synthetic.log_reg']
    assert task.fixed_source_hashes.keys() == {"fl_data.py"}


def test_base_model_is_leaf_log_reg():
    import importlib.util

    spec = importlib.util.spec_from_file_location("leaf_synthetic_src_model", TASK_ROOT / "src" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.LeafLogReg(in_features=60, num_classes=5, seed=3)
    assert sum(p.numel() for p in model.parameters()) == 305
    scores = model(torch.zeros(7, 60))
    assert scores.shape == (7, 5) and bool(((scores > 0) & (scores < 1)).all())
    twin = module.LeafLogReg(in_features=60, num_classes=5, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), twin.state_dict().values(), strict=True))


def write_baseline(root: Path) -> Path:
    folder = root / "candidates" / "0000-baseline"
    folder.mkdir(parents=True)
    (folder / "candidate.yaml").write_text(
        "title: baseline\nhypothesis: LEAF's recipe\nparent: baseline\nfamily: baseline\n"
        "created: '2026-11-24T00:00:00+00:00'\npatches: {}\n"
    )
    return root / "candidates"


def test_base_sources_pass_validation(tmp_path, task):
    record = validate_candidate(write_baseline(tmp_path), "0000-baseline", task, tmp_path / "results")
    assert record["state"] == "ok", record["reason"]
    assert record["is_baseline"] is True and record["changed_files"] == []
    assert record["tree_sha256"] == sha256_tree(task.sources)


# --- one real simulation ----------------------------------------------------------------------------


@pytest.mark.slow
def test_one_round_simulates_and_scores(tmp_path, task):
    profile = copy.deepcopy(task.profile)
    profile["budget"]["num_rounds"] = 1
    short = Task(task.root, profile)
    splits = tmp_path / "splits"
    summary = prepare(short, splits)
    assert sum(s["train"] + s["search_val"] for s in summary["sites"].values()) == 64_153
    assert sum(s["heldout"] for s in summary["sites"].values()) == 43_400
    validation = validate_candidate(write_baseline(tmp_path), "0000-baseline", short, tmp_path / "results")
    assert validation["state"] == "ok", validation["reason"]
    sandbox = choose("auto")
    run_dir = tmp_path / "results" / "runs" / "0000-baseline"
    run = simulate(
        short,
        validation,
        tmp_path / "results" / "candidates" / "0000-baseline" / "src",
        splits / "train",
        "search",
        0,
        run_dir,
        tmp_path / "work" / "0000-baseline",
        slots=[Slot(0, "cpu", "cpu0")],
        lock_dir=tmp_path / "locks",
        sandbox=sandbox,
    )
    log = (run_dir / "sim.log").read_text(errors="replace") if (run_dir / "sim.log").exists() else ""
    assert run["state"] == "ok", f"{run.get('reason')}\n{log[-3000:]}"
    assert run["model_spec"]["path"] == "model.LeafLogReg"
    tree = tmp_path / "results" / "candidates" / "0000-baseline" / "src"
    score = score_run(short, run, run_dir, tree, splits, "search_val", run_dir / "score.json", sandbox)
    assert score["state"] == "ok", score["reason"]
    assert score["n_params"] == 305
    assert set(score["per_site"]) == {f"site-{k}" for k in range(1, 11)}
    assert 0.0 <= score["score"] <= 1.0 and score["score"] == score["pooled"]
