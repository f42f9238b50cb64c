"""Training results as the paper shows them: final errors (mean +- std over seeds) and the Fig. 6 curves.

Fig. 6 of the paper: plain networks on the left, residual ones on the right,
one colour per depth, training error thin and dashed, test error bold.
Probe rows are drawn against block index, plain dashed and residual solid.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from resgraph.artifacts import figure, save_figure, write_rows_csv
from resgraph.atomic import ensure_folder, write_bytes_atomic
from resgraph.errors import printable
from resgraph.train.html_report import write_probe_html, write_train_html
from resgraph.train.records import RunRecord, StepRecord, curves, read_train_records

__all__ = ["final_rows", "format_rows", "write_train_report", "write_probe", "FINAL_COLUMNS", "PROBE_COLUMNS"]

FINAL_COLUMNS = (("spec", "model"), ("depth", "depth"), ("design", "design"), ("data", "data"), ("seeds", "seeds"),
                 ("train_loss", "train loss"), ("train_err", "train err %"), ("test_err", "test err %"),
                 ("images_per_s", "train img/s"))
PROBE_COLUMNS = (("spec", "model"), ("block", "block"), ("scope", "scope"), ("act_std", "act std"),
                 ("grad_norm", "grad norm"), ("grad_corr", "grad corr"))


def _mean_std(values: list[float], scale: float = 1, digits: int = 4) -> str | None:
    """``mean ± std`` (sample std) of ``values`` times ``scale``; one value alone has no ± part; none: None."""
    if not values:
        return None
    m = statistics.mean(values) * scale
    if len(values) == 1:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"


SETTINGS = ("steps", "batch", "lr", "weight_decay", "schedule", "warmup")  # a run's recipe; seeds vary within a group


def _groups(runs: Sequence[RunRecord]) -> dict[tuple[Any, ...], list[RunRecord]]:
    """Runs that differ only by seed, keyed by (spec, hash, data, *settings), in first-seen order."""
    groups: dict[tuple[Any, ...], list[RunRecord]] = defaultdict(list)
    for r in runs:
        groups[(r["spec"], r["spec_hash"], r["data"], *(r.get(k) for k in SETTINGS))].append(r)
    return groups


def _labels(keys: Sequence[tuple[Any, ...]]) -> dict[tuple[Any, ...], str]:
    """Each group's spec name, plus the data and settings that tell it apart from groups of the same spec."""
    out = {}
    for key in keys:
        twins = [k for k in keys if k[0] == key[0]]
        differ = [i for i in range(1, len(key)) if len({k[i] for k in twins}) > 1]
        names = ("spec", "spec_hash", "data", *SETTINGS)
        out[key] = key[0] + "".join(
            f" {names[i].replace('_', ' ')}={key[i]}" for i in differ if names[i] != "spec_hash"
        )
        if 1 in differ and not [i for i in differ if i != 1]:
            out[key] += f" ({key[1][:6]})"  # same name, another version of the spec
    return out


def final_rows(runs: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One row per spec and recipe: final errors as mean ± std over its seeds, in first-seen order."""
    groups = _groups(runs)
    labels = _labels(list(groups))
    rows = []
    for key, rs in groups.items():
        spec, data = labels[key], key[2]
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
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(t, widths, strict=False)).rstrip() for t in table) + "\n"


def write_train_report(results: str | Path, out_dir: str | Path, *, plots: bool = True,
                       formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """training.md and training.csv (final errors per spec) and the Fig. 6 curves; returns the paths written."""
    records = read_train_records(results)
    steps, runs = curves(records)
    if not runs:
        raise ValueError(f"{results}: no finished training runs to report")
    if plots:
        figure(1, 1)  # fail before writing anything if matplotlib is missing
    out = ensure_folder(Path(out_dir))
    rows = final_rows(list(runs.values()))
    md = out / "training.md"
    write_bytes_atomic(md, (
        f"# Training results\n\nFrom `{Path(results).name}`: {len(runs)} finished runs. Final figures are measured "
        "after the last step in eval mode on the whole split; mean ± std over seeds. `train img/s` is forward + "
        "backward + update.\n\n" + format_rows(rows, FINAL_COLUMNS, markdown=True)).encode("utf-8"))
    paths = [md, write_rows_csv(rows, [k for k, _ in FINAL_COLUMNS], out / "training.csv")]
    if plots:
        paths += _fig6(steps, runs, out, formats)
        paths.append(write_train_html(steps, runs, out, results))  # index.html: the same runs, interactive
    return paths


def _depth_colours(depths: Sequence[int]) -> dict[int, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {d: cmap(i % 10) for i, d in enumerate(sorted(set(depths)))}


def _mean_curve(runs: list[str], steps: dict[str, dict[int, StepRecord]], field: str) -> tuple[list[int], list[float]]:
    """The mean over seeds of ``field`` at each step every run logged it (callers leave diverged runs out)."""
    at: dict[int, list[float]] = defaultdict(list)
    for run in runs:
        for s, rec in steps.get(run, {}).items():
            if rec.get(field) is not None:
                at[s].append(rec[field])
    xs = sorted(s for s, v in at.items() if len(v) == len(runs))
    return xs, [100 * statistics.mean(at[s]) for s in xs]


def _fig6(steps: dict[str, dict[int, StepRecord]], runs: dict[str, RunRecord], out: Path,
          formats: Sequence[str]) -> list[Path]:
    by_run = {id(r): run for run, r in runs.items()}
    groups = _groups(list(runs.values()))
    labels = _labels(list(groups))
    present = [(residual, title) for residual, title in ((False, "plain"), (True, "residual"))
               if any((rs[0].residual is not False) == residual for rs in groups.values())]
    fig = figure(5.5 * len(present), 4.2)  # a panel only for the kinds of network the file holds
    axes = list(fig.subplots(1, len(present), sharey=True, squeeze=False).flat)
    for ax, (residual, title) in zip(axes, present, strict=True):
        mine = {k: rs for k, rs in groups.items() if (rs[0].residual is not False) == residual}
        depths = [rs[0].get("depth") or 0 for rs in mine.values()]
        # One colour per depth, as the paper; per curve when two curves of a panel share a depth.
        per_depth = len(set(depths)) == len(depths)
        colours = _depth_colours(depths) if per_depth else _depth_colours(list(range(len(mine))))
        for i, (key, rs) in enumerate(mine.items()):
            c = colours[depths[i] if per_depth else i]
            ids = [by_run[id(r)] for r in rs if not r.get("diverged")]
            note = f"{len(rs)} seeds" if len(rs) > 1 else ""
            if len(ids) < len(rs):
                note += f"{', ' if note else ''}{len(rs) - len(ids)} diverged, left out"
            xs, ys = _mean_curve(ids, steps, "train_err")
            ax.plot(xs, ys, color=c, lw=0.9, ls="--")
            xs, ys = _mean_curve(ids, steps, "test_err")
            ax.plot(xs, ys, color=c, lw=2.2, label=labels[key] + (f" ({note})" if note else ""))
        ax.set_title(f"{title} networks")
        ax.set_xlabel("iterations")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    axes[0].set_ylabel("error (%)")
    data = ", ".join(sorted({k[2] for k in groups}))
    fig.suptitle(f"Training on {data}: dashed = training error, bold = test error (the paper's Fig. 6 layout)",
                 fontsize=10)
    return save_figure(fig, out, "training-curves", formats)


PROBE_FIELDS = ("spec", "depth", "residual", "block", "scope", "stage", "act_std", "grad_norm", "grad_corr")


def write_probe(rows: Sequence[dict[str, Any]], out_dir: Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """probe.csv, and the plot of activation scale, gradient norm and gradient correlation against block index
    (PNG/SVG, and interactive in probe.html)."""
    ensure_folder(out_dir)
    return [write_rows_csv(rows, PROBE_FIELDS, out_dir / "probe.csv"), *_probe_plot(rows, out_dir, formats),
            write_probe_html(rows, out_dir)]


def _probe_plot(rows: Sequence[dict[str, Any]], out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """One line per spec: plain dashed, residual solid, one colour per depth (per spec when two specs share a
    depth and a kind, which would otherwise draw as one line), and a marker per spec."""
    by_spec: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_spec[r["spec"]].append(r)
    kinds = [(rs[0]["depth"], bool(rs[0]["residual"])) for rs in by_spec.values()]
    if len(set(kinds)) == len(kinds):
        by_depth = _depth_colours([d for d, _ in kinds])
        colours = {spec: by_depth[rs[0]["depth"]] for spec, rs in by_spec.items()}
    else:
        colours = dict(zip(by_spec, _depth_colours(list(range(len(by_spec)))).values(), strict=True))
    markers = dict(zip(by_spec, itertools.cycle("os^vDP*X"), strict=False))
    fig = figure(13, 4)
    axes = fig.subplots(1, 3)
    for ax, field, title, log in ((axes[0], "act_std", "block output std", True),
                                  (axes[1], "grad_norm", "loss-gradient norm reaching the block", True),
                                  (axes[2], "grad_corr", "correlation of input gradients, nearby inputs", False)):
        for spec, rs in by_spec.items():
            ax.plot([r["block"] for r in rs], [r[field] for r in rs], color=colours[spec], marker=markers[spec],
                    markersize=3, ls="-" if rs[0]["residual"] else "--", lw=1.5, label=spec)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("residual block")
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    fig.suptitle("Probe at initialisation (random batch, BatchNorm in training mode): plain dashed, residual solid",
                 fontsize=10)
    return save_figure(fig, out_dir, "probe", formats)
