"""Side-by-side comparison of several models on one backend and batch, and a plain-text table."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resgraph.bench.env import default_threads
from resgraph.bench.record import Place, Record, by_placement, placement_label
from resgraph.bench.row import Job, ModelEntry, validate_job
from resgraph.bench.runners import InProcess, run_all
from resgraph.bench.significance import LEVEL, Difference, difference, level_for
from resgraph.bench.task import make_tasks
from resgraph.bench.timing import TimingConfig
from resgraph.precision import CALIBRATION_BATCHES
from resgraph.units import human

__all__ = [
    "AGREEMENT_COLUMNS",
    "COMPARE_COLUMNS",
    "Compared",
    "relative_to_first",
    "SWEEP_COLUMNS",
    "compare",
    "format_table",
    "with_agreement",
]

# (record field, header) of the comparison table, in order; every header names its unit.
COMPARE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("spec", "model"), ("design", "design"), ("params", "params"), ("macs", "MACs"), ("depth", "depth"),
    ("p50_ms", "p50 ms"), ("cv", "cv %"), ("throughput", "img/s"), ("relative", "speed vs first (x)"),
    ("interval", "interval (x)"), ("verdict", "verdict vs first"), ("status", "status"),
)

# A sweep's records (run_sweep's return value) as a table.
SWEEP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("spec", "model"), ("backend", "backend"), ("precision", "precision"), ("batch", "batch"),
    ("p50_ms", "p50 ms"), ("p90_ms", "p90 ms"), ("p99_ms", "p99 ms"), ("cv", "cv %"), ("throughput", "img/s"),
    ("pct_peak", "% peak"), ("status", "status"),
)


# An int8 row's check against fp32 eager (resgraph.precision: "agreement"), shown where a table has such rows.
AGREEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("top1_agreement", "top-1 agree"), ("top5_overlap", "top-5"), ("cosine", "cosine"),
    ("test_error", "test err %"), ("ref_test_error", "fp32 err %"),
)


@dataclass(frozen=True)
class Compared:
    """A record beside the first of its comparison: ``relative`` is the first's p50 over this one's (2.0: twice
    as fast), ``diff`` the test of this row's rounds against the first's (resgraph.bench.significance); None
    where either row is not 'ok'. Tables read ``relative``, ``interval``, ``verdict`` and every record field."""

    record: Record
    relative: float | None
    diff: Difference | None = None

    @property
    def placement(self) -> Place:
        return self.record.placement

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95 % interval of ``relative`` (speed, x), or None without enough rounds."""
        d = self.diff
        return (1 / d.high, 1 / d.low) if d and d.low and d.high else None

    @property
    def verdict(self) -> str | None:
        return self.diff.verdict if self.diff else None

    def get(self, key: str, default: Any = None) -> Any:
        if key in ("relative", "interval", "verdict"):
            return getattr(self, key)
        return self.record.get(key, default)

    def __getitem__(self, key: str) -> Any:
        if key in ("relative", "interval", "verdict"):
            return getattr(self, key)
        return self.record[key]


def relative_to_first(recs: Sequence[Record], first: Record | None = None, level: float = LEVEL) -> list[Compared]:
    """Each record's speed against ``first`` (default: the first record of the same machine, backend, device,
    precision and batch), with the paired test of their rounds.

    Speed is relative within one (host, device model), never across two.
    """
    out: dict[int, Compared] = {}
    for group in by_placement(recs).values():
        bases: dict[tuple[Any, ...], Record] = {}
        for r in group:
            base = first if first is not None else bases.setdefault(_setting(r), r)
            out[id(r)] = _against(r, base, level)
    return [out[id(r)] for r in recs]


def _setting(r: Record) -> tuple[Any, ...]:
    """What must match for two rows to be compared: everything but the network."""
    return (r.backend, r.device, r.precision, r.batch, r.weights is None, r.data)


def _against(r: Record, base: Record, level: float) -> Compared:
    if base.status != "ok" or r.status != "ok" or not base.p50_ms or not r.p50_ms:
        return Compared(r, None)
    if r is base:
        return Compared(r, 1.0, None)
    return Compared(r, base.p50_ms / r.p50_ms,
                    difference(base.round_p50_ms, r.round_p50_ms, paired=True, a_p50=base.p50_ms, b_p50=r.p50_ms,
                               level=level))


def with_agreement(columns: Sequence[tuple[str, str]], rows: Sequence[Any]) -> tuple[tuple[str, str], ...]:
    """``columns`` with the agreement figures before the status, those that any row has (int8 rows)."""
    extra = [c for c in AGREEMENT_COLUMNS if any(r.get(c[0]) is not None for r in rows)]
    keys = [k for k, _ in columns]
    i = keys.index("status") if "status" in keys else len(keys)
    return (*columns[:i], *extra, *columns[i:])


def compare(
    entries: Sequence[ModelEntry],
    backend: str | Sequence[str] = "eager",
    batch: int | Sequence[int] = 1,
    device: str = "cpu",
    precision: str = "fp32",
    *,
    timing: TimingConfig = TimingConfig(),
    threads: int | None = None,
    roofline: bool = False,
    progress: bool = True,
    calibration: int = CALIBRATION_BATCHES,
    hint: str | None = None,
) -> list[Compared]:
    """Benchmark each entry on each backend and batch (in this process); each row is its record and `relative`.

    `relative` is the first entry's p50 divided by this entry's p50 on the same backend and batch (2.0: twice
    as fast as the first); None where either row is not 'ok'. With rounds (``timing.repeat`` >= 2, or
    ``timing.adaptive``: until every verdict is decided) each row also has its interval and verdict.
    """
    if not entries:
        raise ValueError("compare needs at least one model entry")
    entries = _distinct(entries)
    backends = [backend] if isinstance(backend, str) else list(backend)
    batches = [batch] if isinstance(batch, int) else list(batch)
    jobs = [Job(e, b, device, n, precision, calibration, hint) for b in backends for n in batches
            for e in entries]
    for j in jobs:
        validate_job(j)
    runner = InProcess(threads or default_threads())
    tasks = make_tasks(jobs, timing, runner.threads, roofline, None, picklable=False)

    level = level_for(timing.adaptive)

    def decided(recs: list[Record]) -> bool:
        return all(c.diff.decided for c in relative_to_first(recs, level=level) if c.diff is not None)

    done = {t.job.key: rec for t, rec in run_all(runner, tasks, timing.repeat, 0, progress, adaptive=timing.adaptive,
                                                 decided=decided)}
    return relative_to_first([done[t.job.key] for t in tasks], level=level)


def _distinct(entries: Sequence[ModelEntry]) -> list[ModelEntry]:
    """Entries with distinct names: the same spec given twice is two rows (``resnet20``, ``resnet20#2``)."""
    seen: dict[str, int] = {}
    out = []
    for e in entries:
        k = seen[e.name] = seen.get(e.name, 0) + 1
        out.append(e if k == 1 else dataclasses.replace(e, name=f"{e.name}#{k}"))
    return out


def _cell(key: str, v: Any) -> str:
    """Format one comparison cell by column."""
    if v is None:
        return "-"
    if key in ("params", "macs"):
        return human(v)
    if key == "relative":
        return f"{v:.2f}x"
    if key == "interval":
        return f"{v[0]:.2f}-{v[1]:.2f}"
    if key in ("cv", "round_spread"):
        return f"{100 * v:.1f}"
    if key in ("p50_ms", "p90_ms", "p99_ms"):
        return f"{v:.3f}" if v < 10 else f"{v:.1f}"
    if key == "pct_peak":
        return f"{v:.1f}"
    if key in ("top1_agreement", "top5_overlap"):
        return f"{v:.3f}"
    if key == "cosine":
        return f"{v:.4f}"
    if key in ("test_error", "ref_test_error"):
        return f"{v:.2f}"
    if key == "throughput":
        return f"{v:.1f}"
    return str(v)


def format_table(rows: Sequence[Any], columns: Sequence[tuple[str, str]] = COMPARE_COLUMNS) -> str:
    """Rows as an aligned plain-text table; text left-aligned, numbers right-aligned.

    Rows measured on more than one (host, device model) get one table each, under a line saying so.
    """
    groups = by_placement(rows)
    if len(groups) > 1:
        parts = [f"rows from {len(groups)} machines (host, device model): one table each, never compared across"]
        parts += [f"\n[{placement_label(p)}]\n{_table(g, columns)}" for p, g in groups.items()]
        return "\n".join(parts)
    return _table(rows, columns)


def _table(rows: Sequence[Any], columns: Sequence[tuple[str, str]]) -> str:
    header = [h for _, h in columns]
    body = [[_cell(k, shown_status(r) if k == "status" else r.get(k)) for k, _ in columns] for r in rows]
    numeric = [all(isinstance(r.get(k), (int, float)) or r.get(k) is None for r in rows) for k, _ in columns]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=False)
        ).rstrip()

    out = [line(header), line(["-" * w for w in widths])] + [line(b) for b in body]
    notes = [_note(r) for r in rows if r.get("status") != "ok"]
    return "\n".join(out + notes) + "\n"


def shown_status(r: Any) -> str | None:
    """A measured row whose machine was busy reads 'unstable' in tables (its record keeps 'ok' and the reason)."""
    return "unstable" if r.get("status") == "ok" and r.get("unstable") else r.get("status")


def _note(r: Any) -> str:
    """A footnote line for a row that isn't a plain success."""
    where = "/".join(str(r.get(k)) for k in ("spec", "backend", "precision") if r.get(k) is not None)
    return f"{where} b{r.get('batch')}: {r.get('status')}: {r.get('reason')}"
