"""Per-site train / search-validation / held-out splits, prepared once, upstream of every run.

The task loader gives each site's training and test rows; the test rows become the held-out split
and a seeded, label-stratified fraction of the training rows becomes the search-validation split.
Features are normalised with the statistics of the rows the clients actually train on (as FLamby
does per center), so search-validation rows never influence training.
"""

import importlib
from pathlib import Path

import numpy as np

from flcampaign.files import sha256_file, write_json
from flcampaign.task import Task

SPLITS = ("train", "search_val", "heldout")

CLASS_INDEX_METRICS = ("accuracy",)  # multi-class: labels are class indices (the data bridge gives them as int64)
CLASS_LABELS = np.int64


def carve_search_val(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of search-validation rows: per label class, a seeded share of at least one row."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        take = int(round(fraction * len(rows)))
        if len(rows) > 1:
            take = min(max(take, 1), len(rows) - 1)
        mask[rng.permutation(rows)[:take]] = True
    return mask


def strata(labels: np.ndarray, stratify: str) -> np.ndarray:
    """What the search-validation carve keeps in proportion: the label, a survival event flag, or nothing."""
    if stratify == "none":
        return np.zeros(len(labels))
    if stratify == "event":
        return labels[:, 1]
    return labels


def prepare(task: Task, out_dir: Path) -> dict:
    """Write ``<out_dir>/<split>/site-<k>.npz`` and ``splits.json`` with their hashes."""
    data = task.data
    loader = importlib.import_module(f"flcampaign.data.datasets.{data['loader']}")
    centers = loader.load_centers(task.root / data["raw"], task.budget["n_clients"], data.get("options") or {})
    if len(centers) != task.budget["n_clients"]:
        raise ValueError(f"{task.name}: loader gives {len(centers)} sites, budget says {task.budget['n_clients']}")
    summary: dict = {"task": task.name, "sites": {}, "files": {}}
    label_dtype = CLASS_LABELS if task.metric["kind"] in CLASS_INDEX_METRICS else np.float32
    for index, (x_train, y_train, x_test, y_test) in enumerate(centers):
        site = f"site-{index + 1}"
        key = strata(y_train, data.get("stratify", "label"))
        val = carve_search_val(key, data["search_val_fraction"], data["split_seed"] + index)
        fit = x_train[~val]
        if data.get("normalize", "site_standard") == "site_standard":
            mean, std = fit.mean(axis=0), fit.std(axis=0, ddof=1) + 1e-9
        else:
            mean, std = 0.0, 1.0
        arrays = {
            "train": (x_train[~val], y_train[~val]),
            "search_val": (x_train[val], y_train[val]),
            "heldout": (x_test, y_test),
        }
        summary["sites"][site] = {split: int(len(y)) for split, (_, y) in arrays.items()}
        for split, (x, y) in arrays.items():
            path = Path(out_dir) / split / f"{site}.npz"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, x=((x - mean) / std).astype(np.float32), y=y.astype(label_dtype))
            summary["files"][f"{split}/{site}.npz"] = sha256_file(path)
    write_json(Path(out_dir) / "splits.json", summary)
    return summary


def load_split(split_dir: Path, split: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Features and labels per site of one prepared split."""
    out = {}
    for path in sorted((Path(split_dir) / split).glob("site-*.npz")):
        with np.load(path) as arrays:
            out[path.stem] = (arrays["x"], arrays["y"])
    return out
