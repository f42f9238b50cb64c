"""One self-contained HTML page of a results file: provenance, a spec x backend table, interactive plots, pictures.

`report -o DIR` writes it as ``DIR/index.html`` beside the Markdown and CSV. It opens offline: plotly
writes the figures with its plotly.js bundle inlined once (``include_plotlyjs=True`` on the first one),
the block pictures are inline SVG, and nothing is fetched. Every text from a record is HTML-escaped
before it reaches the page or a figure (records may come from anywhere). plotly is imported only here.
"""

from __future__ import annotations

import html
import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from resgraph.atomic import write_bytes_atomic
from resgraph.bench.comparison import shown_status
from resgraph.bench.record import Record
from resgraph.bench.views import measured, multi_place, series_label, spec_backend_grids
from resgraph.errors import ResgraphError

__all__ = ["Figures", "bench_page", "esc", "kv_table", "log_ticks", "page", "pictures", "plot_text", "plotly_module",
           "provenance", "write_bench_html"]

HOLLOW = "circle-open"  # an unstable row's marker: measured on a busy machine
SOLID = "circle"
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{background:#d9f2d9;font-weight:bold}
td.unstable{color:#8a5a00}
.note{color:#555;font-size:.9em}
figure.block{display:inline-block;margin:.5em;vertical-align:top;max-width:100%;overflow:auto}
figure.block svg{max-width:100%;height:auto}
"""


def esc(v: Any) -> str:
    """Any value as HTML text: escaped, None as empty."""
    return "" if v is None else html.escape(str(v), quote=True)


def plot_text(v: Any) -> str:
    """Text for a plotly figure (hover, legend, axis labels): <, > and & as entities, which plotly shows as the
    characters; quotes stay (plotly would show &quot; as it stands, and its JSON escapes them)."""
    return "" if v is None else html.escape(str(v), quote=False)


def _num(v: Any) -> str:
    """A number to 3-4 significant digits (the Markdown table's style)."""
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def log_ticks(values: Iterable[float]) -> tuple[list[float], list[str]]:
    """Tick values 1, 2, 5, 10, 20, ... covering ``values`` (all > 0; 1, 10, 100 past three decades), labelled
    as plain numbers; values within a factor of about 2 get evenly spaced ticks instead (2.2, 2.4, 2.6)."""
    vs = [v for v in values if v and v > 0 and math.isfinite(v)]
    if not vs:
        return [], []
    low, high = min(vs), max(vs)
    lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
    mantissas = (1, 2, 5) if hi - lo <= 3 else (1,)  # over more decades, 2 and 5 would crowd the axis
    ticks = [m * 10.0 ** e for e in range(lo, hi + 1) for m in mantissas]
    if sum(low <= t <= high for t in ticks) < 3:  # a narrow range: one or two of those ticks would show
        ticks = _even_ticks(low, high)
    else:
        ticks = [t for t in ticks if low / 2.5 <= t <= high * 2.5]
    return ticks, [_tick_text(t) for t in ticks]


def _even_ticks(low: float, high: float) -> list[float]:
    """About five ticks at a round step (1, 2, 2.5 or 5 times a power of ten) from below ``low`` to above ``high``."""
    if high <= low:
        return [low]
    raw = (high - low) / 5
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(i * step, 12) for i in range(first, last + 1) if i * step > 0]


def _tick_text(t: float) -> str:
    """0.5, 20, 1000 as they are; 2e5 and 1e-5 past that (never 2e+05 or 6e-01)."""
    if 1e-3 <= t < 1e5:
        return f"{t:.6g}"
    mantissa, exponent = f"{t:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


# --- the page ----------------------------------------------------------------------------------------------


class Figures:
    """plotly figures as HTML fragments; the first carries the plotly.js bundle, so the page has it once."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: Any) -> str:
        self.count += 1
        return str(fig.to_html(full_html=False, include_plotlyjs=self.count == 1, div_id=f"figure-{self.count}",
                               config={"displaylogo": False, "responsive": True}))


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """A whole HTML document: title, then each (heading, body HTML) section; headings are escaped here."""
    body = "".join(f"<section><h2>{esc(h)}</h2>\n{b}\n</section>\n" for h, b in sections if b)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{_STYLE}</style>"
            f"</head><body><h1>{esc(title)}</h1>\n{body}</body></html>\n")


def kv_table(rows: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of (name, value); rows without a value are left out."""
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if v not in (None, ""))
    return f"<table>{cells}</table>" if cells else ""


def _span(values: Iterable[Any], fmt: Callable[[Any], str] = _num) -> str:
    """Distinct values joined, or min to max of numbers."""
    vs = [v for v in values if v is not None]
    if not vs:
        return ""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vs):
        lo, hi = min(vs), max(vs)
        return fmt(lo) if lo == hi else f"{fmt(lo)} to {fmt(hi)}"
    return ", ".join(dict.fromkeys(str(v) for v in vs))


def provenance(records: Sequence[Any]) -> str:
    """Where and how the rows were measured: hosts, devices, versions, load, threads, dates."""
    envs = [r.get("env") or {} for r in records]
    stamps = sorted(str(r.get("timestamp")) for r in records if r.get("timestamp"))
    skip = {"device", "device_name", "cpu_model", "cpu_count", "threads", "os", "machine"}
    versions = sorted({k for e in envs for k, v in e.items() if k not in skip and v is not None})
    rows: list[tuple[str, Any]] = [
        ("host", _span(r.get("host") for r in records) or "not recorded"),
        ("device", _span(r.get("device") for r in records)),
        ("device model", _span([r.get("device_model") for r in records] + [e.get("device_name") for e in envs])),
        ("CPU", _span(e.get("cpu_model") for e in envs)),
        ("CPUs", _span(e.get("cpu_count") for e in envs)),
        ("OS", _span(f"{e.get('os')} {e.get('machine') or ''}".strip() for e in envs if e.get("os"))),
        ("threads", _span(r.get("threads") for r in records)),
        *((k, _span(e.get(k) for e in envs)) for k in versions),
        ("load before a row (1-min average)", _span(r.get("load_before") for r in records)),
        ("load after a row", _span(r.get("load_after") for r in records)),
        ("CPU share of the timed calls", _span(r.get("cpu_ratio") for r in records)),
        ("steal (share of CPU time)", _span(r.get("steal") for r in records)),
        ("speed index (ms)", _span(r.get("speed_ms") for r in records)),
        ("warmup / iters / min time s", _span(f"{r.get('warmup')} / {r.get('iters')} / {r.get('min_time_s')}"
                                             for r in records if r.get("iters") is not None)),
        ("rounds", _span(r.get("repeat") for r in records)),
        ("dates", f"{stamps[0]} to {stamps[-1]}" if len(stamps) > 1 and stamps[0] != stamps[-1]
         else stamps[0] if stamps else ""),
    ]
    return kv_table(rows)


# --- bench rows -------------------------------------------------------------------------------------------


def spec_backend_table(records: Sequence[Record]) -> str:
    """One table per batch: a row per spec, a column per backend, p50 in ms; the fastest ok cell of a row in bold."""
    out = []
    for grid in spec_backend_grids(records):
        head = "".join(f"<th>{esc(c)}</th>" for c in grid.columns)
        body = []
        for row in grid.rows:
            tds = []
            for c in grid.columns:
                r = row.cells.get(c)
                if r is None:
                    tds.append("<td></td>")
                    continue
                status = shown_status(r)
                cls = ["num"] + (["best"] if c == row.best else []) + (["unstable"] if status == "unstable" else [])
                text = _num(r.p50_ms) if r.status == "ok" and r.p50_ms else ""
                if status != "ok":
                    text = f"{text} ({status})".strip()
                tip = r.unstable or r.reason
                title = f' title="{esc(tip)}"' if tip else ""
                tds.append(f'<td class="{" ".join(cls)}"{title}>{esc(text)}</td>')
            body.append(f"<tr><th>{esc(row.spec)}</th>{''.join(tds)}</tr>")
        out.append(f"<h3>batch {grid.batch}: p50 latency (ms per batch)</h3><table><tr><th>spec</th>{head}</tr>"
                   f"{''.join(body)}</table>")
    return ("".join(out) + '<p class="note">Bold on green: the fastest backend of the spec at that batch. '
            "(unstable): measured while the machine was busy (its load, CPU share or steal; hover the cell for "
            "the reason); (mismatch): failed the numerical check against fp32 eager.</p>")


def _hover(r: Record) -> list[str]:
    """A row's hover text fields, escaped: spec, backend, precision, batch, status, p10/p90, GMACs, cv, why
    unstable, p50."""
    return [plot_text(r.spec), plot_text(r.backend), plot_text(r.precision), str(r.batch), plot_text(shown_status(r)),
            _num(r.p10_ms), _num(r.p90_ms), _num((r.macs or 0) / 1e9), _num(r.cv),
            plot_text(r.unstable or ""), _num(r.p50_ms)]


_HOVER = ("<b>%{customdata[0]}</b><br>backend %{customdata[1]}, %{customdata[2]}, batch %{customdata[3]}<br>"
          "p50 %{customdata[10]} ms (p10 %{customdata[5]}, p90 %{customdata[6]})<br>cv %{customdata[8]}, "
          "%{customdata[7]} GMACs per image<br>%{customdata[4]} %{customdata[9]}<extra></extra>")


def _legend_note(go: Any) -> Any:
    """A legend entry with no points: hollow markers are unstable rows."""
    return go.Scatter(x=[None], y=[None], mode="markers", name="hollow: unstable (busy machine)",
                      marker={"symbol": HOLLOW, "color": "#555555", "size": 9})


def latency_figure(rows: Sequence[Record]) -> Any:
    """Each measured row's p50 on a log axis, whiskers p10 to p90, one colour per backend, unstable hollow."""
    import plotly.graph_objects as go

    multi = multi_place(rows)
    fig = go.Figure()
    labels = [f"{plot_text(r.spec)} · {plot_text(series_label(r, multi))} · b{r.batch}" for r in rows]
    series: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        series[series_label(r, multi)].append(i)
    for name, idx in series.items():
        rs = [rows[i] for i in idx]
        fig.add_trace(go.Scatter(
            x=[r.p50_ms for r in rs], y=[labels[i] for i in idx], mode="markers", name=plot_text(name),
            marker={"size": 9, "symbol": [HOLLOW if shown_status(r) == "unstable" else SOLID for r in rs]},
            error_x={"type": "data", "symmetric": False,
                     "array": [max(0.0, (r.p90_ms or r.p50_ms or 0) - (r.p50_ms or 0)) for r in rs],
                     "arrayminus": [max(0.0, (r.p50_ms or 0) - (r.p10_ms or r.p50_ms or 0)) for r in rs]},
            customdata=[_hover(r) for r in rs], hovertemplate=_HOVER))
    if any(shown_status(r) == "unstable" for r in rows):
        fig.add_trace(_legend_note(go))
    vals, text = log_ticks([v for r in rows for v in (r.p10_ms, r.p50_ms, r.p90_ms) if v])
    fig.update_xaxes(type="log", tickvals=vals, ticktext=text, title_text="p50 latency (ms per batch, log scale)")
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], automargin=True)
    _layout(fig, "Latency per row (whiskers: p10 to p90 of the samples)", 180 + 24 * len(rows))
    return fig


def macs_figure(rows: Sequence[Record]) -> Any | None:
    """MACs per image against p50 latency, a series per backend and batch, unstable hollow, labels on hover."""
    import plotly.graph_objects as go

    rows = [r for r in rows if r.macs]
    if not rows:
        return None
    multi = multi_place(rows)
    batches = len({r.batch for r in rows}) > 1
    series: dict[str, list[Record]] = defaultdict(list)
    for r in rows:
        series[series_label(r, multi) + (f" b{r.batch}" if batches else "")].append(r)
    fig = go.Figure()
    for name, rs in series.items():
        fig.add_trace(go.Scatter(
            x=[(r.macs or 0) / 1e9 for r in rs], y=[r.p50_ms for r in rs], mode="markers", name=plot_text(name),
            marker={"size": 10, "symbol": [HOLLOW if shown_status(r) == "unstable" else SOLID for r in rs]},
            customdata=[_hover(r) for r in rs], hovertemplate=_HOVER))
    if any(shown_status(r) == "unstable" for r in rows):
        fig.add_trace(_legend_note(go))
    _axis(fig.update_xaxes, [(r.macs or 0) / 1e9 for r in rows], "GMACs per image")
    _axis(fig.update_yaxes, [r.p50_ms or 0 for r in rows], "p50 latency (ms per batch)")
    _layout(fig, "MACs vs latency (hover a point for its row)", 520)
    return fig


def _axis(update: Callable[..., Any], values: Sequence[float], title: str) -> None:
    """A log axis with 1-2-5 ticks where the values span a factor of 3 or more; else a linear one."""
    vs = [v for v in values if v > 0]
    if vs and max(vs) >= 3 * min(vs):
        ticks, text = log_ticks(vs)
        update(type="log", tickvals=ticks, ticktext=text, title_text=f"{title} (log scale)")
    else:
        update(type="linear", tickformat=".4~g", title_text=title)


def _layout(fig: Any, title: str, height: float) -> None:
    """Title, height, and the legend above the plot, where it covers no point."""
    fig.update_layout(title_text=title, height=height, template="plotly_white", hovermode="closest",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
                      margin={"t": 110, "r": 30})


def notmeasured(records: Sequence[Record]) -> str:
    """The rows that are no success, each with its reason."""
    bad = [r for r in records if shown_status(r) != "ok"]
    if not bad:
        return ""
    items = "".join(f"<tr><td>{esc(r.label)}</td><td>{esc(shown_status(r))}</td><td>{esc(r.unstable or r.reason)}"
                    "</td></tr>" for r in bad)
    return f"<table><tr><th>row</th><th>status</th><th>why</th></tr>{items}</table>"


# --- block pictures -----------------------------------------------------------------------------------------


def _find_spec(name: str, digest: str, presets: set[str]) -> tuple[Any, bool] | None:
    """The spec a row measured, where it can be found again by name: a preset, or a shortcut variant of one
    (the demo's ``resnet18_A``), and whether its hash is the row's (else the preset changed since; a row
    without a hash matches). A name is never read as a path."""
    from resgraph.entries import shortcut_variants, spec_hash
    from resgraph.graph.load import load_spec

    candidates = []
    if name in presets:
        candidates.append(load_spec(name))
    base = name.rsplit("_", 1)[0]
    if not candidates and base != name and base in presets:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            candidates += [v for v in shortcut_variants(load_spec(base)) if v.name == name]
    if not candidates:
        return None
    return candidates[0], not digest or spec_hash(candidates[0]) == digest


def _svg(data: bytes) -> str:
    """An SVG file's text without its XML prolog, ready to sit inside HTML."""
    text = data.decode("utf-8")
    return text[text.find("<svg"):] if "<svg" in text else ""


def pictures(records: Sequence[Any], specs: Mapping[str, Any] | None = None) -> str:
    """Each spec's block picture (collapsed runs), inline SVG; specs that can't be found again are named."""
    from resgraph.graph import compile_spec
    from resgraph.graph.export import picture
    from resgraph.spec import preset_names

    presets = set(preset_names())
    figures, missing = [], []
    for name, digest in dict.fromkeys((r.get("spec"), r.get("spec_hash") or "") for r in records):
        given = (specs or {}).get(name)
        try:
            found = (given, True) if given is not None else _find_spec(name, digest, presets)
        except (ResgraphError, ValueError, OSError):  # a preset that no longer loads: no picture, said below
            found = None
        if found is None:
            missing.append(name)
            continue
        spec, same = found
        svg = _svg(picture(compile_spec(spec), ".svg", "block", collapse=True, name=name))
        note = "" if same else f" (today's preset; the rows measured version {digest[:6]})"
        figures.append(f'<figure class="block">{svg}<figcaption>{esc(name)}{esc(note)}</figcaption></figure>')
    note = (f'<p class="note">No picture of {esc(", ".join(missing))}: only presets and their shortcut variants '
            "are found again by name (draw a file with <code>resgraph graph SPEC -o x.svg --view block</code>)."
            "</p>") if missing else ""
    return "".join(figures) + note


# --- the bench page -----------------------------------------------------------------------------------------


def bench_page(records: Sequence[Record], source: str, specs: Mapping[str, Any] | None = None) -> str:
    """The whole page of a bench results file."""
    counts: dict[str | None, int] = defaultdict(int)
    for r in records:
        counts[shown_status(r)] += 1
    summary = ", ".join(f"{n} {esc(s)}" for s, n in counts.items())
    fig = Figures()
    ok = measured(records)
    plots = [fig(latency_figure(ok))] if ok else []
    macs = macs_figure(ok)
    if macs is not None:
        plots.append(fig(macs))
    intro = (f"<p>From <code>{esc(source)}</code>: {len(records)} rows ({summary}). Latency is milliseconds per "
             "batch. Hover a point for its row; drag to zoom, double-click to reset.</p>")
    return page("resgraph benchmark report", [
        ("Run", intro + provenance(records)),
        ("Spec x backend", spec_backend_table(records)),
        ("Plots", "".join(plots) or '<p class="note">No row was measured successfully: nothing to plot.</p>'),
        ("Rows that are not plain successes", notmeasured(records)),
        ("Block pictures", pictures(records, specs)),
    ])


def plotly_module() -> Any:
    """plotly.graph_objects, or an ImportError naming the extra that brings it."""
    try:
        import plotly.graph_objects as go
    except ImportError as e:
        raise ImportError("the HTML report needs plotly: pip install 'resgraph[plot]'") from e
    return go


def write_bench_html(records: Sequence[Record], out_dir: Path, source: str | Path,
                     specs: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/index.html`` for bench rows, atomically; return its path."""
    plotly_module()
    path = Path(out_dir) / "index.html"
    write_bytes_atomic(path, bench_page(records, Path(source).name, specs).encode("utf-8"))
    return path
