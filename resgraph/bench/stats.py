"""Summary statistics of timing samples, so every row reports the same numbers the same way."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Stats", "summarize"]


@dataclass(frozen=True)
class Stats:
    """Latency summary in seconds plus throughput; frozen because it is a measurement."""

    n: int  # number of samples
    min: float
    p10: float  # with p90: the error bars of the plots
    p50: float
    p90: float
    p99: float
    mean: float
    std: float  # population std (ddof=0)
    cv: float  # std / mean: run-to-run noise, unitless
    throughput: float  # images/s = batch / p50 (median: robust to stray slow iterations)

    def as_ms(self) -> dict[str, float]:
        """Record fields in milliseconds, the unit people read latency in."""
        d = asdict(self)
        out = {f"{k}_ms": d[k] * 1e3 for k in ("min", "p10", "p50", "p90", "p99", "mean", "std")}
        out.update(cv=self.cv, throughput=self.throughput, samples=self.n)
        return out


def summarize(samples_s: np.ndarray, batch: int = 1) -> Stats:
    """Summarize per-iteration seconds; percentiles use numpy's default linear interpolation."""
    a = np.asarray(samples_s, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"need a non-empty 1-D array of samples, got shape {a.shape}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    p10, p50, p90, p99 = np.percentile(a, [10, 50, 90, 99])
    mean = float(a.mean())
    std = float(a.std())
    return Stats(
        n=int(a.size),
        min=float(a.min()),
        p10=float(p10),
        p50=float(p50),
        p90=float(p90),
        p99=float(p99),
        mean=mean,
        std=std,
        cv=std / mean if mean > 0 else float("nan"),
        throughput=batch / float(p50) if p50 > 0 else float("inf"),
    )
