"""A tiny residual conv net: a fast stand-in model for harness tests and smoke benchmarks."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TinyResNet", "tiny_resnet"]


class TinyResNet(nn.Module):
    """conv-BN-ReLU stem, one basic residual block, pooled linear head (32x32 input)."""

    def __init__(self, w: int = 8, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, w, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.conv2 = nn.Conv2d(w, w, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(w)
        self.conv3 = nn.Conv2d(w, w, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(x)))
        y = self.bn3(self.conv3(y))
        x = self.relu(x + y)
        return self.fc(torch.flatten(self.pool(x), 1))


def tiny_resnet(w: int = 8, classes: int = 10, seed: int = 0) -> TinyResNet:
    """An eval-mode TinyResNet with random, non-trivial BN statistics (so folding is really tested)."""
    g = torch.Generator().manual_seed(seed)
    m = TinyResNet(w, classes)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        for bn in (m.bn1, m.bn2, m.bn3):
            assert bn.running_mean is not None and bn.running_var is not None  # track_running_stats, the default
            bn.running_mean.copy_(torch.randn(w, generator=g) * 0.5)
            bn.running_var.copy_(torch.rand(w, generator=g) * 1.5 + 0.25)
            bn.weight.copy_(torch.rand(w, generator=g) + 0.5)
    return m.eval()
