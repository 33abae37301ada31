"""Model of the CIFAR-10 task: the reference Auto-FL ``moderate_cnn`` (3,491,530 parameters).

Same layers as ``ModerateCNN`` in NVIDIA/NVFlare ``research/auto-fl-research/tasks/cifar10/model.py``:
three blocks of two 3x3 convolutions (32-64, 128-128, 256-256 filters) with ReLU and 2x2 max-pooling
(2-D dropout 0.05 after the second block), then dropout 0.1, 4096-512-512-10 fully connected layers
with ReLU and a last dropout 0.1. Input rows are the flattened images (n, 3072), channel-major as in
the CIFAR-10 archive; the output is one row of 10 class scores (logits) per image.
"""

import torch
from torch import nn

CHANNELS, SIDE = 3, 32
EVAL_CHUNK = 1024  # rows per forward pass in eval mode: bounds the evaluator's memory on large splits


class ModerateCNN(nn.Module):
    """The reference moderate CNN, seeded in the constructor so server and clients agree."""

    def __init__(self, num_classes: int = 10, seed: int = 0):
        super().__init__()
        # NVFlare rebuilds the model on the server from the arguments stored on self.
        self.num_classes = num_classes
        self.seed = seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.conv_layer = nn.Sequential(
                nn.Conv2d(CHANNELS, 32, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(32, 64, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=2, stride=2),
                nn.Conv2d(64, 128, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(128, 128, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=2, stride=2),
                nn.Dropout2d(p=0.05),
                nn.Conv2d(128, 256, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(256, 256, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=2, stride=2),
            )
            self.fc_layer = nn.Sequential(
                nn.Dropout(p=0.1),
                nn.Linear(4096, 512),
                nn.ReLU(inplace=True),
                nn.Linear(512, 512),
                nn.ReLU(inplace=True),
                nn.Dropout(p=0.1),
                nn.Linear(512, num_classes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, CHANNELS, SIDE, SIDE)
        if not self.training and len(x) > EVAL_CHUNK:
            return torch.cat([self._logits(chunk) for chunk in x.split(EVAL_CHUNK)])
        return self._logits(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_layer(self.conv_layer(x).flatten(1))
