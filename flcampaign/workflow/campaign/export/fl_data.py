"""Data bridge of a job exported by `flcampaign export`: each site's training split from a folder of files.

In a campaign the runner hands each client its own split; an exported job runs without the runner, so
the bridge reads ``<site>.npz`` from ``FLCAMPAIGN_EXPORT_DATA``, else from the folder the export wrote.
Features and labels are converted as the campaign's bridge converts them, so a run reproduces the
campaign's.
"""

import os
from pathlib import Path

import numpy as np
import torch

EXPORTED_DATA = "$data_dir"


def load_train(site_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (float32) and labels (class indices as int64, the rest as float32) of ``site_name``."""
    folder = Path(os.environ.get("FLCAMPAIGN_EXPORT_DATA", EXPORTED_DATA))
    with np.load(folder / f"{site_name}.npz", allow_pickle=False) as arrays:
        features, labels = np.array(arrays["x"]), np.array(arrays["y"])
    targets = torch.from_numpy(labels)
    return torch.from_numpy(features).float(), targets.float() if targets.is_floating_point() else targets.long()
