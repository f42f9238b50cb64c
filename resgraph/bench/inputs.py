"""The images a quantised row is calibrated on and checked on, from its data set or seeded noise.

Calibration and check never share images: with a data set, calibration draws
from its training split and the check runs on its test split; without one,
both are seeded standard-normal batches with different seeds. Every batch has
the row's batch size (a backend may be compiled for that shape only); the last
check batch is padded with its own first image and the padding dropped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

from resgraph.data import load_data
from resgraph.errors import UsageError
from resgraph.precision import CALIBRATION_BATCHES

__all__ = ["CALIBRATION_BATCHES", "CHECK_IMAGES", "MAX_CHECK_IMAGES", "HeldOut", "calibration_batches", "held_out",
           "check_data"]

CHECK_IMAGES = 32          # held-out noise images an int8 row is checked on (no data set)
MAX_CHECK_IMAGES = 2000    # at most this many test images (the first ones, in the split's order)
CALIBRATION_SEED = 1       # noise seeds; the row's own timed input uses seed 0
CHECK_SEED = 2


@dataclass(frozen=True)
class HeldOut:
    """Check images in row-sized batches; ``labels`` only for a data set's test split."""

    batches: list[torch.Tensor]
    images: int                      # real images (the last batch may be padded)
    labels: torch.Tensor | None
    source: str                      # "digits test split" or "random normal, seed 2"

    def trim(self, out: torch.Tensor) -> torch.Tensor:
        """Concatenated per-batch outputs without the padding."""
        return out[: self.images]


@functools.lru_cache(maxsize=4)
def _data(name: str) -> Any:
    """The data set of that name (resgraph.data), loaded once per process."""
    return load_data(name)


def check_data(name: str, input_shape: tuple[int, int, int], model: str) -> None:
    """A one-line UsageError when the data set's images do not fit the model's input."""
    d = _data(name)
    shape = (d.channels, *d.size)
    if tuple(shape) != tuple(input_shape):
        c, h, w = input_shape
        raise UsageError(f"--data {name}: its images are {d.channels}x{d.size[0]}x{d.size[1]} but {model} takes "
                         f"{c}x{h}x{w} (train the spec on it with `resgraph train --fit-input`, or give that spec)")


def calibration_batches(
    count: int, batch: int, shape: tuple[int, int, int], data: str | None
) -> tuple[list[torch.Tensor], str]:
    """``count`` batches of ``batch`` images to calibrate on, and where they came from."""
    if data:
        train = _data(data).train
        g = torch.Generator().manual_seed(CALIBRATION_SEED)
        order = torch.randperm(len(train), generator=g)[: count * batch].tolist()
        if len(order) < count * batch:  # a small training split: go round it again
            order = (order * (count * batch // max(len(order), 1) + 1))[: count * batch]
        images = torch.stack([torch.as_tensor(train[i][0], dtype=torch.float32) for i in order])
        return list(images.split(batch)), f"{data} train split, {count * batch} images (seed {CALIBRATION_SEED})"
    g = torch.Generator().manual_seed(CALIBRATION_SEED)
    return ([torch.randn(batch, *shape, generator=g) for _ in range(count)],
            f"random normal, {count * batch} images (seed {CALIBRATION_SEED})")


def held_out(batch: int, shape: tuple[int, int, int], data: str | None, labelled: bool) -> HeldOut:
    """The check images: the data set's test split (labels when ``labelled``), else seeded noise."""
    if data:
        test = _data(data).test
        n = min(len(test), MAX_CHECK_IMAGES)
        items = [test[i] for i in range(n)]
        images = torch.stack([torch.as_tensor(x, dtype=torch.float32) for x, _ in items])
        labels = torch.tensor([int(y) for _, y in items]) if labelled else None
        source = f"{data} test split, {n} images"
    else:
        n = max(CHECK_IMAGES, batch)
        g = torch.Generator().manual_seed(CHECK_SEED)
        images, labels = torch.randn(n, *shape, generator=g), None
        source = f"random normal, {n} images (seed {CHECK_SEED})"
    pad = -n % batch
    if pad:
        images = torch.cat([images, images[:1].expand(pad, *images.shape[1:])])
    return HeldOut(list(images.split(batch)), n, labels, source)
