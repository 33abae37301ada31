"""Per-site train / search-validation / held-out splits, prepared once, upstream of every run.

The task loader gives each site's training and test rows; the test rows become the held-out split
and a seeded, label-stratified fraction of the training rows becomes the search-validation split.
Features are normalised with the statistics of the rows the clients actually train on (as FLamby
does per center), so search-validation rows never influence training.

Where the task's loader draws its client partition from a seed (``PARTITION_OPTION``: CIFAR-10's
Dirichlet split, LEAF's grouping of users or writers into clients), repeats may vary it
(``repeats.vary_partition``): a repeat run with seed S then trains and is scored on the splits of
partition S, prepared beside the campaign's own. The held-out rows stay the same rows (only which client
holds them changes): each manifest records a digest of the pooled held-out rows, and a partition whose
rows differ from the campaign's is refused.
"""

import hashlib
import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np

from flcampaign.files import read_json, sha256_file, write_json
from flcampaign.layout import SPLITS_MANIFEST
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


VARIED_PHASES = ("repeat", "rerun")  # the phases whose runs may train on their seed's own partition


def library_loader(task: Task) -> tuple[str, ...]:
    """The library module of a bundled loader, for a rule's code digest; a task's own loader file is hashed
    with the task instead."""
    return () if task.loader_file else (f"flcampaign.data.datasets.{task.data['loader']}",)


def loader_of(task: Task) -> ModuleType:
    """The task's loader: its own file (``loader.py``) or a bundled module of ``flcampaign.data.datasets``."""
    if task.loader_file is None:
        return importlib.import_module(*library_loader(task))
    spec = importlib.util.spec_from_file_location(f"flcampaign_task_loader_{task.name}", task.loader_file)
    if spec is None or spec.loader is None:
        raise ValueError(f"{task.loader_file}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def partition_option(task: Task, vary: bool) -> str | None:
    """The loader option that seeds the client partition when repeats vary it, else None; asking to vary a
    partition the task does not draw (real centres) is a configuration error."""
    if not vary:
        return None
    option = getattr(loader_of(task), "PARTITION_OPTION", None)
    if option is None:
        raise ValueError(
            f"repeats.vary_partition: task {task.name}'s clients are fixed sites (loader {task.data['loader']} "
            "draws no partition from a seed), so there is no partition to vary; set it to false"
        )
    return option


def partition_seed(phase: str, seed: int, vary: bool) -> int | None:
    """The partition a run trains and is scored on: its own seed's for repeats when varied, else the campaign's."""
    return int(seed) if vary and phase in VARIED_PHASES else None


def partition_of(split_dir: Path) -> int | None:
    """The partition seed a prepared split folder was made with (None: the campaign's own partition)."""
    manifest = Path(split_dir) / SPLITS_MANIFEST
    return read_json(manifest).get("partition_seed") if manifest.is_file() else None


def rows_digest(parts: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """A digest of a multiset of rows, whichever site holds each: equal when the same rows are dealt differently."""
    rows = sorted(
        hashlib.sha256(np.ascontiguousarray(x[i]).tobytes() + np.asarray(y[i]).tobytes()).digest()
        for x, y in parts
        for i in range(len(y))
    )
    return hashlib.sha256(b"".join(rows)).hexdigest()


MAX_STANDARD_VALUE = 1e3  # standard deviations from a site's training mean: past this a value is a data error


def site_scale(fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's mean and standard deviation over a site's training rows. A feature constant there (or with a
    single row) is centred and not scaled: the site never sees it vary, and dividing by its ~0 spread would send its
    other splits' values to ~1e9."""
    mean = fit.mean(axis=0)
    std = fit.std(axis=0, ddof=1) if len(fit) > 1 else np.zeros_like(mean)
    return mean, np.where(np.isfinite(std) & (std > 0), std, 1.0)


def check_features(task: str, site: str, split: str, x: np.ndarray, standard: bool) -> None:
    """Refuse prepared features that no run should see: non-finite values, or (standardised) values further than
    ``MAX_STANDARD_VALUE`` deviations from the site's training mean; names the site, split and feature."""
    if not x.size:
        return
    flat = x.reshape(len(x), -1)
    bad = ~np.isfinite(flat)
    if standard:
        bad |= np.abs(np.nan_to_num(flat)) > MAX_STANDARD_VALUE
    if bad.any():
        row, feature = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{task}: {site} {split} row {row} feature {feature} is {flat[row, feature]!r} after preparation "
            f"({int(bad.sum())} such values): non-finite"
            + (
                f" or more than {MAX_STANDARD_VALUE:g} standard deviations from the site's training mean"
                if standard
                else ""
            )
        )


def prepare(task: Task, out_dir: Path, partition: int | None = None, campaign_manifest: dict | None = None) -> dict:
    """Write ``<out_dir>/<split>/site-<k>.npz`` and ``splits.json`` with their hashes; with ``partition``, the
    splits of that partition seed, refused unless its held-out rows are those of ``campaign_manifest``."""
    data = task.data
    options = dict(data.get("options") or {})
    option = partition_option(task, partition is not None)
    if option is not None:
        options[option] = partition
    centers = loader_of(task).load_centers(task.root / data["raw"], task.budget["n_clients"], options)
    if len(centers) != task.budget["n_clients"]:
        raise ValueError(f"{task.name}: loader gives {len(centers)} sites, budget says {task.budget['n_clients']}")
    heldout_rows = rows_digest([(x_test, y_test) for _, _, x_test, y_test in centers])
    if campaign_manifest is not None and campaign_manifest.get("heldout_rows_sha256") != heldout_rows:
        raise ValueError(
            f"{task.name}: partition {partition} (data.options.{option}) changes the held-out rows, not only the "
            "client that holds them; repeats.vary_partition needs a loader whose held-out rows stay fixed"
        )
    summary: dict = {
        "task": task.name,
        "partition_seed": partition,
        "partition_option": None if option is None else f"data.options.{option}",
        "heldout_rows_sha256": heldout_rows,
        "sites": {},
        "files": {},
    }
    label_dtype = CLASS_LABELS if task.metric["kind"] in CLASS_INDEX_METRICS else np.float32
    for index, (x_train, y_train, x_test, y_test) in enumerate(centers):
        site = f"site-{index + 1}"
        key = strata(y_train, data.get("stratify", "label"))
        val = carve_search_val(key, data["search_val_fraction"], data["split_seed"] + index)
        fit = x_train[~val]
        standard = data.get("normalize", "site_standard") == "site_standard"
        mean, std = site_scale(fit) if standard else (0.0, 1.0)
        arrays = {
            "train": (x_train[~val], y_train[~val]),
            "search_val": (x_train[val], y_train[val]),
            "heldout": (x_test, y_test),
        }
        summary["sites"][site] = {split: int(len(y)) for split, (_, y) in arrays.items()}
        for split, (x, y) in arrays.items():
            path = Path(out_dir) / split / f"{site}.npz"
            path.parent.mkdir(parents=True, exist_ok=True)
            features = ((x - mean) / std).astype(np.float32)
            check_features(task.name, site, split, features, standard)
            np.savez(path, x=features, y=y.astype(label_dtype))
            summary["files"][f"{split}/{site}.npz"] = sha256_file(path)
    write_json(Path(out_dir) / SPLITS_MANIFEST, summary)
    return summary


def load_split(split_dir: Path, split: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Features and labels per site of one prepared split."""
    out = {}
    for path in sorted((Path(split_dir) / split).glob("site-*.npz")):
        with np.load(path) as arrays:
            out[path.stem] = (arrays["x"], arrays["y"])
    return out
