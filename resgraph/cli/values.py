"""Checks of option values that click's types let through: nan and inf pass ``FloatRange``."""

from __future__ import annotations

import math

import click

__all__ = ["TORCH_SEED", "finite"]

# torch.Generator.manual_seed takes 0..2^64-1 (and wraps negatives): a seed outside it is refused, never wrapped
TORCH_SEED = click.IntRange(0, 2**64 - 1)


def finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A click callback: the value must be a finite number (a nan timeout would kill every row)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"expected a finite number (received {value})")
    return value
