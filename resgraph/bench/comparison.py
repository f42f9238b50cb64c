"""Side-by-side comparison of several models on one backend and batch, and a plain-text table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resgraph.bench.env import default_threads, environment, fixed_threads
from resgraph.bench.record import Place, Record, by_placement, placement_label
from resgraph.bench.roofline import peak_gflops
from resgraph.bench.rounds import measured
from resgraph.bench.row import Job, ModelEntry, run_row, validate_job
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

# (record field, header) of the comparison table, in order.
COMPARE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("spec", "model"), ("design", "design"), ("params", "params"), ("macs", "MACs"), ("depth", "depth"),
    ("p50_ms", "p50 ms"), ("cv", "cv"), ("throughput", "img/s"), ("relative", "speed vs first"),
    ("status", "status"),
)

# A sweep's records (run_sweep's return value) as a table.
SWEEP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("spec", "model"), ("backend", "backend"), ("precision", "precision"), ("batch", "batch"),
    ("p50_ms", "p50 ms"), ("p90_ms", "p90 ms"), ("p99_ms", "p99 ms"), ("cv", "cv"), ("throughput", "img/s"),
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
    as fast); None where either row is not 'ok'. Tables read ``relative`` and every record field by name."""

    record: Record
    relative: float | None

    @property
    def placement(self) -> Place:
        return self.record.placement

    def get(self, key: str, default: Any = None) -> Any:
        return self.relative if key == "relative" else self.record.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.relative if key == "relative" else self.record[key]


def relative_to_first(recs: Sequence[Record], first: Record | None = None) -> list[Compared]:
    """Each record's speed against ``first`` (default: the first record measured on the same machine).

    Speed is relative within one (host, device model), never across two.
    """
    out: dict[int, Compared] = {}
    for group in by_placement(recs).values():
        base = first if first is not None else group[0]
        top = base.p50_ms if base.status == "ok" else None
        for r in group:
            out[id(r)] = Compared(r, top / r.p50_ms if top and r.status == "ok" and r.p50_ms else None)
    return [out[id(r)] for r in recs]


def with_agreement(columns: Sequence[tuple[str, str]], rows: Sequence[Any]) -> tuple[tuple[str, str], ...]:
    """``columns`` with the agreement figures before the status, those that any row has (int8 rows)."""
    extra = [c for c in AGREEMENT_COLUMNS if any(r.get(c[0]) is not None for r in rows)]
    keys = [k for k, _ in columns]
    i = keys.index("status") if "status" in keys else len(keys)
    return (*columns[:i], *extra, *columns[i:])


def compare(
    entries: Sequence[ModelEntry],
    backend: str = "eager",
    batch: int = 1,
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
    """Benchmark each entry on one backend/batch; each row is its record and `relative`.

    `relative` is the first entry's p50 divided by this entry's p50 (2.0: twice
    as fast as the first); None where either row is not 'ok'.
    """
    if not entries:
        raise ValueError("compare needs at least one model entry")
    jobs = [Job(e, backend, device, batch, precision, calibration, hint) for e in entries]
    for j in jobs:
        validate_job(j)
    threads = threads or default_threads()

    def peak(dev: str, prec: str, engine: str = "torch") -> float | None:
        """The cached matmul peak, only when asked for."""
        return peak_gflops(dev, threads, prec, engine=engine) if roofline else None

    envs: dict[tuple[str, ...], dict[str, Any]] = {}

    def run(job: Job) -> Record:
        if job.packages not in envs:
            envs[job.packages] = environment(device, threads, job.packages)
        return run_row(job, timing, threads, envs[job.packages], peak)

    with fixed_threads(threads):
        return relative_to_first([rec for _, rec in measured(jobs, timing.repeat, progress, run)])


def _cell(key: str, v: Any) -> str:
    """Format one comparison cell by column."""
    if v is None:
        return "-"
    if key in ("params", "macs"):
        return human(v)
    if key == "relative":
        return f"{v:.2f}x"
    if key in ("cv", "round_spread"):
        return f"{v:.2f}"
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
