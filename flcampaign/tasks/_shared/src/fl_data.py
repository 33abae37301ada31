"""Data bridge: serves this client's own training split to client code. Fixed by the task profile.

The trusted runner hands each client worker an open descriptor of its own site's split, and only
that; any other site's name is a violation (``cross-site-data``) that ends the process.
"""

import torch

from flcampaign.execution.site_data import own_training_split


def load_train(site_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and labels of ``site_name``'s training split, prepared by the task's loader: features as
    float32, labels as the task stores them (class indices as int64, the rest as float32)."""
    features, labels = own_training_split(site_name)
    targets = torch.from_numpy(labels)
    return torch.from_numpy(features).float(), targets.float() if targets.is_floating_point() else targets.long()
