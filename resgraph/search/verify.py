"""Measure the best front points with the bench harness, on what the profile was made with.

Same backend, precision, batch, device and threads as the profile; rows in their own processes,
interleaved rounds, as ``bench`` runs them. A point measured over the budget is ``breaks_budget``,
whatever its prediction said; one whose row failed is ``failed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from resgraph.latency.profile import ProfileHeader
from resgraph.search.front import FrontPoint
from resgraph.spec.model import ResNetSpec

__all__ = ["Measured", "Measure", "bench_measure", "judge", "verify_seconds"]

WARMUP, ITERS, MIN_TIME, REPEAT = 3, 20, 0.3, 2
ROW_OVERHEAD_S = 3.0  # a row's own process: start, build, prepare (measured here: 2-4 s)


@dataclass(frozen=True)
class Measured:
    """One spec's measured p50, its harness's unstable reason, or why it has none."""

    p50_ms: float | None
    unstable: str | None = None
    note: str | None = None


Measure = Callable[[Sequence[ResNetSpec]], dict[str, Measured]]


def bench_measure(header: ProfileHeader, results: Path, progress: bool = True) -> Measure:
    """A measure function timing specs with the harness as the profile was made (results go to ``results``)."""

    def measure(specs: Sequence[ResNetSpec]) -> dict[str, Measured]:
        from resgraph.bench import TimingConfig, plan, run_sweep
        from resgraph.entries import spec_entry

        jobs = plan([spec_entry(s) for s in specs], [header.backend], [header.batch], [header.precision],
                    header.device)
        recs = run_sweep(jobs, results, progress=progress, threads=header.threads, roofline=False,
                         timing=TimingConfig(warmup=WARMUP, iters=ITERS, min_time_s=MIN_TIME, repeat=REPEAT))
        out: dict[str, Measured] = {}
        for r in recs:
            if r.status == "ok" and r.p50_ms:
                out[r.spec] = Measured(float(r.p50_ms), r.unstable)
            else:
                out.setdefault(r.spec, Measured(None, None, f"{r.status}: {r.reason or 'no reason given'}"))
        return out

    return measure


def judge(points: Sequence[FrontPoint], measured: dict[str, Measured]) -> list[FrontPoint]:
    """Each point with its measurement and status: fits only if measured at or under its budget."""
    out = []
    for p in points:
        m = measured.get(p.name)
        if m is None:
            out.append(p)
        elif m.p50_ms is None:
            out.append(p.evolve(status="failed", measured_note=m.note or "not measured"))
        else:
            out.append(p.evolve(status="fits" if m.p50_ms <= p.budget_ms else "breaks_budget", measured_ms=m.p50_ms,
                                measured_unstable=m.unstable))
    return out


def verify_seconds(predicted_ms: Sequence[float]) -> float:
    """About how long measuring these points takes: each row's process, warm-up and timed calls, every round."""
    return sum(REPEAT * (ROW_OVERHEAD_S + max(MIN_TIME + WARMUP * ms / 1e3, (WARMUP + ITERS) * ms / 1e3))
               for ms in predicted_ms)
