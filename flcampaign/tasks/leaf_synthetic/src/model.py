"""Model of the LEAF synthetic task: LEAF's ``synthetic.log_reg`` (60 features -> 5 class scores).

LEAF (TalwalkarLab/leaf @ 09ec454, models/synthetic/log_reg.py) builds
``tf.layers.dense(features, num_classes, activation=tf.nn.sigmoid)`` and trains it with
``sparse_softmax_cross_entropy_with_logits`` on those sigmoid outputs; predictions are their arg-max.
This is the same model: a linear layer (305 parameters) with a sigmoid on each class score. The
sigmoid keeps the scores in (0, 1), which flattens the softmax; it is LEAF's choice, kept on purpose.
"""

import torch
from torch import nn


class LeafLogReg(nn.Module):
    """Linear layer plus sigmoid, one score per class, seeded in the constructor so server and clients agree."""

    def __init__(self, in_features: int = 60, num_classes: int = 5, seed: int = 0):
        super().__init__()
        # NVFlare rebuilds the model on the server from the arguments stored on self.
        self.in_features = in_features
        self.num_classes = num_classes
        self.seed = seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x))
