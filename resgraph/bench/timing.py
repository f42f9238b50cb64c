"""Per-iteration wall-clock samples of a callable, with warm-up; CPU and CUDA paths."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from resgraph.bench.settings import TimingConfig  # defined there, numpy-free, for the command line

__all__ = ["TimingConfig", "time_callable", "measure_overhead"]


def _without_gc(run: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Sample with the cyclic garbage collector off (as timeit does): a collection is not the model's cost."""

    def wrapped(*args: Any) -> np.ndarray:
        enabled = gc.isenabled()
        gc.collect()
        gc.disable()
        try:
            return run(*args)
        finally:
            if enabled:
                gc.enable()

    return wrapped


def time_callable(
    fn: Callable[[], object],
    warmup: int,
    iters: int,
    min_time_s: float | None = None,
    device: str = "cpu",
    max_iters: int = 100_000,
) -> np.ndarray:
    """Return per-call durations in seconds (float64), after `warmup` untimed calls.

    At least `iters` samples are taken; if `min_time_s` is given and their sum is
    shorter, more are taken (up to `max_iters`) so that short calls are not
    judged on a handful of clock ticks.
    """
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    is_cuda = device.startswith("cuda")
    run = _without_gc(_run_cuda if is_cuda else _run_cpu)
    for _ in range(warmup):
        fn()
    if is_cuda:
        import torch

        torch.cuda.synchronize(device)
    samples = run(fn, iters, device)
    if min_time_s is not None:
        total = float(samples.sum())
        while total < min_time_s and samples.size < max_iters:
            per_call = max(float(np.median(samples)), 1e-9)
            more = math.ceil((min_time_s - total) / per_call)
            more = max(1, min(more, max_iters - samples.size))
            extra = run(fn, more, device)
            samples = np.concatenate([samples, extra])
            total += float(extra.sum())
    return samples


def _run_cpu(fn: Callable[[], object], n: int, device: str) -> np.ndarray:
    """Chain n+1 monotonic timestamps around n calls; the loop body is one call and one clock read."""
    stamps = [0] * (n + 1)  # preallocated: a list store is cheaper than a numpy setitem
    clock = time.perf_counter_ns
    stamps[0] = clock()
    for i in range(1, n + 1):
        fn()
        stamps[i] = clock()
    return np.diff(np.asarray(stamps, dtype=np.int64)).astype(np.float64) * 1e-9


def _run_cuda(fn: Callable[[], object], n: int, device: str) -> np.ndarray:
    """Record an event pair around each call on the current stream, synchronize once at the end."""
    import torch

    starts = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    for i in range(n):
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize(device)
    ms = [s.elapsed_time(e) for s, e in zip(starts, ends, strict=False)]
    return np.asarray(ms, dtype=np.float64) * 1e-3


def _noop() -> None:
    """The callable whose timing is pure harness overhead."""


def measure_overhead(iters: int = 100_000, warmup: int = 1000) -> float:
    """Median seconds per timed iteration of a no-op on the CPU path: the harness's own cost."""
    return float(np.median(time_callable(_noop, warmup=warmup, iters=iters)))
