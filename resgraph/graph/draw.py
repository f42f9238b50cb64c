"""Draw a graph's DOT picture with matplotlib, for machines without Graphviz's ``dot``.

The picture is the one :func:`~resgraph.graph.export.to_pydot` builds (same labels, colours,
clusters, collapsed runs and legend); only the layout is ours: networkx's topological layering,
top to bottom, the first node of each layer on one column and side branches to its right.
Shortcut and skip edges run down a lane to the right of what they pass. matplotlib is imported
only here, and only when a picture is drawn.
"""

from __future__ import annotations

import html
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import networkx as nx

__all__ = ["Box", "Layout", "MAX_PIXELS", "draw", "layout"]

CHAR_W = 0.066  # inches per character at FONT_PT (DejaVu Sans, a generous average)
LINE_H = 0.165  # inches per text line at FONT_PT
FONT_PT = 8.0
PAD = 0.09  # inside a node box, around its text
GAP_X = 0.3  # between nodes of one layer
GAP_Y = 0.32  # between layers
CLUSTER_PAD = 0.1  # per nesting level
CLUSTER_LABEL = 0.2  # room above a cluster's first layer for its label
LANE = 0.12  # between the lanes of skip edges
MAX_PIXELS = 65_000  # Agg refuses 2^16 pixels or more on a side: a taller PNG is drawn at a lower resolution
DPI = 110


@dataclass
class Box:
    """A node's place: centre (x, y) and size in inches, y growing downwards."""

    name: str
    label: str
    x: float
    y: float
    w: float
    h: float
    fill: str
    outline: str
    width: float
    shape: str

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2

    @property
    def top(self) -> float:
        return self.y - self.h / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h / 2


@dataclass
class Edge:
    u: str
    v: str
    colour: str = "#444444"
    style: str = "solid"
    label: str = ""
    skip: bool = False  # drawn down a lane to the right (a shortcut, or an edge past other layers)
    lane_x: float = 0.0


@dataclass
class Cluster:
    name: str
    label: str
    members: list[str]  # every node inside, nested clusters' too
    depth: int  # clusters nested inside it, plus one
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # left, top, right, bottom
    dashed: bool = False


@dataclass
class Layout:
    """Where everything goes; what :func:`draw` paints (and what tests check for overlaps)."""

    title: str
    boxes: dict[str, Box]
    edges: list[Edge]
    clusters: list[Cluster]
    legend: list[tuple[str | None, str, str | None]]  # (swatch colour, text, text colour)


def _unquote(s: Any) -> str:
    s = str(s or "")
    if len(s) >= 2 and s[0] == s[-1] == '"':
        s = s[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return s.replace("\\n", "\n")


def _walk(graph: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every pydot (sub)graph with the clusters above it, outermost first."""
    yield path, graph
    for sub in graph.get_subgraphs():
        yield from _walk(sub, (*path, sub.get_name()))


def _legend_rows(label: str) -> list[tuple[str | None, str, str | None]]:
    """The rows of an HTML-like legend table: (the first cell's fill, all cells' text, a font colour)."""
    rows = []
    for tr in re.findall(r"<TR>(.*?)</TR>", label, flags=re.S):
        fill = re.search(r'BGCOLOR="([^"]+)"', tr)
        font = re.search(r'FONT COLOR="([^"]+)"', tr)
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<TD[^>]*>(.*?)</TD>", tr, flags=re.S)]
        text = "   ".join(c for c in cells if c)
        rows.append((fill.group(1) if fill else None, text, font.group(1) if font else None))
    return rows


def _depth(name: str, nesting: dict[str, tuple[str, ...]]) -> int:
    """1 for a cluster with no cluster inside, one more for each level of clusters it holds."""
    mine = nesting[name]
    return 1 + max((len(p) - len(mine) for p in nesting.values() if p[:len(mine)] == mine), default=0)


def layout(dot: Any) -> Layout:
    """Place the nodes, clusters and edges of a pydot graph made by ``to_pydot``."""
    boxes: dict[str, Box] = {}
    order: list[str] = []
    legend: list[tuple[str | None, str, str | None]] = []
    members: dict[str, list[str]] = {}
    nesting: dict[str, tuple[str, ...]] = {}
    labels: dict[str, tuple[str, bool]] = {}
    edges: list[Edge] = []
    for path, sub in _walk(dot):
        if path:
            attrs = sub.get_attributes()
            labels[path[-1]] = (_unquote(attrs.get("label")), "dashed" in str(attrs.get("style", "")))
            nesting[path[-1]] = path
            members.setdefault(path[-1], [])
        for node in sub.get_nodes():
            name = _unquote(node.get_name())
            if name in ("node", "edge", "graph"):
                continue
            a = node.get_attributes()
            text = _unquote(a.get("label", name))
            if name == "legend":
                legend = _legend_rows(text)
                continue
            lines = text.split("\n")
            circle = a.get("shape") == "circle"
            w = max(len(line) for line in lines) * CHAR_W + 2 * PAD
            h = len(lines) * LINE_H + 2 * PAD
            if circle:
                w = h = max(w, h, 0.3)
            boxes[name] = Box(name, text, 0.0, 0.0, w, h, _unquote(a.get("fillcolor")) or "#ffffff",
                              _unquote(a.get("color")) or "#555555", float(a.get("penwidth", 1) or 1),
                              "circle" if circle else _unquote(a.get("shape")) or "box")
            order.append(name)
            for c in path:
                members[c].append(name)
        for e in sub.get_edges():
            a = e.get_attributes()
            edges.append(Edge(_unquote(e.get_source()), _unquote(e.get_destination()),
                              _unquote(a.get("color")) or "#444444", _unquote(a.get("style")) or "solid",
                              _unquote(a.get("xlabel") or a.get("label")), skip=a.get("constraint") == "false"))
    g = nx.DiGraph()
    g.add_nodes_from(order)
    g.add_edges_from((e.u, e.v) for e in edges if not e.skip and e.u in boxes and e.v in boxes)
    layer = {n: 0 for n in order}
    for n in nx.topological_sort(g):  # longest path from the input: each node one layer below its last input
        for s in g.successors(n):
            layer[s] = max(layer[s], layer[n] + 1)
    layers: dict[int, list[str]] = {}
    for n in order:
        layers.setdefault(layer[n], []).append(n)

    clusters = [Cluster(c, labels[c][0], members[c], _depth(c, nesting), dashed=labels[c][1])
                for c in members if members[c]]
    starts: dict[int, float] = {}
    ends: dict[int, float] = {}
    for cl in clusters:
        first = min(layer[m] for m in cl.members)
        last = max(layer[m] for m in cl.members)
        starts[first] = starts.get(first, 0.0) + CLUSTER_PAD + (CLUSTER_LABEL if cl.label else 0.0)
        ends[last] = ends.get(last, 0.0) + CLUSTER_PAD
    y = 0.0
    for i in sorted(layers):
        if i:
            y += GAP_Y + ends.get(i - 1, 0.0) + starts.get(i, 0.0)
        else:
            y += starts.get(0, 0.0)
        row = [boxes[n] for n in layers[i]]
        height = max(b.h for b in row)
        x = -row[0].w / 2  # the first node of a layer on the main column, branches to its right
        for b in row:
            b.x, b.y = x + b.w / 2, y + height / 2
            x += b.w + GAP_X
        y += height
    _route(edges, boxes, layer)
    _cluster_boxes(clusters, nesting, boxes, edges)
    return Layout(_unquote(dot.get_attributes().get("label")), boxes, edges, clusters, legend)


def _cluster_boxes(clusters: list[Cluster], nesting: dict[str, tuple[str, ...]], boxes: dict[str, Box],
                   edges: list[Edge]) -> None:
    """Each cluster's rectangle: round its nodes, the clusters inside it and its own shortcuts' lanes."""
    done: list[Cluster] = []
    for cl in sorted(clusters, key=lambda c: c.depth):  # inner clusters first: an outer one holds their boxes
        mine = nesting[cl.name]
        rects = [d.box for d in done if nesting[d.name][:len(mine)] == mine]
        rects += [(b.left, b.top, b.right, b.bottom) for b in (boxes[m] for m in cl.members)]
        inside = set(cl.members)
        rects += [(e.lane_x, boxes[e.u].y, e.lane_x + len(e.label) * CHAR_W + 0.1, boxes[e.v].y) for e in edges
                  if e.skip and e.u in inside and e.v in inside]
        cl.box = (min(r[0] for r in rects) - CLUSTER_PAD,
                  min(r[1] for r in rects) - CLUSTER_PAD - (CLUSTER_LABEL if cl.label else 0.0),
                  max(r[2] for r in rects) + CLUSTER_PAD, max(r[3] for r in rects) + CLUSTER_PAD)
        done.append(cl)


def _route(edges: list[Edge], boxes: dict[str, Box], layer: dict[str, int]) -> None:
    """Give each skip edge a lane right of every node it passes, clear of a block's cluster; a lane is reused
    once the edge before it has ended."""
    lanes: list[list[tuple[float, float]]] = []
    for e in edges:
        if e.u not in boxes or e.v not in boxes:
            continue
        u, v = boxes[e.u], boxes[e.v]
        e.skip = e.skip or layer[e.v] - layer[e.u] > 1
        if not e.skip:
            continue
        top, bottom = u.y + u.h / 4, v.y - v.h / 4  # leave low, arrive high: edges that meet at a node stay apart
        base = max((b.right for b in boxes.values() if b.bottom >= top and b.top <= bottom),
                   default=max(u.right, v.right)) + 2 * CLUSTER_PAD + 0.06
        for i, used in enumerate(lanes):
            if all(bottom <= a or top >= b for a, b in used):
                used.append((top, bottom))
                e.lane_x = base + i * LANE
                break
        else:
            lanes.append([(top, bottom)])
            e.lane_x = base + (len(lanes) - 1) * LANE


def draw(dot: Any, fmt: str, name: str = "picture") -> bytes:
    """The picture of ``dot`` as SVG or PNG bytes; ``fmt`` is ``svg`` or ``png``.

    A PNG taller or wider than Agg's limit is drawn at a lower resolution, with a warning naming ``name``.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
        from matplotlib.path import Path as MplPath
    except ImportError as exc:
        raise ImportError("drawing without Graphviz needs matplotlib: pip install 'resgraph[plot]'") from exc
    lay = layout(dot)
    boxes = lay.boxes.values()
    left = min([b.left for b in boxes] + [c.box[0] for c in lay.clusters])
    right = max([b.right for b in boxes] + [c.box[2] for c in lay.clusters] + [e.lane_x for e in lay.edges if e.skip])
    legend_w = max((len(t) for _, t, _ in lay.legend), default=0) * CHAR_W + 0.5 if lay.legend else 0.0
    title_h = 0.45
    top = min([b.top for b in boxes] + [c.box[1] for c in lay.clusters]) - title_h
    bottom = max([b.bottom for b in boxes] + [c.box[3] for c in lay.clusters]) + 0.2
    left -= 0.3
    right += 0.5
    width = max(right - left + legend_w, len(lay.title) * CHAR_W * 1.4 + 0.6)
    height = max(bottom - top, len(lay.legend) * LINE_H * 1.5 + title_h + 0.3)
    dpi = min(DPI, MAX_PIXELS / max(width, height)) if fmt == "png" else DPI
    if fmt == "png" and dpi < DPI:
        warnings.warn(f"{name}: the picture is {max(width, height):.0f} inches long, drawn at {dpi:.0f} dpi to stay "
                      f"under {MAX_PIXELS:,} pixels; use --collapse, or write .svg", stacklevel=3)
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(left, left + width)
    ax.set_ylim(top + height, top)  # y grows downwards, as in the layout
    ax.set_axis_off()
    ax.text(left + 0.2, top + 0.15, lay.title, fontsize=FONT_PT * 1.5, va="top", ha="left")
    for c in sorted(lay.clusters, key=lambda c: -c.depth):  # outer first, inner on top
        x0, y0, x1, y1 = c.box
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=0.08",
                                    fill=False, ec="#999999", lw=0.8, ls="--" if c.dashed else "-"))
        if c.label:
            ax.text(x0 + 0.08, y0 + 0.04, c.label, fontsize=FONT_PT, va="top", ha="left", color="#333333")
    for e in lay.edges:
        if e.u not in lay.boxes or e.v not in lay.boxes:
            continue
        u, v = lay.boxes[e.u], lay.boxes[e.v]
        style = "--" if e.style == "dashed" else "-"
        if e.skip:
            y0, y1 = u.y + u.h / 4, v.y - v.h / 4
            pts = [(u.right, y0), (e.lane_x, y0), (e.lane_x, y1), (v.right, y1)]
            ax.add_patch(FancyArrowPatch(path=MplPath(pts), arrowstyle="-|>", mutation_scale=8, color=e.colour,
                                         lw=1.1, ls=style))
            if e.label:
                ax.text(e.lane_x + 0.04, (y0 + y1) / 2, e.label, fontsize=FONT_PT * 0.85, color=e.colour,
                        va="center", ha="left")
        else:
            ax.add_patch(FancyArrowPatch((u.x, u.bottom), (v.x, v.top), arrowstyle="-|>", mutation_scale=8,
                                         color=e.colour, lw=0.9, ls=style, shrinkA=0, shrinkB=0))
            if e.label:
                ax.text((u.x + v.x) / 2 + 0.05, (u.bottom + v.top) / 2, e.label, fontsize=FONT_PT * 0.85,
                        color=e.colour, va="center")
    for b in boxes:
        if b.shape == "circle":
            from matplotlib.patches import Circle

            ax.add_patch(Circle((b.x, b.y), b.w / 2, fc=b.fill, ec=b.outline, lw=b.width))
        else:
            style = "square,pad=0" if b.shape == "box3d" else "round,pad=0,rounding_size=0.06"
            ax.add_patch(FancyBboxPatch((b.left, b.top), b.w, b.h, boxstyle=style, fc=b.fill, ec=b.outline,
                                        lw=b.width))
        ax.text(b.x, b.y, b.label, fontsize=FONT_PT, ha="center", va="center", linespacing=1.25)
    lx, ly = right + 0.1, top + title_h + 0.1
    for fill, text, colour in lay.legend:
        if fill:
            ax.add_patch(Rectangle((lx, ly), 0.25, LINE_H, fc=fill, ec="#555555", lw=0.6))
        ax.text(lx + 0.35, ly + LINE_H / 2, text, fontsize=FONT_PT, va="center", ha="left", color=colour or "#000000")
        ly += LINE_H * 1.5
    buf = io.BytesIO()
    from matplotlib import rc_context

    with rc_context({"svg.fonttype": "none"}):  # text stays text: searchable, and a tenth of the size
        fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()
