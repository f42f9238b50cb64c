"""Training results and probe rows as self-contained HTML pages (the bench report's page, plotly figures).

``report train.jsonl -o DIR`` writes ``DIR/index.html``: provenance, the final errors, the Fig. 6
curves as an interactive figure (a panel only for the kinds of network the file holds) and each
spec's block picture. ``probe -o DIR`` writes ``DIR/probe.html`` with its three plots. Record
text is HTML-escaped, as on the bench page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from resgraph.atomic import write_bytes_atomic
from resgraph.bench.html_report import (
    Figures,
    esc,
    log_ticks,
    page,
    pictures,
    plot_text,
    plotly_module,
    provenance,
)
from resgraph.train.records import RunRecord, StepRecord

__all__ = ["curves_figure", "probe_figure", "train_page", "write_probe_html", "write_train_html"]

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf")  # matplotlib's tab10, as the PNG figures


def curves_figure(steps: dict[str, dict[int, StepRecord]], runs: dict[str, RunRecord]) -> Any:
    """Fig. 6: training error thin and dashed, test error bold, one colour per curve; plain and residual panels,
    each only where the file has such networks."""
    from plotly.subplots import make_subplots

    from resgraph.train.report import _groups, _labels, _mean_curve

    go = plotly_module()
    by_run = {id(r): run for run, r in runs.items()}
    groups = _groups(list(runs.values()))
    labels = _labels(list(groups))
    panels = [(residual, title) for residual, title in ((False, "plain networks"), (True, "residual networks"))
              if any((rs[0].residual is not False) == residual for rs in groups.values())]
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, subplot_titles=[t for _, t in panels])
    n = 0
    for col, (residual, _) in enumerate(panels, start=1):
        for key, rs in groups.items():
            if (rs[0].residual is not False) != residual:
                continue
            colour = _COLOURS[n % len(_COLOURS)]
            n += 1
            ids = [by_run[id(r)] for r in rs if not r.get("diverged")]
            name = plot_text(labels[key]) + (f" ({len(rs)} seeds)" if len(rs) > 1 else "")
            if len(ids) < len(rs):
                name += f" ({len(rs) - len(ids)} diverged, left out)"
            for field, width, dash, what in (("train_err", 1, "dash", "training"), ("test_err", 3, "solid", "test")):
                xs, ys = _mean_curve(ids, steps, field)
                if not xs:
                    continue
                fig.add_trace(go.Scatter(
                    x=xs, y=ys, mode="lines", name=name, legendgroup=name, showlegend=what == "test" or
                    not any(rec.get("test_err") is not None for run in ids for rec in steps.get(run, {}).values()),
                    line={"color": colour, "width": width, "dash": dash},
                    hovertemplate=f"{name}<br>{what} error %{{y:.3g}} % at step %{{x}}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="iterations", row=1, col=col)
    fig.update_yaxes(title_text="error (%)", row=1, col=1)
    data = ", ".join(sorted({plot_text(k[2]) for k in groups}))
    fig.update_layout(title_text=f"Training on {data}: dashed = training error, bold = test error (Fig. 6 layout)",
                      height=480, template="plotly_white", hovermode="closest",
                      legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0}, margin={"t": 80})
    return fig


def train_page(steps: dict[str, dict[int, StepRecord]], runs: dict[str, RunRecord], source: str) -> str:
    """The whole page of a training results file."""
    from resgraph.train.report import FINAL_COLUMNS, final_rows

    rows = final_rows(list(runs.values()))
    head = "".join(f"<th>{esc(h)}</th>" for _, h in FINAL_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{esc(r.get(k))}</td>" for k, _ in FINAL_COLUMNS) + "</tr>" for r in rows)
    recs = list(runs.values())
    recipe = [("data", ", ".join(dict.fromkeys(r.data for r in recs))),
              ("steps", ", ".join(dict.fromkeys(str(r.steps) for r in recs))),
              ("batch", ", ".join(dict.fromkeys(str(r.batch) for r in recs)))]
    intro = (f"<p>From <code>{esc(source)}</code>: {len(runs)} finished runs. Final figures are measured after the "
             "last step in eval mode on the whole split; mean ± std over seeds.</p>"
             + "".join(f"<p>{esc(k)}: {esc(v)}</p>" for k, v in recipe))
    fig = Figures()
    return page("resgraph training report", [
        ("Run", intro + provenance(recs)),
        ("Final errors", f"<table><tr>{head}</tr>{body}</table>"),
        ("Curves", fig(curves_figure(steps, runs))),
        ("Block pictures", pictures(recs)),
    ])


def write_train_html(steps: dict[str, dict[int, StepRecord]], runs: dict[str, RunRecord], out_dir: Path,
                     source: str | Path) -> Path:
    """Write ``out_dir/index.html`` for a training file, atomically; return its path."""
    plotly_module()
    path = Path(out_dir) / "index.html"
    write_bytes_atomic(path, train_page(steps, runs, Path(source).name).encode("utf-8"))
    return path


def probe_figure(rows: Sequence[dict[str, Any]]) -> Any:
    """Activation scale, gradient norm (log axes) and gradient correlation against block index, one colour per
    spec, plain dashed and residual solid."""
    from plotly.subplots import make_subplots

    go = plotly_module()
    by_spec: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_spec[r["spec"]].append(r)
    fields = (("act_std", "block output std", True), ("grad_norm", "loss-gradient norm reaching the block", True),
              ("grad_corr", "correlation of input gradients, nearby inputs", False))
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, t, _ in fields])
    for i, (spec, rs) in enumerate(by_spec.items()):
        name = plot_text(spec) + (" (plain)" if not rs[0].get("residual") else "")
        for col, (field, title, _) in enumerate(fields, start=1):
            fig.add_trace(go.Scatter(
                x=[r["block"] for r in rs], y=[r[field] for r in rs], mode="lines+markers", name=name,
                legendgroup=name, showlegend=col == 1,
                line={"color": _COLOURS[i % len(_COLOURS)], "dash": "solid" if rs[0].get("residual") else "dash"},
                hovertemplate=f"{name}<br>block %{{x}}<br>{title} %{{y:.3g}}<extra></extra>"), row=1, col=col)
    for col, (field, _, log) in enumerate(fields, start=1):
        fig.update_xaxes(title_text="residual block", row=1, col=col)
        if log:
            vals, text = log_ticks(r[field] for r in rows if r.get(field))
            fig.update_yaxes(type="log", tickvals=vals, ticktext=text, row=1, col=col)
    fig.update_layout(title_text="Probe at initialisation (random batch, BatchNorm in training mode): plain dashed, "
                      "residual solid", height=460, template="plotly_white",
                      legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    return fig


def write_probe_html(rows: Sequence[dict[str, Any]], out_dir: Path) -> Path:
    """Write ``out_dir/probe.html`` (the probe's plots, interactive), atomically; return its path."""
    plotly_module()
    fig = Figures()
    body = ('<p class="note">Data-free: a seeded random batch. Plain networks\' gradients explode toward the input '
            "and decorrelate with depth; residual ones don't. The numbers are in probe.csv beside this file.</p>")
    path = Path(out_dir) / "probe.html"
    write_bytes_atomic(path, page("resgraph probe", [("Per residual block", body + fig(probe_figure(rows)))])
                       .encode("utf-8"))
    return path
