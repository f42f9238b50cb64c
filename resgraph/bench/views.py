"""What every report of a results file shows the same way, whatever it renders to (Markdown, plots, HTML).

A row's series label, whether rows come from several machines, and the spec x backend grid with the
fastest backend of each spec: one definition, so results.md, the PNGs and index.html never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from resgraph.bench.record import Record

__all__ = ["Grid", "GridRow", "measured", "multi_place", "series_label", "spec_backend_grids"]


def multi_place(rows: Sequence[Record]) -> bool:
    """Whether rows differ in device, host or device model (their series then say which)."""
    return len({(r.device, *r.placement) for r in rows}) > 1


def series_label(r: Record, multi: bool = False) -> str:
    """A row's series: backend, plus precision when not fp32, the hint where it has one, and device, host and
    model when rows come from several."""
    label = r.backend if r.precision == "fp32" else f"{r.backend} {r.precision}"
    if r.hint:
        label += f" {r.hint}"
    if multi:
        host, model = r.placement
        label += f" [{r.device} · {host or '?'} · {model or '?'}]"
    return label


def measured(records: Sequence[Record]) -> list[Record]:
    """Rows with a latency that stands: 'ok' (stable or not); failed, skipped and mismatched rows are not."""
    return [r for r in records if r.status == "ok" and r.p50_ms]


@dataclass(frozen=True)
class GridRow:
    spec: str
    cells: dict[str, Record]  # column -> the row's record (any status)
    best: str | None  # the column of the fastest measured cell, when the spec has two or more


@dataclass(frozen=True)
class Grid:
    batch: int
    columns: list[str]
    rows: list[GridRow]


def spec_backend_grids(records: Sequence[Record]) -> list[Grid]:
    """Per batch: a row per spec, a column per series, and the fastest measured column of each spec."""
    multi = multi_place(records)
    order = list(dict.fromkeys(series_label(r, multi) for r in records))
    grids = []
    for batch in sorted({r.batch for r in records}):
        here = [r for r in records if r.batch == batch]
        cells: dict[str, dict[str, Record]] = {}
        for r in here:
            cells.setdefault(r.spec, {})[series_label(r, multi)] = r
        columns = [c for c in order if any(c in row for row in cells.values())]
        rows = []
        for spec, row in cells.items():
            ok = {c: r for c, r in row.items() if r.status == "ok" and r.p50_ms}
            best = min(ok, key=lambda c: ok[c].p50_ms or math.inf) if len(ok) > 1 else None
            rows.append(GridRow(spec, row, best))
        grids.append(Grid(batch, columns, rows))
    return grids
