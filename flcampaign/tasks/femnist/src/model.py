"""Model of the FEMNIST task: a small CNN (2 conv + 2 fully connected layers, about 222k parameters).

LEAF's FEMNIST CNN has the same shape with 32/64 filters and a 2048-unit dense layer (about 6.6M
parameters); this one is narrower so a whole campaign runs on a laptop CPU. Input rows are the
flattened 28x28 images (n, 784); the output is one row of 62 class scores (logits) per image.
"""

import torch
from torch import nn

IMAGE_SIDE = 28


class FemnistCNN(nn.Module):
    """conv5x5(16)-pool-conv5x5(32)-pool-fc(128)-fc(62), seeded in the constructor so server and clients agree."""

    def __init__(self, num_classes: int = 62, seed: int = 0):
        super().__init__()
        # NVFlare rebuilds the model on the server from the arguments stored on self.
        self.num_classes = num_classes
        self.seed = seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.conv1 = nn.Conv2d(1, 16, kernel_size=5, padding=2)
            self.conv2 = nn.Conv2d(16, 32, kernel_size=5, padding=2)
            self.fc1 = nn.Linear(32 * 7 * 7, 128)
            self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)
