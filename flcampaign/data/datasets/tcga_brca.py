"""Fed-TCGA-BRCA exactly as FLamby serves it (flamby/datasets/fed_tcga_brca, commit edacf54).

Static split from FLamby's ``train_test_split.csv``: a patient's ``fold`` (train/test) says which
side it is on. Its center is the region of its tissue source site (TSS, the second field of the TCGA
barcode) through ``centers.csv``: 0 Northeast, 1 South, 2 West, 3 Midwest, 4 Europe, 5 Canada. The
loader derives the center from the TSS and checks it against FLamby's own ``fold2`` (``train_k`` /
``test_k``); the 8 ``brca.csv`` patients of region "Other" are in no split and are never used, as in
FLamby. Rows keep ``brca.csv`` order (FLamby filters that frame by pid).

Features are the 39 raw covariates (``age_at_index`` in years plus 38 one-hot columns), float64,
unnormalised (FLamby does not scale them). Labels are ``(n, 2)`` rows ``(T, E)``: time in days and
the event flag, the order ``flcampaign.scoring.evaluator.c_index`` expects (FLamby's tensors are ``(E, T)``).
FLamby's test rows are the held-out split here.

Every CSV is checked against the sha256 listed in ``SOURCES.md`` before it is read.
"""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from flcampaign.data.datasets import sources_sha256

REGIONS = ("Northeast", "South", "West", "Midwest", "Europe", "Canada")
FILES = ("brca.csv", "centers.csv", "train_test_split.csv")
N_FEATURES = 39


def listed_sha256(raw_dir: Path) -> dict[str, str]:
    """File name -> sha256, from the table in ``SOURCES.md``; every file of ``FILES`` must be listed."""
    hashes = sources_sha256(raw_dir, r"[\w.]+\.csv")
    missing = [name for name in FILES if name not in hashes]
    if missing:
        raise ValueError(f"{raw_dir}/SOURCES.md lists no sha256 for {missing}")
    return hashes


def verify_files(raw_dir: Path) -> None:
    """Refuse to read a CSV whose sha256 differs from the one in ``SOURCES.md``."""
    for name, expected in listed_sha256(raw_dir).items():
        path = Path(raw_dir) / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: listed in SOURCES.md but missing")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected:
            raise ValueError(f"{name}: sha256 is {digest}, SOURCES.md says {expected}")


def center_table(raw_dir: Path) -> pd.DataFrame:
    """Every patient of the split with its brca.csv row, region, center (0-5) and fold."""
    verify_files(raw_dir)
    brca = pd.read_csv(Path(raw_dir) / "brca.csv")
    sites = pd.read_csv(Path(raw_dir) / "centers.csv")
    split = pd.read_csv(Path(raw_dir) / "train_test_split.csv")
    if brca.shape[1] != N_FEATURES + 3 or list(brca.columns[[0, -2, -1]]) != ["pid", "E", "T"]:
        raise ValueError(f"brca.csv: expected pid, {N_FEATURES} covariates, E, T; got {brca.shape[1]} columns")
    if not brca["pid"].is_unique or not split["pid"].is_unique or not sites["TSS Code"].is_unique:
        raise ValueError("duplicate patient ids or TSS codes in the shipped CSVs")
    region_of = dict(zip(sites["TSS Code"], sites["Region"], strict=True))
    table = brca.assign(row=np.arange(len(brca)), region=brca["pid"].str.split("-").str[1].map(region_of))
    table = table.merge(split, on="pid", how="inner", validate="one_to_one").sort_values("row")
    if len(table) != len(split):
        raise ValueError(f"train_test_split.csv: {len(split) - len(table)} patients are not in brca.csv")
    if not table["region"].isin(REGIONS).all():
        raise ValueError(
            f"patients of the split outside the six regions: {sorted(set(table['region']) - set(REGIONS))}"
        )
    table["center"] = table["region"].map({region: index for index, region in enumerate(REGIONS)})
    flamby_center = table["fold2"].str.rsplit("_", n=1).str[1].astype(int)
    flamby_fold = table["fold2"].str.rsplit("_", n=1).str[0]
    if not (flamby_center == table["center"]).all() or not (flamby_fold == table["fold"]).all():
        raise ValueError("TSS-derived centers disagree with FLamby's fold2 column")
    return table.reset_index(drop=True)


def load_centers(raw_dir: Path, n_sites: int = 6, options: dict | None = None) -> list[tuple]:
    """Per center 0-5: (train features, train (T, E), test features, test (T, E)), unnormalised."""
    if n_sites != len(REGIONS):
        raise ValueError(f"Fed-TCGA-BRCA has {len(REGIONS)} centers, not {n_sites}")
    table = center_table(Path(raw_dir))
    covariates = list(table.columns[1 : N_FEATURES + 1])  # brca.csv order, between pid and E
    features = table[covariates].to_numpy(dtype=np.float64)
    labels = table[["T", "E"]].to_numpy(dtype=np.float64)
    out = []
    for center in range(len(REGIONS)):
        train = (table["center"] == center).to_numpy() & (table["fold"] == "train").to_numpy()
        test = (table["center"] == center).to_numpy() & (table["fold"] == "test").to_numpy()
        out.append((features[train], labels[train], features[test], labels[test]))
    return out
