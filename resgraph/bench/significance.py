"""Whether two rows' latencies differ beyond noise: a ratio, its confidence interval and a verdict.

A row's evidence is its interleaved rounds' medians (``round_p50_ms``): samples within one round
share the machine's state, so they say little about how the next run will go; rounds do. Two rows
measured in the same rounds (``compare``) are paired: round *i* of both ran minutes apart at most,
so the test is on the per-round log ratios (scipy's one-sample t-test, its interval exponentiated).
Rows of two separate runs (``report A B``) are not paired: Welch's t-test on the log medians.
With fewer than two rounds on a side there is no interval, and the verdict says so.

``ratio`` is always *time of b / time of a*: above 1, b is slower.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["EQUIVALENT", "LEVEL", "Difference", "difference", "level_for", "settled"]

LEVEL = 0.95  # confidence level of every interval and verdict (of a fixed number of rounds)
EQUIVALENT = 0.05  # an interval inside +-5 % decides "no significant difference" for --repeat auto's stopping

FASTER, SLOWER, SAME = "faster", "slower", "no significant difference"


@dataclass(frozen=True)
class Difference:
    """b against a: time ratio (b / a), its interval at ``LEVEL`` (None without one) and the verdict for b."""

    ratio: float | None
    low: float | None
    high: float | None
    verdict: str  # faster / slower / no significant difference / why there is none (b's view)
    rounds: int  # the rounds the interval rests on (the fewer of the two sides when unpaired)
    paired: bool
    level: float = LEVEL

    @property
    def decided(self) -> bool:
        """Whether more rounds would be wasted: the interval excludes 1, or lies within +-EQUIVALENT of it."""
        if self.low is None or self.high is None:
            return False
        return self.low > 1 or self.high < 1 or (self.low >= 1 - EQUIVALENT and self.high <= 1 + EQUIVALENT)

    @property
    def significant(self) -> bool:
        return self.verdict in (FASTER, SLOWER)


def level_for(adaptive: bool) -> float:
    """The level each look tests at: LEVEL, or with --repeat auto LEVEL shared by its looks (Bonferroni).

    Stopping as soon as an interval excludes 1 would otherwise find "differences" between a network and
    itself far more often than 1 - LEVEL: each look is another chance.
    """
    if not adaptive:
        return LEVEL
    from resgraph.bench.settings import AUTO_CAP, MIN_AUTO

    return 1 - (1 - LEVEL) / (AUTO_CAP - MIN_AUTO + 1)


def _rounds(p50s: Sequence[float] | None, p50: float | None) -> list[float]:
    return [v for v in (p50s or ([p50] if p50 else [])) if v and v > 0 and math.isfinite(v)]


def _verdict(low: float, high: float) -> str:
    return SLOWER if low > 1 else FASTER if high < 1 else SAME


def difference(a: Sequence[float] | None, b: Sequence[float] | None, *, paired: bool,
               a_p50: float | None = None, b_p50: float | None = None, level: float = LEVEL) -> Difference:
    """b's latency against a's from their rounds' medians (ms); ``a_p50``/``b_p50`` stand in for a single round.

    The ratio shown is of the rows' own p50s where given (what their tables print), else of the rounds' medians.
    """
    ra, rb = _rounds(a, a_p50), _rounds(b, b_p50)
    if not ra or not rb:
        return Difference(None, None, None, "not measured", 0, paired, level)
    pa = a_p50 or statistics.median(ra)
    pb = b_p50 or statistics.median(rb)
    ratio = pb / pa
    paired = paired and len(ra) == len(rb)
    n = len(ra) if paired else min(len(ra), len(rb))
    if n < 2:
        return Difference(ratio, None, None, "one round: no interval (--repeat)", n, paired, level)
    try:
        from scipy import stats
    except ImportError:
        return Difference(ratio, None, None, "no interval: needs scipy (pip install 'resgraph[stats]')", n, paired,
                          level)
    la, lb = [math.log(v) for v in ra], [math.log(v) for v in rb]
    if paired:
        d = [y - x for x, y in zip(la, lb, strict=True)]
        if max(d) - min(d) < 1e-12:  # every round gave the same ratio: the interval is that ratio
            lo = hi = d[0]
        else:
            ci = stats.ttest_1samp(d, 0.0).confidence_interval(level)
            lo, hi = ci.low, ci.high
    else:
        if max(la) - min(la) < 1e-12 and max(lb) - min(lb) < 1e-12:
            lo = hi = lb[0] - la[0]
        else:
            ci = stats.ttest_ind(lb, la, equal_var=False).confidence_interval(level)
            lo, hi = ci.low, ci.high
    low, high = math.exp(lo), math.exp(hi)
    return Difference(ratio, low, high, _verdict(low, high), n, paired, level)


def settled(p50s: Sequence[float] | None, level: float = LEVEL) -> bool:
    """Whether a row's own rounds pin its p50 down: the interval of their mean log lies within +-EQUIVALENT."""
    vals = _rounds(p50s, None)
    if len(vals) < 2:
        return False
    try:
        from scipy import stats
    except ImportError:
        return False  # no interval: --repeat auto runs to its cap
    logs = [math.log(v) for v in vals]
    if max(logs) - min(logs) < 1e-12:
        return True
    ci = stats.ttest_1samp(logs, 0.0).confidence_interval(level)
    half = (ci.high - ci.low) / 2
    return math.exp(half) - 1 <= EQUIVALENT


