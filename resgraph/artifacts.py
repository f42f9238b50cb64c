"""The files a report writes, for every kind of record: CSV tables and matplotlib figures, each atomic.

Shared by the bench report, the training report and the probe; matplotlib is imported only when a
figure is drawn.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from resgraph.atomic import write_bytes_atomic

__all__ = ["figure", "save_figure", "write_rows_csv"]


def write_rows_csv(rows: Sequence[Mapping[str, Any]], fields: Sequence[str], path: Path) -> Path:
    """``rows`` as CSV with the columns ``fields`` (other keys ignored), formula-like text quoted; atomic."""
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore")
    w.writerow({f: _csv_cell(f) for f in fields})  # the header: a record's unknown keys become column names
    for row in rows:
        w.writerow({k: _csv_cell(v) for k, v in row.items()})
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))
    return path


def _csv_cell(v: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (=, +, -, @) is quoted with a leading '."""
    return "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v


def figure(width: float, height: float) -> Any:
    """A matplotlib Figure on the Agg canvas, without touching pyplot's global state."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("plots need matplotlib: pip install 'resgraph[plot]'") from e
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, out_dir: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """Save one figure in each format; SVGs without a date, so re-runs diff cleanly."""
    paths = []
    for ext in formats:
        p = out_dir / f"{stem}.{ext}"
        meta = {"Date": None} if ext == "svg" else None
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=120, metadata=meta)
        write_bytes_atomic(p, buf.getvalue())  # a full disk leaves no truncated picture
        paths.append(p)
    return paths
