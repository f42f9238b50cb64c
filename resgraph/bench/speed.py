"""The machine's speed index: one fixed reference kernel, timed beside every row.

On a shared VM the machine itself can get slower or faster during a sweep (another guest on the
host, a frequency change) while every row looks steady on its own. A fixed matmul of fixed
seeded data, timed just before and just after each row's samples with the row's threads, says
how fast the machine was while the row ran (``speed_ms``: the median of both runs' repetitions).
A sweep compares each row's index with the median of those read before it on the same machine and
thread count: a row whose index is more than :data:`DRIFT_MAX` off is measured again, and flagged
``unstable`` with the reason when its index is still off (resgraph.bench.rounds).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from resgraph.bench.settings import TimingConfig

__all__ = ["DRIFT_MAX", "REPS", "SIZE", "drift", "drift_reason", "reference_times_ms", "speed_index_ms"]

SIZE = 512  # a 512 x 512 fp32 matmul: 268 MFLOP, a few ms on one core of this machine's class
REPS = 5  # timed repetitions per run (after one untimed): the index is the median of both runs' repetitions
DRIFT_MAX = TimingConfig().drift_max  # a row measured on a machine 10 % slower or faster than usual: again


def _operands() -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    a, b = (torch.from_numpy(rng.standard_normal((SIZE, SIZE), dtype=np.float32)) for _ in range(2))
    return a, b


def reference_times_ms(reps: int = REPS) -> list[float]:
    """``reps`` timings of the reference kernel, ms, after one untimed run (with torch's current threads)."""
    a, b = _operands()
    out = torch.empty(SIZE, SIZE)
    torch.mm(a, b, out=out)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        torch.mm(a, b, out=out)
        times.append((time.perf_counter_ns() - t0) * 1e-6)
    return times


def speed_index_ms(runs: list[list[float]]) -> float:
    """The index of a row from the kernel's runs around it: the median of every repetition, ms."""
    return round(float(np.median([t for run in runs for t in run])), 4)


def drift(index_ms: float | None, start_ms: float | None) -> float | None:
    """How far a row's index is from the sweep's usual one, as a signed share (0.2: 20 % slower); None if unknown."""
    if not index_ms or not start_ms:
        return None
    return index_ms / start_ms - 1


def drift_reason(index_ms: float, start_ms: float, drift_max: float | None = DRIFT_MAX) -> str:
    """Why a row is flagged: its index, the sweep's usual one and by how much they differ."""
    d = index_ms / start_ms - 1
    return (f"the machine's speed index was {index_ms:.3g} ms against the sweep's usual {start_ms:.3g} ms "
            f"({d:+.0%}; > {drift_max or 0:.0%} after a re-measure)")
