"""LEAF FEMNIST, small sample (20 shard pairs, 105 writers), grouped into a configurable number of clients.

The shards are LEAF's own JSON (``./preprocess.sh -s niid --sf 0.05 -k 0 -t sample``): per writer,
LEAF's 90/10 ``sample`` split gives the train and test rows. Here a writer's LEAF train rows are the
site's training rows (the search-validation carve is taken from them later by ``flcampaign.data.splits``)
and the writer's LEAF test rows are the site's held-out rows, so no image of a writer's held-out set
is ever trained on.

Grouping rule (deterministic, documented): the 105 writer ids are sorted as strings, permuted with
``numpy.random.default_rng(options["grouping_seed"])`` (no permutation when ``grouping_seed`` is
absent or null), and dealt round-robin: writer ``j`` of that order goes to site ``j % n_sites``. Each
writer lands in exactly one site; a site's rows follow its writers' order, each writer's rows in file
order. Changing ``n_sites`` or ``grouping_seed`` regroups the writers.

Every shard is checked against the sha256 of its uncompressed JSON listed in ``SOURCES.md`` before it
is read. Features are float32 ``(n, 784)`` exactly as LEAF stores them (``v / 255``, 28x28 row-major,
1.0 = white); labels are int64 class ids 0-61 (digits, upper case, lower case).
"""

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np

from flcampaign.data.datasets import sources_sha256

N_WRITERS = 105
N_CLASSES = 62
IMAGE_PIXELS = 28 * 28
OPTIONS = {"grouping_seed"}
PARTITION_OPTION = "grouping_seed"  # which writers share a client: repeats may vary it
SHARD_NAME = r"all_data_\d+_niid_05_keep_0_(?:train|test)_9\.json\.gz"


def listed_shards(raw_dir: Path) -> dict[str, str]:
    """File name -> sha256 of its uncompressed JSON, from the table in ``SOURCES.md``."""
    hashes = sources_sha256(raw_dir, SHARD_NAME)
    if not hashes:
        raise ValueError(f"{raw_dir}/SOURCES.md lists no FEMNIST shard with its sha256")
    return hashes


def read_shard(path: Path, expected_sha256: str) -> dict:
    """One LEAF shard, after checking the sha256 of its uncompressed JSON."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: FEMNIST shard listed in SOURCES.md is missing")
    raw = gzip.decompress(path.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise ValueError(f"{path.name}: sha256 of the uncompressed JSON is {digest}, SOURCES.md says {expected_sha256}")
    return json.loads(raw)


def load_writers(raw_dir: Path) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per writer id: {"train": (x, y), "test": (x, y)} from every shard listed in SOURCES.md."""
    writers: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for name, digest in sorted(listed_shards(raw_dir).items()):
        split = "train" if "_train_" in name else "test"
        shard = read_shard(Path(raw_dir) / name, digest)
        for user, count in zip(shard["users"], shard["num_samples"], strict=True):
            data = shard["user_data"][user]
            x = np.asarray(data["x"], dtype=np.float32).reshape(-1, IMAGE_PIXELS)
            y = np.asarray(data["y"], dtype=np.int64)
            if len(x) != count or len(y) != count:
                raise ValueError(f"{name}: writer {user} has {len(x)} images, {len(y)} labels, num_samples {count}")
            if count and (y.min() < 0 or y.max() >= N_CLASSES):
                raise ValueError(f"{name}: writer {user} has labels outside 0..{N_CLASSES - 1}")
            if split in writers.setdefault(user, {}):
                raise ValueError(f"{name}: writer {user} appears in two {split} shards")
            writers[user][split] = (x, y)
    incomplete = sorted(user for user, parts in writers.items() if set(parts) != {"train", "test"})
    if incomplete:
        raise ValueError(f"writers without both a train and a test part: {incomplete[:5]}")
    return writers


def group_writers(writer_ids: list[str], n_sites: int, grouping_seed: int | None) -> list[list[str]]:
    """The documented grouping: sort, optionally permute with the seed, deal round-robin."""
    if not 1 <= n_sites <= len(writer_ids):
        raise ValueError(f"FEMNIST small has {len(writer_ids)} writers; cannot make {n_sites} sites")
    order = sorted(writer_ids)
    if grouping_seed is not None:
        order = [order[i] for i in np.random.default_rng(int(grouping_seed)).permutation(len(order))]
    return [order[site::n_sites] for site in range(n_sites)]


def load_centers(raw_dir: Path, n_sites: int = 5, options: dict | None = None) -> list[tuple]:
    """Per site: (train features, train labels, test features, test labels), LEAF's pixel values."""
    options = options or {}
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise ValueError(f"unknown FEMNIST loader options {unknown} (known: {sorted(OPTIONS)})")
    writers = load_writers(raw_dir)
    out = []
    for group in group_writers(list(writers), n_sites, options.get("grouping_seed")):
        parts = {
            split: (
                np.concatenate([writers[w][split][0] for w in group]),
                np.concatenate([writers[w][split][1] for w in group]),
            )
            for split in ("train", "test")
        }
        out.append((*parts["train"], *parts["test"]))
    return out
