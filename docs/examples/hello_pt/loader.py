"""Trusted loader of the hello-world task: scikit-learn's digits (1,797 8x8 images, 10 classes), dealt to sites.

The data ship with scikit-learn (BSD-3), so nothing is downloaded. Rows are shuffled once with the
task's grouping seed and dealt round-robin to the sites; each site keeps a stratified quarter of its
rows as its test rows (the campaign's held-out split).
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def load_centers(
    raw_dir: Path, n_sites: int, options: dict
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    features, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(options.get("grouping_seed", 0)).permutation(len(labels))
    centers = []
    for site in range(n_sites):
        rows = order[site::n_sites]
        x_train, x_test, y_train, y_test = train_test_split(
            features[rows] / 16.0, labels[rows], test_size=0.25, random_state=site, stratify=labels[rows]
        )
        centers.append(
            (x_train.astype(np.float32), y_train.astype(np.int64), x_test.astype(np.float32), y_test.astype(np.int64))
        )
    return centers
