"""Model of the Fed-TCGA-BRCA task: FLamby's linear Cox model (39 covariates -> 1 risk score)."""

import torch
from torch import nn


class CoxLinear(nn.Module):
    """One linear layer giving the log-hazard ratio, seeded in the constructor so server and clients agree.

    ``forward`` returns one risk score per row (shape ``(n,)``): higher means an earlier event, the
    convention of the task's C-index.
    """

    def __init__(self, in_features: int = 39, seed: int = 0):
        super().__init__()
        # NVFlare rebuilds the model on the server from the arguments stored on self.
        self.in_features = in_features
        self.seed = seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.linear = nn.Linear(in_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).squeeze(-1)
