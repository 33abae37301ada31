"""Data bridge: serves a site's training split to client code. Fixed by the task profile.

The trusted pipeline writes one ``<site>.npz`` per site into the directory named by
``FLCAMPAIGN_TRAIN_DIR``; nothing else (no validation or held-out rows) is placed there.
"""

import os

import numpy as np
import torch


def load_train(site_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and labels of ``site_name``'s training split: 39 raw covariates and (time, event) rows."""
    root = os.environ["FLCAMPAIGN_TRAIN_DIR"]
    with np.load(os.path.join(root, f"{site_name}.npz")) as arrays:
        features = torch.from_numpy(arrays["x"]).float()
        labels = torch.from_numpy(arrays["y"]).float()
    return features, labels
