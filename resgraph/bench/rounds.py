"""Interleaved rounds (``--repeat N``): every row once, then every row again, N times.

A burst of load on a shared machine then hits every row alike instead of
ruining the one row that happened to be running. Each row reports the median of
its rounds' medians, and the spread between rounds says how far to trust it.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm import tqdm

from resgraph.bench.contention import CV_MAX
from resgraph.bench.record import Record
from resgraph.bench.row import Job


def run_rounds(jobs: Iterable[Job], repeat: int, run: Callable[[Job], Record]) -> Iterator[tuple[Job, Record]]:
    """Run ``jobs`` in ``repeat`` interleaved rounds; yield each job's combined record after its last round."""
    jobs = list(jobs)
    seen: dict[tuple[Any, ...], list[Record]] = {j.key: [] for j in jobs}
    for r in range(repeat):
        for job in jobs:
            seen[job.key].append(run(job))
            if r == repeat - 1:
                yield job, combine(seen[job.key])


def measured(jobs: list[Job], repeat: int, progress: bool,
             measure: Callable[[Job], Record]) -> Iterator[tuple[Job, Record]]:
    """:func:`run_rounds` with the progress bar on stderr that every measuring command shows."""
    with tqdm(total=len(jobs) * repeat, unit="row", file=sys.stderr, disable=not progress or not jobs,
              dynamic_ncols=True) as bar:

        def run(job: Job) -> Record:
            bar.set_postfix_str(job.label, refresh=True)
            rec = measure(job)
            bar.update(1)
            return rec

        yield from run_rounds(jobs, repeat, run)


def combine(rounds: list[Record]) -> Record:
    """One record from a row's rounds: the median round's (median of the rounds' medians; with an even count,
    the lower of the two), so p10, p90, cv and the rest describe the same samples as its p50.

    A round that did not finish 'ok' makes the row that round's record: a failure is not averaged away.
    """
    if len(rounds) == 1:
        return rounds[0]
    bad = next((r for r in rounds if r.status != "ok" or not r.p50_ms), None)
    if bad:
        return bad.evolve(repeat=len(rounds))
    p50s = [r.p50_ms for r in rounds if r.p50_ms]
    med = statistics.median_low(p50s)
    chosen = next(r for r in rounds if r.p50_ms == med)
    spread = (max(p50s) - min(p50s)) / med
    reasons = []
    if spread > CV_MAX:
        reasons.append(f"rounds spread {spread:.3g} > {CV_MAX:.2f}")
    shaky = sum(bool(r.unstable) for r in rounds)
    if shaky * 2 > len(rounds):
        reasons.append(f"{shaky} of {len(rounds)} rounds unstable")
    return chosen.evolve(repeat=len(rounds), round_p50_ms=p50s, round_spread=round(spread, 4),
                         unstable="; ".join(reasons) or None)
