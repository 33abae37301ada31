"""Model of the Fed-Heart-Disease task: FLamby's logistic regression (13 features -> 1)."""

import torch
from torch import nn


class HeartLogReg(nn.Module):
    """Linear layer plus sigmoid, seeded in the constructor so server and clients agree."""

    def __init__(self, in_features: int = 13, seed: int = 0):
        super().__init__()
        # NVFlare rebuilds the model on the server from the arguments stored on self.
        self.in_features = in_features
        self.seed = seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.linear = nn.Linear(in_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x)).squeeze(-1)
