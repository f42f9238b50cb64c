"""Training throughput: resgraph's lowered CIFAR ResNets against the same network written by hand.

    RESGRAPH_BENCH_THREADS=1 .venv/bin/python -m pytest bench/test_train_speed.py -s -p no:cacheprovider

The hand-written module is torchvision's style (BasicBlock, option-A shortcut as
a strided slice plus zero channels), with the same parameter names, so the
very same weights load into both; a step on one batch must give the same loss.
Steps of the two are timed in interleaved rounds (forward + backward + SGD
update, batch 128, BatchNorm in training mode); the ratio is the median of the
rounds' own ratios, so load that comes and goes hits both sides of each.
Figures are recorded in docs/training.md.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from resgraph.bench.env import fixed_threads
from resgraph.lower import build_model

ROUNDS, STEPS, BATCH = 7, 10, 128


class BasicBlock(nn.Module):
    """torchvision's BasicBlock, with the paper's option A where the shape changes."""

    def __init__(self, w_in: int, w_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(w_in, w_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(w_out, w_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(w_out)
        self.stride, self.pad = stride, w_out - w_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.stride != 1 or self.pad:  # option A: subsample, then zero-pad the new channels
            identity = F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, 0, self.pad))
        return self.relu(out + identity)


class CifarResNet(nn.Module):
    def __init__(self, n: int, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        widths, w_in = (16, 32, 64), 16
        for i, w in enumerate(widths, 1):
            blocks = [BasicBlock(w_in if j == 0 else w, w, 2 if (j == 0 and i > 1) else 1) for j in range(n)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
            w_in = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _stepper(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step() -> float:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


@pytest.mark.parametrize("name,n", [("resnet20", 3), ("resnet56", 9)])
def test_training_throughput_matches_hand_written(name, n):
    threads = int(os.environ.get("RESGRAPH_BENCH_THREADS", torch.get_num_threads()))
    ours, hand = build_model(name, seed=0).train(), CifarResNet(n).train()
    hand.load_state_dict(ours.state_dict(), strict=True)  # same names, same order: the same weights
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(BATCH, 3, 32, 32, generator=g), torch.randint(0, 10, (BATCH,), generator=g)
    with torch.no_grad():
        assert torch.allclose(ours(x), hand(x), atol=1e-4)
    steps = {"resgraph": _stepper(ours, x, y), "hand-written": _stepper(hand, x, y)}
    rates: dict[str, list[float]] = {k: [] for k in steps}
    load_before = os.getloadavg()[0]
    with fixed_threads(threads):
        for fn in steps.values():
            fn(), fn()  # warm-up: oneDNN primitives, allocator
        for _ in range(ROUNDS):
            for k, fn in steps.items():  # interleaved: a burst of load hits both alike
                t0 = time.perf_counter()
                for _ in range(STEPS):
                    fn()
                rates[k].append(STEPS * BATCH / (time.perf_counter() - t0))
    med = {k: statistics.median(v) for k, v in rates.items()}
    paired = sorted(a / b for a, b in zip(rates["resgraph"], rates["hand-written"], strict=False))  # each round's own ratio
    ratio = statistics.median(paired)
    print(f"\n{name} training, batch {BATCH}, {threads} thread(s), load {load_before:.2f} -> {os.getloadavg()[0]:.2f}: "
          + ", ".join(f"{k} {v:.0f} img/s" for k, v in med.items())
          + f", ratio {ratio:.3f} (median of {ROUNDS} rounds' ratios; range {paired[0]:.3f}-{paired[-1]:.3f})")
    assert ratio > 0.85, f"resgraph trains {name} at {ratio:.2f}x the hand-written module's speed"
