"""Data bridge: serves this client's own training split to client code. Fixed by the task profile.

The trusted runner hands each client worker an open descriptor of its own site's split, and only
that; any other site's name is a violation (``cross-site-data``) that ends the process.
"""

import torch

from flcampaign.execution.site_data import own_training_split


def load_train(site_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened 32x32 RGB images (n, 3072), channel-major, standardised with the CIFAR-10 channel
    mean and std by the task's loader, and integer class labels 0-9."""
    features, labels = own_training_split(site_name)
    return torch.from_numpy(features).float(), torch.from_numpy(labels).long()
