"""Before and after: two results files matched row by row, each row's time ratio, interval and verdict.

``resgraph report BEFORE.jsonl AFTER.jsonl`` is the one command that replaces saving and comparing
pytest-benchmark runs: rows are matched by their key (``Record.key``: what was measured and where),
the latest record of each key on each side, and tested with Welch's t-test over the rounds' medians
(two separate runs are not paired; resgraph.bench.significance). A row is a regression when it is
significantly slower and its ratio exceeds ``--fail-above``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resgraph.bench.comparison import shown_status
from resgraph.bench.record import Record, load_results
from resgraph.bench.significance import LEVEL, Difference, difference

__all__ = ["RowDiff", "diff_files", "diff_records", "format_diff", "regressions"]


@dataclass(frozen=True)
class RowDiff:
    """One row key on both sides (either may be missing); ``diff`` is after against before (ratio > 1: slower)."""

    before: Record | None
    after: Record | None
    diff: Difference | None

    @property
    def record(self) -> Record:
        rec = self.after or self.before
        assert rec is not None
        return rec


def diff_records(before: Sequence[Record], after: Sequence[Record], level: float = LEVEL) -> list[RowDiff]:
    """Every row key of either side, in the order first seen (before's first); tested where both measured it."""
    a = {r.key: r for r in before}
    b = {r.key: r for r in after}
    out = []
    for key in dict.fromkeys([*a, *b]):
        ra, rb = a.get(key), b.get(key)
        d = None
        if ra is not None and rb is not None and ra.status == rb.status == "ok":
            d = difference(ra.round_p50_ms, rb.round_p50_ms, paired=False, a_p50=ra.p50_ms, b_p50=rb.p50_ms,
                           level=level)
        out.append(RowDiff(ra, rb, d))
    return out


def diff_files(before: str | os.PathLike[str], after: str | os.PathLike[str]) -> list[RowDiff]:
    """:func:`diff_records` of two results files, each read by the one reader (the latest record per key)."""
    return diff_records(load_results(before), load_results(after))


def regressions(rows: Sequence[RowDiff], fail_above_pct: float) -> list[RowDiff]:
    """Rows significantly slower after, by more than ``fail_above_pct`` % (their ratio's point estimate)."""
    return [r for r in rows if r.diff is not None and r.diff.verdict == "slower"
            and r.diff.ratio is not None and r.diff.ratio > 1 + fail_above_pct / 100]


def _cell(v: Any, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def _state(r: RowDiff) -> str:
    """Why a row has no verdict of its own, or how far to trust it (unstable on either side)."""
    if r.before is None:
        return "only after"
    if r.after is None:
        return "only before"
    states = [shown_status(x) or "-" for x in (r.before, r.after)]
    return states[0] if states[0] == states[1] else f"{states[0]} -> {states[1]}"


def format_diff(rows: Sequence[RowDiff], level: float = LEVEL) -> str:
    """The diff as an aligned plain-text table, one line per row key, and a line saying how it was tested."""
    header = ["model", "backend", "precision", "batch", "before p50 ms", "after p50 ms", "after/before (x)",
              "interval (x)", "verdict (after)", "status"]
    body = []
    for r in rows:
        rec, d = r.record, r.diff
        interval = f"{d.low:.3f}-{d.high:.3f}" if d and d.low is not None and d.high is not None else "-"
        verdict = d.verdict if d else "-"
        body.append([rec.spec, rec.backend, rec.precision, str(rec.batch),
                     _cell(r.before.p50_ms if r.before else None, ".3f"),
                     _cell(r.after.p50_ms if r.after else None, ".3f"),
                     _cell(d.ratio if d else None, ".3f"), interval, verdict, _state(r)])
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=False)]
    left = {0, 1, 2, 8, 9}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [line(header), line(["-" * w for w in widths]), *(line(b) for b in body)]
    out.append(f"after/before: p50 ratio (above 1: slower); interval and verdict at {level:.0%}, Welch's t-test "
               "over each side's rounds' medians (docs/bench-harness.md#before-and-after)")
    return "\n".join(out) + "\n"
