"""Interleaved rounds (``--repeat N`` or ``auto``) and the speed-index check every round makes.

Every row once, then every row again (the next round in reverse order, so no row always runs
first): a burst of load on a shared machine then hits every row alike instead of ruining the one
row that happened to be running. Each row reports the median of its rounds' medians, and the
spread between rounds says how far to trust it. ``--repeat auto`` stops after the round at which
every row (``bench``) or every comparison (``compare``) is decided, at least :data:`MIN_AUTO`
rounds and at most the cap.

Within a round, a row whose machine speed index (``resgraph.bench.speed``) is more than ``DRIFT_MAX``
from the sweep's usual speed (the low median of every index read so far, on the same machine and
thread count) is measured again after the others; if the index is still off, the row keeps the
closer of its two measurements and is flagged ``unstable`` with the reason. A median, not the first
row's reading: one slow moment at the start (the sweep's first row ran beside the end of another
job) must not flag every later row.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from resgraph.bench.contention import CV_MAX
from resgraph.bench.record import Record
from resgraph.bench.settings import AUTO_CAP, MIN_AUTO
from resgraph.bench.speed import DRIFT_MAX, drift, drift_reason

__all__ = ["AUTO_CAP", "MIN_AUTO", "combine", "run_rounds", "measure_rounds"]

T = TypeVar("T")
Measure = Callable[[list[T]], Iterable[tuple[T, Record]]]
Start = dict[tuple[Any, ...], list[float]]  # the speed indexes read so far, per (host, device model, threads)


def measure_rounds(items: Sequence[T], key: Callable[[T], Hashable], measure: Measure[T], repeat: int, *,
                   adaptive: bool = False, decided: Callable[[list[Record]], bool] | None = None,
                   say: Callable[[str], None] = lambda _msg: None,
                   drift_max: float | None = DRIFT_MAX) -> Iterator[tuple[T, Record]]:
    """Measure ``items`` (jobs or tasks) in interleaved rounds; yield each one's combined record.

    ``measure`` runs a batch and yields ``(item, record)`` in any order. A fixed ``repeat`` yields each
    item as its last round arrives; ``adaptive`` stops once ``decided(combined records)`` holds after
    at least MIN_AUTO rounds (or at ``repeat``), then yields every item. ``drift_max`` None: no re-measure.
    """
    items = list(items)
    seen: dict[Hashable, list[Record]] = {key(i): [] for i in items}
    start: Start = {}
    for r in range(repeat):
        order = items if r % 2 == 0 else items[::-1]
        stream = not adaptive and r == repeat - 1
        for item, rec in _steady(order, key, measure, start, say, drift_max):
            seen[key(item)].append(rec)
            if stream:
                yield item, combine(seen[key(item)])
        if adaptive and r + 1 >= min(MIN_AUTO, repeat) and r + 1 < repeat:
            if decided is None or decided([combine(seen[key(i)]) for i in items]):
                break
    if adaptive:
        for item in items:
            yield item, combine(seen[key(item)])


def run_rounds(jobs: Iterable[T], repeat: int, run: Callable[[T], Record], **kw: Any) -> Iterator[tuple[T, Record]]:
    """:func:`measure_rounds` with ``run`` measuring one job at a time, in this process (job keys: ``.key``)."""
    return measure_rounds(list(jobs), lambda j: j.key, lambda batch: ((j, run(j)) for j in batch),  # type: ignore[attr-defined]
                          repeat, **kw)


def _drift_of(rec: Record, start: Start, drift_max: float | None) -> tuple[float, float] | None:
    """(drift, usual index) when the row's speed index is beyond ``drift_max`` from the sweep's usual one, else None.

    The usual index is the low median of every index read so far on the row's machine and thread count, this
    row's included (the first row has nothing to differ from). The low one: on a shared machine a disturbance
    is nearly always a slowdown, so between two readings the faster is the likelier to be the machine's own.
    """
    if rec.status != "ok" or not rec.speed_ms or drift_max is None:
        return None
    readings = start.setdefault((*rec.placement, rec.threads), [])
    readings.append(rec.speed_ms)
    usual = statistics.median_low(readings)
    d = drift(rec.speed_ms, usual)
    return (d, usual) if len(readings) > 1 and d is not None and abs(d) > drift_max else None


def _steady(order: list[T], key: Callable[[T], Hashable], measure: Measure[T], start: Start,
            say: Callable[[str], None], drift_max: float | None) -> Iterator[tuple[T, Record]]:
    """One round; rows whose speed index drifted are measured again after the others, then flagged if still off."""
    again: dict[Hashable, tuple[T, Record]] = {}
    for item, rec in measure(order):
        if _drift_of(rec, start, drift_max) is None:
            yield item, rec
        else:
            again[key(item)] = (item, rec)
    if not again:
        return
    say(f"re-measuring {len(again)} row(s) whose machine speed index was more than {drift_max or 0:.0%} "
        "off the sweep's usual speed")
    for item, new in measure([i for i, _ in again.values()]):
        yield item, _settle(again[key(item)][1], new, start, drift_max)


def _settle(old: Record, new: Record, start: Start, drift_max: float | None) -> Record:
    """The re-measured row: the new record if its index is back, else the closer of both, flagged with why."""
    if new.status != "ok" or not new.speed_ms:
        return new if new.status != "ok" else old
    off = _drift_of(new, start, drift_max)
    if off is None:
        return new
    usual = off[1]
    best = min((old, new), key=lambda r: abs(drift(r.speed_ms, usual) or 0.0))
    assert best.speed_ms is not None
    why = drift_reason(best.speed_ms, usual, drift_max)
    return best.evolve(unstable="; ".join(x for x in (best.unstable, why) if x))


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
        reasons.append(f"rounds spread {spread:.0%} of the median > {CV_MAX:.0%}")
    shaky = sum(bool(r.unstable) for r in rounds)
    if shaky * 2 > len(rounds):
        reasons.append(f"{shaky} of {len(rounds)} rounds unstable")
    return chosen.evolve(repeat=len(rounds), round_p50_ms=p50s, round_spread=round(spread, 4),
                         unstable="; ".join(reasons) or None)
