"""How long a sweep will take here, said before it starts (`demo`, `bench --dry-run`).

A row costs its backend's build (``Backend.build_s``), int8 calibration, warm-up, the reference
call and the timed calls (at least ``iters``, at least ``min_time_s``), plus a fixed overhead (the
speed index, the record, a process per row). A forward call's time is predicted from the row's
multiply-adds and the machine's speed now (the speed index kernel, resgraph.bench.speed): ResNet
forwards in eager PyTorch took 5-11 ms per GMAC per ms of the kernel in every row measured here
(resnet18 and resnet50, batch 1 and 8, quiet and at load 3), so the estimate is good to about
+-50 %: enough to decide whether to wait, not a measurement.
"""

from __future__ import annotations

from collections.abc import Sequence

from resgraph.bench.backends import get_backend
from resgraph.bench.env import fixed_threads
from resgraph.bench.row import Job
from resgraph.bench.settings import TimingConfig
from resgraph.bench.speed import reference_times_ms, speed_index_ms

__all__ = ["MS_PER_GMAC", "ROW_OVERHEAD_S", "machine_speed_ms", "row_seconds", "sweep_seconds"]

MS_PER_GMAC = 7.0  # a forward's ms per GMAC per ms of the speed-index kernel (measured 5-11, see above)
ROW_OVERHEAD_S = 1.0  # speed index before and after, reference check, record (measured 0.3-2 s a demo row)
_UNKNOWN_MACS = 2e9  # a row whose MACs the caller did not count: a resnet18's


def machine_speed_ms(threads: int) -> float:
    """The speed index now, with ``threads`` (a few ms: the kernel's 5 timed runs)."""
    with fixed_threads(threads):
        return speed_index_ms([reference_times_ms()])


def row_seconds(job: Job, timing: TimingConfig, speed_ms: float) -> float:
    """The predicted wall time of one round of ``job``, seconds."""
    call = MS_PER_GMAC * (job.model.macs or _UNKNOWN_MACS) * job.batch / 1e9 * speed_ms / 1e3
    timed = max(timing.iters * call, timing.min_time_s or 0.0)
    calibration = (job.calibration_batches or 0) * call
    return ROW_OVERHEAD_S + get_backend(job.backend).build_s + calibration + (timing.warmup + 2) * call + timed


def sweep_seconds(jobs: Sequence[Job], timing: TimingConfig, speed_ms: float, workers: int = 1) -> float:
    """The predicted wall time of a sweep: every row, every round (the cap, with ``--repeat auto``), over
    ``workers`` slots."""
    return sum(row_seconds(j, timing, speed_ms) for j in jobs) * timing.repeat / max(1, workers)
