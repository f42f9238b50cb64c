"""Evidence of trust for every row: was the machine busy while it was measured?

Two signals are recorded with each row and compared with fixed thresholds:

* **CPU share** (``cpu_ratio``): the process's CPU time while sampling, over
  wall time x the threads it asked for. Threads that got the cores they asked
  for keep it near 1 (OpenMP's waiting threads spin); another busy process on
  the same cores pulls it down. Measured on CPU rows only.
* **Load average** (``load_before``, ``load_after``): the 1-minute load before
  and after the row. It lags (a one-minute average) and counts our own process,
  so only a load above the machine's CPUs plus one, before the row starts, is
  taken as evidence on its own.

* **Steal** (``steal``): the share of the machine's CPU time that the
  hypervisor gave to other guests while the row was sampled (the ``steal``
  column of the kernel's ``/proc/stat``). On a shared VM a row can look steady
  (low cv, full CPU share) and still run on a slower machine than the row
  before it; steal above 5 % is such evidence. ``None`` where the kernel does
  not report it.

With the spread of the samples (``cv`` = std / mean), a row is ``unstable``
when any of these holds; the reason names which and by how much. A short
kernel on a small net can be unstable on a quiet machine too: its timings vary
by more than the threshold, and the row says so.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

CV_MAX = 0.10          # pyperf warns at std/mean > 10 %
CPU_SHARE_MIN = 0.5    # threads got less than half the CPU time they asked for (small nets alone: ~0.7)
LOAD_OVER = 1.0        # load above CPUs + this, before the row: more runnable work than cores
STEAL_MAX = 0.05       # the hypervisor ran other guests for more than 5 % of the CPU time


@dataclass
class Signals:
    """What :func:`watch` saw around one measurement."""

    load_before: float | None = None
    load_after: float | None = None
    cpu_ratio: float | None = None
    steal: float | None = None


def cpu_times(text: str | None = None) -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs from ``/proc/stat`` (or ``text``); None where there is no steal column."""
    if text is None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                text = f.readline()
        except OSError:
            return None
    fields = text.split()
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    try:
        values = [int(v) for v in fields[1:]]
    except ValueError:
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already in user
    return values[7], sum(values[:8])


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """The share of CPU time stolen between two :func:`cpu_times` readings."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 4)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # no load average on this platform
        return None


@contextlib.contextmanager
def watch(threads: int, cpu: bool = True) -> Iterator[Signals]:
    """Record the load average around the block and, on the CPU, the share of CPU time the threads got."""
    s = Signals(load_before=_load())
    times0 = cpu_times()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    yield s
    wall, used = time.perf_counter() - wall0, time.process_time() - cpu0
    if cpu and wall > 0:
        s.cpu_ratio = round(used / (wall * max(threads, 1)), 3)
    s.steal = steal_share(times0, cpu_times())
    s.load_after = _load()


def verdict(cv: float | None, s: Signals, threads: int, cpus: int | None = None) -> str | None:
    """Why a row's numbers should not be trusted as they stand, or None when nothing says so."""
    cpus = cpus or os.cpu_count() or 1
    reasons = []
    if cv is not None and cv > CV_MAX:
        reasons.append(f"cv {cv:.3g} > {CV_MAX:.2f}")
    if s.cpu_ratio is not None and s.cpu_ratio < CPU_SHARE_MIN:
        reasons.append(f"its {threads} thread(s) got {s.cpu_ratio:.0%} of the CPU time they asked for")
    if s.steal is not None and s.steal > STEAL_MAX:
        reasons.append(f"the hypervisor took {s.steal:.0%} of the CPU time (steal) while it was timed")
    if s.load_before is not None and s.load_before > cpus + LOAD_OVER:
        reasons.append(f"load average {s.load_before:.2f} before the row on {cpus} CPUs")
    return "; ".join(reasons) or None
