"""Training results as the paper shows them: final errors (mean +- std over seeds) and the Fig. 6 curves.

Fig. 6 of the paper: plain networks on the left, residual ones on the right,
one colour per depth, training error thin and dashed, test error bold.
Probe rows are drawn against block index, plain dashed and residual solid.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from resgraph.atomic import ensure_folder, write_bytes_atomic
from resgraph.bench.report import _figure, _save
from resgraph.errors import printable
from resgraph.train.records import curves, read_train_records

__all__ = ["final_rows", "format_rows", "write_train_report", "write_probe_plot", "FINAL_COLUMNS", "PROBE_COLUMNS"]

FINAL_COLUMNS = (("spec", "model"), ("depth", "depth"), ("design", "design"), ("data", "data"), ("seeds", "seeds"),
                 ("train_loss", "train loss"), ("train_err", "train err %"), ("test_err", "test err %"),
                 ("images_per_s", "train img/s"))
PROBE_COLUMNS = (("spec", "model"), ("block", "block"), ("scope", "scope"), ("act_std", "act std"),
                 ("grad_norm", "grad norm"), ("grad_corr", "grad corr"))


def _mean_std(values: list[float], scale: float = 1, digits: int = 4) -> str:
    """``mean ± std`` (sample std) of ``values`` times ``scale``; one value alone has no ± part."""
    if not values:
        return "-"
    m = statistics.mean(values) * scale
    if len(values) == 1:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"


def final_rows(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (spec, its hash, data, budget): final errors as mean ± std over its seeds, in first-seen order."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[(r["spec"], r["spec_hash"], r["data"], r["steps"], r["batch"])].append(r)
    rows = []
    for (spec, _, data, _, _), rs in groups.items():
        ok = [r for r in rs if not r.get("diverged")]
        diverged = len(rs) - len(ok)
        rows.append({
            "spec": spec, "depth": rs[0].get("depth"), "design": rs[0].get("design") or "", "data": data,
            "seeds": f"{len(rs)}" + (f" ({diverged} diverged)" if diverged else ""),
            "train_loss": _mean_std([r["final_train_loss"] for r in ok if r.get("final_train_loss") is not None]),
            "train_err": _mean_std([r["final_train_err"] for r in ok if r.get("final_train_err") is not None], 100, 2),
            "test_err": _mean_std([r["final_test_err"] for r in ok if r.get("final_test_err") is not None], 100, 2),
            "images_per_s": _mean_std([r["images_per_s"] for r in rs if r.get("images_per_s")], digits=0),
        })
    return rows


def format_rows(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], markdown: bool = False) -> str:
    """A plain-text (or Markdown) table of ``rows``; floats to 4 significant digits."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return printable(str(v)) if v is not None else "-"

    table = [[h for _, h in columns]] + [[cell(r.get(k)) for k, _ in columns] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(t) + " |" for t in table]
        lines.insert(1, "|" + "|".join("---" for _ in columns) + "|")
        return "\n".join(lines) + "\n"
    widths = [max(len(t[i]) for t in table) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(t, widths)).rstrip() for t in table) + "\n"


def write_train_report(results: str | Path, out_dir: str | Path, *, plots: bool = True,
                       formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """training.md and training.csv (final errors per spec) and the Fig. 6 curves; returns the paths written."""
    records = read_train_records(results)
    steps, runs = curves(records)
    if not runs:
        raise ValueError(f"{results}: no finished training runs to report")
    if plots:
        _figure(1, 1)  # fail before writing anything if matplotlib is missing
    out = ensure_folder(Path(out_dir))
    rows = final_rows(list(runs.values()))
    md = out / "training.md"
    write_bytes_atomic(md, (
        f"# Training results\n\nFrom `{Path(results).name}`: {len(runs)} finished runs. Final figures are measured "
        "after the last step in eval mode on the whole split; mean ± std over seeds. `train img/s` is forward + "
        "backward + update.\n\n" + format_rows(rows, FINAL_COLUMNS, markdown=True)).encode("utf-8"))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([k for k, _ in FINAL_COLUMNS])
    w.writerows([[r[k] for k, _ in FINAL_COLUMNS] for r in rows])
    write_bytes_atomic(out / "training.csv", buf.getvalue().encode("utf-8"))
    paths = [md, out / "training.csv"]
    if plots:
        paths += _fig6(steps, runs, out, formats)
    return paths


def _depth_colours(depths: Sequence[int]) -> dict[int, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {d: cmap(i % 10) for i, d in enumerate(sorted(set(depths)))}


def _mean_curve(runs: list[str], steps: dict[str, dict[int, dict[str, Any]]], field: str) -> tuple[list[int], list[float]]:
    """The mean over seeds of ``field`` at each step every run logged it."""
    at: dict[int, list[float]] = defaultdict(list)
    for run in runs:
        for s, rec in steps.get(run, {}).items():
            if rec.get(field) is not None:
                at[s].append(rec[field])
    xs = sorted(s for s, v in at.items() if len(v) == len(runs))
    return xs, [100 * statistics.mean(at[s]) for s in xs]


def _fig6(steps: dict[str, dict[int, dict[str, Any]]], runs: dict[str, dict[str, Any]], out: Path,
          formats: Sequence[str]) -> list[Path]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)  # (spec, data) -> run ids (one per seed)
    for run, r in runs.items():
        groups[(r["spec"], r["data"])].append(run)
    colours = _depth_colours([runs[ids[0]].get("depth") or 0 for ids in groups.values()])
    fig = _figure(11, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, residual, title in ((axes[0], False, "plain"), (axes[1], True, "residual")):
        for (spec, data), ids in groups.items():
            first = runs[ids[0]]
            if bool(first.get("residual", True)) != residual:
                continue
            c = colours[first.get("depth") or 0]
            xs, ys = _mean_curve(ids, steps, "train_err")
            ax.plot(xs, ys, color=c, lw=0.9, ls="--")
            xs, ys = _mean_curve(ids, steps, "test_err")
            ax.plot(xs, ys, color=c, lw=2.2, label=f"{spec}" + (f" ({len(ids)} seeds)" if len(ids) > 1 else ""))
        ax.set_title(f"{title} networks")
        ax.set_xlabel("iterations")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    axes[0].set_ylabel("error (%)")
    data = ", ".join(sorted({d for _, d in groups}))
    fig.suptitle(f"Training on {data}: dashed = training error, bold = test error (the paper's Fig. 6 layout)",
                 fontsize=10)
    return _save(fig, out, "training-curves", formats)


def write_probe_plot(rows: Sequence[dict[str, Any]], out_dir: Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Activation scale, gradient norm and gradient correlation against block index, one line per spec."""
    by_spec: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_spec[r["spec"]].append(r)
    colours = _depth_colours([rs[0]["depth"] for rs in by_spec.values()])
    fig = _figure(13, 4)
    axes = fig.subplots(1, 3)
    for ax, field, title, log in ((axes[0], "act_std", "block output std", True),
                                  (axes[1], "grad_norm", "loss-gradient norm reaching the block", True),
                                  (axes[2], "grad_corr", "correlation of input gradients, nearby inputs", False)):
        for spec, rs in by_spec.items():
            ax.plot([r["block"] for r in rs], [r[field] for r in rs], color=colours[rs[0]["depth"]],
                    ls="-" if rs[0]["residual"] else "--", lw=1.5, label=spec)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("residual block")
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    fig.suptitle("Probe at initialisation (random batch, BatchNorm in training mode): plain dashed, residual solid",
                 fontsize=10)
    ensure_folder(out_dir)
    return _save(fig, out_dir, "probe", formats)
