"""Data bridge: serves a site's training split to client code. Fixed by the task profile.

The trusted pipeline writes one ``<site>.npz`` per site into the directory named by
``FLCAMPAIGN_TRAIN_DIR``; nothing else (no validation or held-out rows) is placed there.
"""

import os

import numpy as np
import torch


def load_train(site_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """LEAF synthetic features (n, 60) as generated (not normalised) and integer class labels 0-4."""
    root = os.environ["FLCAMPAIGN_TRAIN_DIR"]
    with np.load(os.path.join(root, f"{site_name}.npz")) as arrays:
        features = torch.from_numpy(arrays["x"]).float()
        labels = torch.from_numpy(arrays["y"]).long()
    return features, labels
