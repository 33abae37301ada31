"""Fed-Heart-Disease exactly as FLamby prepares it (flamby/datasets/fed_heart_disease, commit edacf54).

Per center: drop slope/ca/thal, drop rows with missing values, FLamby's stratified 66/34 split with
``random_state=43``; after concatenation, one-hot ``cp`` and ``restecg`` (drop first) giving 13
features; label ``num > 0``. FLamby's test rows are the held-out split here.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

CENTERS = ("cleveland", "hungarian", "switzerland", "va")
FEATURES = (
    "age", "sex", "trestbps", "chol", "fbs", "thalach", "exang", "oldpeak",
    "cp_2", "cp_3", "cp_4", "restecg_1", "restecg_2",
)  # fmt: skip


def load_centers(raw_dir: Path, n_sites: int = 4, options: dict | None = None) -> list[tuple]:
    """Per center: (train features, train labels, test features, test labels), unnormalised."""
    if n_sites != len(CENTERS):
        raise ValueError(f"Fed-Heart-Disease has {len(CENTERS)} centers, not {n_sites}")
    frames, train_flags = [], []
    for center, name in enumerate(CENTERS):
        frame = pd.read_csv(raw_dir / f"processed.{name}.data", header=None, na_values="?")
        frame = frame.drop(columns=[10, 11, 12]).dropna().apply(pd.to_numeric)
        positive = (frame[13].to_numpy() > 0).astype(int)
        stratify = positive if min(np.bincount(positive, minlength=2)) > 2 else None
        train_idx, _ = train_test_split(
            np.arange(len(frame)), train_size=0.66, test_size=0.34, random_state=43, shuffle=True, stratify=stratify
        )
        is_train = np.zeros(len(frame), dtype=bool)
        is_train[train_idx] = True
        frame = frame.assign(center=center)
        frames.append(frame)
        train_flags.append(is_train)
    pooled = pd.get_dummies(pd.concat(frames, ignore_index=True), columns=[2, 6], drop_first=True)
    is_train = np.concatenate(train_flags)
    features = pooled.drop(columns=[13, "center"]).to_numpy(dtype=np.float64)
    labels = (pooled[13].to_numpy() > 0).astype(np.float64)
    centers = pooled["center"].to_numpy()
    if features.shape[1] != len(FEATURES):
        raise ValueError(f"expected {len(FEATURES)} features after one-hot encoding, got {features.shape[1]}")
    out = []
    for center in range(len(CENTERS)):
        train = (centers == center) & is_train
        test = (centers == center) & ~is_train
        out.append((features[train], labels[train], features[test], labels[test]))
    return out
