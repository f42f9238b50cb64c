"""Reports from a results file: Markdown and CSV tables, and latency/throughput/MACs plots (PNG, SVG)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from resgraph.artifacts import figure, save_figure, write_rows_csv
from resgraph.atomic import ensure_folder, write_bytes_atomic
from resgraph.bench.comparison import shown_status
from resgraph.bench.html_report import write_bench_html
from resgraph.bench.record import Record, by_placement, load_results, placement_label
from resgraph.bench.views import multi_place, series_label, spec_backend_grids

__all__ = ["best_backends", "load_results", "markdown_table", "write_csv", "write_plots", "write_report"]

_MD_COLUMNS = (
    ("spec", "spec"),
    ("design", "design"),
    ("backend", "backend"),
    ("device", "device"),
    ("precision", "precision"),
    ("batch", "batch"),
    ("status", "status"),
    ("p50_ms", "p50 ms"),
    ("p90_ms", "p90 ms"),
    ("p99_ms", "p99 ms"),
    ("cv", "cv"),
    ("throughput", "img/s"),
    ("gflops", "GFLOP/s"),
    ("pct_peak", "% peak"),
    ("max_rel_err", "max rel err"),
    ("top1_agreement", "top-1 agree"),
    ("top5_overlap", "top-5 overlap"),
    ("cosine", "cosine"),
    ("test_error", "test err %"),
    ("ref_test_error", "fp32 test err %"),
    ("first_result_s", "first result s"),
    ("reason", "reason"),
)


def _fmt(v: Any) -> str:
    """A table cell: numbers to 3-4 significant digits, None as empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.4g}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


_ALWAYS = {"spec", "backend", "precision", "batch", "status", "p50_ms"}  # shown even when every cell is empty
_OVER_PEAK = "‡"
_OVER_PEAK_NOTE = (f"{_OVER_PEAK} above 100 % of the cached `torch.mm` peak: the backend's kernels beat `torch.mm`, "
                   "or the peak was measured on a busy machine (`resgraph bench --refresh-peak`).")


def _cell(r: Record, key: str) -> str:
    if key == "status":  # an ok row measured on a busy machine reads 'unstable', as the CLI shows
        return _fmt(shown_status(r))
    text = _fmt(r.get(key))
    if key == "pct_peak" and (r.pct_peak or 0) > 100:
        text += f" {_OVER_PEAK}"
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(records: Sequence[Record]) -> str:
    """One Markdown table row per record; a row that isn't 'ok' says so in its status column.

    Columns empty in every row (an fp32-only sweep has no agreement figures) are left out.
    """
    cells = [[_cell(r, k) for k, _ in _MD_COLUMNS] for r in records]
    keep = [i for i, (k, _) in enumerate(_MD_COLUMNS) if k in _ALWAYS or any(row[i] for row in cells)]
    head = "| " + " | ".join(_MD_COLUMNS[i][1] for i in keep) + " |"
    rule = "|" + "|".join("---" for _ in keep) + "|"
    lines = [head, rule] + ["| " + " | ".join(row[i] for i in keep) + " |" for row in cells]
    if any((r.pct_peak or 0) > 100 for r in records):
        lines += ["", _OVER_PEAK_NOTE]
    return "\n".join(lines) + "\n"


def best_backends(records: Sequence[Record]) -> str:
    """Spec x backend: p50 ms of each row, per batch, the fastest of each spec in bold and named.

    An unstable row's figure carries a `~`: it may be the fastest by the machine's noise, not by its own.
    """
    out = []
    for grid in spec_backend_grids(records):
        if len(grid.columns) < 2:
            continue  # one backend: nothing to choose between
        out += [f"### Batch {grid.batch}: p50 ms per backend, the fastest in bold", "",
                "| spec | " + " | ".join(grid.columns) + " | fastest |", "|---|" + "---|" * (len(grid.columns) + 1)]
        for row in grid.rows:
            cells = []
            for c in grid.columns:
                r = row.cells.get(c)
                text = "" if r is None or not r.p50_ms else _fmt(r.p50_ms) + ("~" if r.unstable else "")
                if r is not None and r.status != "ok":
                    text = f"{text} ({r.status})".strip()
                cells.append(f"**{text}**" if c == row.best else text)
            out.append(f"| {row.spec} | " + " | ".join(cells) + f" | {row.best or ''} |")
        out.append("")
    if not out:
        return ""
    return ("## Fastest backend per spec\n\n" + "\n".join(out) +
            "\n`~`: the row is unstable (its reason is in the table below); `mismatch` rows are never the fastest.\n\n")


def _tables(records: Sequence[Record]) -> str:
    """One Markdown table, or one per (host, device model) when rows come from several machines."""
    groups = by_placement(records)
    if len(groups) == 1:
        return markdown_table(records)
    head = (f"Rows from {len(groups)} machines (host, device model): one table each. Rows of different machines "
            "are never compared; the plots name the host where they differ.\n")
    return head + "".join(f"\n## {placement_label(p)}\n\n{markdown_table(g)}" for p, g in groups.items())


def _env_summary(records: Sequence[Record]) -> str:
    """The environment lines of a report: one per distinct (device, CPU, threads), with every package version the
    rows recorded (each backend records its own: an eager row has no onnxruntime to name)."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in records:
        env = r.get("env") or {}
        key = (env.get("device_name"), env.get("device"), env.get("cpu_model"), r.get("threads"))
        versions = groups.setdefault(key, {})
        for name in ("python", "torch", *sorted(set(env) - _NOT_PACKAGES)):
            if env.get(name) and not str(name).startswith(_RUNTIME_PREFIXES):
                versions.setdefault(name, env[name])
    return "\n".join(
        f"- {device} ({kind}), CPU {cpu}, threads {threads}; " + ", ".join(f"{k} {v}" for k, v in versions.items())
        for (device, kind, cpu, threads), versions in groups.items())


# env keys that are not package versions (resgraph.bench.env, and what runtimes say of themselves)
_NOT_PACKAGES = {"device", "device_name", "cpu_model", "cpu_count", "cpus_available", "threads", "cuda", "os",
                 "machine", "python", "torch"}
_RUNTIME_PREFIXES = ("openvino_", "ort_", "inductor_")


def write_csv(records: Sequence[Record], path: Path) -> Path:
    """All record fields as CSV columns; `env` is flattened to env.<key> columns. Written atomically."""
    env_keys = sorted({k for r in records for k in (r.env or {})})
    fields = [f for f in Record.model_fields if f != "env"] + [f"env.{k}" for k in env_keys]
    rows = []
    for r in records:
        row = {**r.model_dump(exclude={"env"}), **{f"env.{k}": v for k, v in (r.env or {}).items()}}
        row["input_shape"] = "x".join(map(str, r.input_shape)) if r.input_shape else None
        rows.append(row)
    return write_rows_csv(rows, fields, path)


def _null_locator() -> Any:
    """No minor ticks: batch sizes are labelled exactly."""
    from matplotlib.ticker import NullLocator

    return NullLocator()


def _caption(fig: Any, rows: list[Record], whiskers: bool) -> None:
    """Machine, threads and date under the plot, and what the whiskers are: a picture says where it came from."""
    env: dict[str, Any] = next((r.env for r in rows if r.env), {}) or {}
    threads = sorted({r.get("threads") for r in rows if r.get("threads")})
    dates = sorted({str(r.get("timestamp", ""))[:10] for r in rows if r.get("timestamp")})
    parts = [env.get("device_name") or env.get("cpu_model") or "",
             f"{'/'.join(map(str, threads))} thread(s)" if threads else "",
             " to ".join(dict.fromkeys([dates[0], dates[-1]])) if dates else "",
             "whiskers: p10 to p90 of the samples" if whiskers else ""]
    fig.supxlabel(" · ".join(p for p in parts if p), fontsize="x-small", color="#555555")  # layout makes room


def _plain_log_ticks(axis: Any) -> None:
    """Log-scale ticks at 1, 2, 5 x 10^k labelled as plain numbers (0.5, 2, 50), never as powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def _unstable_key(ax: Any) -> None:
    """A legend entry saying what a hollow marker is (added once, after the series)."""
    ax.plot([], [], "o", markerfacecolor="none", markeredgecolor="#555555", linestyle="none",
            label="hollow: unstable row")


def _mark_unstable(ax: Any, xs: Sequence[float], rs: Sequence[Record], field: str, color: Any,
                   marker: str = "o") -> bool:
    """Draw unstable rows' points hollow over their series; whether there were any."""
    bad = [(x, r[field]) for x, r in zip(xs, rs, strict=True) if r.get("unstable")]
    if bad:
        ax.plot(*zip(*bad, strict=True), marker, markerfacecolor="white", markeredgecolor=color, linestyle="none",
                zorder=3)
    return bool(bad)


def _whiskers(rs: list[Record], field: str) -> Any:
    """(below, above) error-bar lengths from p10/p90 for latency; None for other fields or old records."""
    if field != "p50_ms" or any(r.get("p10_ms") is None or r.get("p90_ms") is None for r in rs):
        return None
    return [[max(0.0, r["p50_ms"] - r["p10_ms"]) for r in rs], [max(0.0, r["p90_ms"] - r["p50_ms"]) for r in rs]]


def _vs_batch(
    ok: list[Record], field: str, ylabel: str, out_dir: Path, stem: str, formats: Sequence[str]
) -> list[Path]:
    """One panel per spec, one line per backend: `field` against batch size (only with two batches or more)."""
    if len({r["batch"] for r in ok}) < 2:
        return []  # a line through one point says nothing
    specs = list(dict.fromkeys(r["spec"] for r in ok))
    multi = multi_place(ok)
    cols = min(3, len(specs))
    rows = math.ceil(len(specs) / cols)
    color = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(series_label(r, multi) for r in ok))}
    fig = figure(4.2 * cols, 3.2 * rows)
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)  # one scale: panels compare at a glance
    for ax, spec in zip(axes.flat, specs, strict=False):
        lines: dict[str, list[Record]] = defaultdict(list)
        for r in ok:
            if r["spec"] == spec and r.get(field) is not None:
                lines[series_label(r, multi)].append(r)
        shaky = False
        for label, rs in lines.items():
            rs.sort(key=lambda r: r["batch"])
            ax.errorbar([r["batch"] for r in rs], [r[field] for r in rs], yerr=_whiskers(rs, field), marker="o",
                        capsize=3, label=label, color=color[label])  # a backend keeps its colour in every panel
            shaky |= _mark_unstable(ax, [r["batch"] for r in rs], rs, field, color[label])
        if shaky:
            _unstable_key(ax)
        ax.set_xscale("log", base=2)
        batches = sorted({r["batch"] for rs in lines.values() for r in rs})
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.xaxis.set_minor_locator(_null_locator())
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
        ax.set_title(spec)
        ax.set_xlabel("batch")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(specs):]:
        ax.set_visible(False)
    _caption(fig, ok, whiskers=field == "p50_ms")
    return save_figure(fig, out_dir, stem, formats)


def _specs_bar(ok: list[Record], batch: int, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Grouped bars: p50 latency of each spec at one batch, one bar per backend (A/B/C, plain vs residual)."""
    rows = [r for r in ok if r["batch"] == batch]
    if not rows:
        return []
    specs = list(dict.fromkeys(r["spec"] for r in rows))
    multi = multi_place(rows)
    labels = list(dict.fromkeys(series_label(r, multi) for r in rows))
    value = {(r["spec"], series_label(r, multi)): r for r in rows}
    fig = figure(max(5.0, 1.1 * len(specs) * max(1, len(labels)) ** 0.5 + 2), 3.8)
    ax = fig.subplots()
    width = 0.8 / len(labels)
    shaky = False
    for i, label in enumerate(labels):
        xs = [j + (i - (len(labels) - 1) / 2) * width for j in range(len(specs))]
        rs = [value.get((s, label)) for s in specs]
        ys = [r["p50_ms"] if r else math.nan for r in rs]
        lo = [max(0.0, r["p50_ms"] - r["p10_ms"]) if r and r.get("p10_ms") is not None else 0.0 for r in rs]
        hi = [max(0.0, r["p90_ms"] - r["p50_ms"]) if r and r.get("p90_ms") is not None else 0.0 for r in rs]
        bars = ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, error_kw={"elinewidth": 0.8}, label=label)
        ax.bar_label(bars, fmt="%.3g", fontsize="x-small", padding=2)
        for bar, r in zip(bars, rs, strict=True):
            if r is not None and r.get("unstable"):
                bar.set_hatch("///")
                shaky = True
    ax.set_xticks(
        range(len(specs)), specs, rotation=30 if len(specs) > 4 else 0, ha="right" if len(specs) > 4 else "center"
    )
    ax.set_ylabel("p50 latency (ms)")
    ax.set_title(f"p50 latency at batch {batch}")
    ax.grid(True, axis="y", alpha=0.3)
    if shaky:
        ax.bar([], [], color="white", edgecolor="#555555", hatch="///", label="hatched: unstable row")
    ax.legend(fontsize="small")
    _caption(fig, rows, whiskers=True)
    return save_figure(fig, out_dir, f"specs_batch{batch}", formats)


_MARKERS = "osD^vP*Xph<>8"


def _macs_scatter(ok: list[Record], batch: int, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """MACs per image against p50 latency at one batch: a colour per backend, a marker per spec, hollow when
    unstable. No text on the points (labels overlap and leave the axes): the legend, outside them, names both."""
    rows = [r for r in ok if r["batch"] == batch and r.get("macs")]
    if not rows:
        return []
    multi = multi_place(rows)
    specs = list(dict.fromkeys(r["spec"] for r in rows))
    marker = {s: _MARKERS[i % len(_MARKERS)] for i, s in enumerate(specs)}
    fig = figure(7.5, 4.2)
    ax = fig.subplots()
    series: dict[str, list[Record]] = defaultdict(list)
    for r in rows:
        series[series_label(r, multi)].append(r)
    shaky = False
    for i, (label, rs) in enumerate(series.items()):
        color = f"C{i % 10}"
        for r in rs:
            hollow = bool(r.get("unstable"))
            shaky |= hollow
            ax.plot(r["macs"] / 1e9, r["p50_ms"], marker[r["spec"]], color=color, markersize=7, linestyle="none",
                    markerfacecolor="white" if hollow else color)
        ax.plot([], [], "s", color=color, linestyle="none", label=label)  # the backend's colour
    for s in specs:
        ax.plot([], [], marker[s], color="#555555", linestyle="none", label=s)
    if shaky:
        _unstable_key(ax)
    ax.set_xlabel("GMACs per image")
    ax.set_ylabel("p50 latency (ms)")
    ax.set_title(f"MACs vs latency, batch {batch}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    _caption(fig, rows, whiskers=False)
    return save_figure(fig, out_dir, f"macs_vs_latency_batch{batch}", formats)


def write_plots(
    records: Iterable[Record], out_dir: Path, bar_batch: int | None = None, formats: Sequence[str] = ("png", "svg")
) -> list[Path]:
    """All plots from the 'ok' rows (mismatched, failed and skipped rows are left out of plots)."""
    ok = [r for r in records if r.get("status") == "ok" and r.get("p50_ms")]
    if not ok:
        return []
    batch = bar_batch if bar_batch is not None else min(r["batch"] for r in ok)
    paths = _vs_batch(ok, "p50_ms", "p50 latency (ms)", out_dir, "latency_vs_batch", formats)
    paths += _vs_batch(ok, "throughput", "throughput (images/s)", out_dir, "throughput_vs_batch", formats)
    paths += _specs_bar(ok, batch, out_dir, formats)
    paths += _macs_scatter(ok, batch, out_dir, formats)
    return paths


def write_report(
    results_path: str | Path,
    out_dir: str | Path,
    *,
    bar_batch: int | None = None,
    plots: bool = True,
    formats: Sequence[str] = ("png", "svg"),
) -> list[Path]:
    """Write results.md, results.csv and (plots=True) the PNG/SVG plots; return the paths written.

    `bar_batch` is the batch the spec-comparison bars and the MACs scatter use
    (default: the smallest batch with a successful row).
    """
    records = load_results(results_path)
    if not records:
        raise ValueError(f"{results_path}: no records to report")
    if plots:
        figure(1, 1)  # fail before writing anything if matplotlib is missing
    out = ensure_folder(Path(out_dir))
    md = out / "results.md"
    counts: dict[str | None, int] = defaultdict(int)
    for r in records:
        counts[shown_status(r)] += 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    write_bytes_atomic(md, (
        f"# Benchmark results\n\nFrom `{Path(results_path).name}`: {len(records)} rows ({summary}).\n"
        "Latency in milliseconds per batch; throughput = batch / p50. Rows with status other than "
        "`ok` are not successes: `mismatch` failed the numerical check against fp32 eager.\n\n"
        f"{_env_summary(records)}\n\n{best_backends(records)}{_tables(records)}").encode())
    paths = [md, write_csv(records, out / "results.csv")]
    if plots:
        paths += write_plots(records, out, bar_batch, formats)
        paths.append(write_bench_html(records, out, results_path))  # index.html: the same rows, interactive
    return paths
