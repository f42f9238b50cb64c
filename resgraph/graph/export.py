"""Write a graph to a file chosen by extension: DOT, SVG/PNG, GraphML, node-link JSON.

SVG and PNG are drawn by Graphviz's ``dot`` where it is on the PATH, else by matplotlib
(:mod:`resgraph.graph.draw`, the same picture with its own layout); :func:`renderer` says which.

Two views: ``op`` (the IR itself, one node per op, blocks and stages as
clusters) and ``block`` (:func:`~resgraph.graph.blockview.block_graph`). Files
are written atomically: a temporary file in the same directory, then
``os.replace``, so a failed export never leaves half a file behind.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import shutil
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import networkx as nx

from resgraph.atomic import write_bytes_atomic
from resgraph.errors import UsageError
from resgraph.graph.blockview import block_graph, shortcut_text
from resgraph.graph.ir import MACS, PARAMS, SHAPE
from resgraph.graph.ops import OPS
from resgraph.graph.passes import run_passes
from resgraph.kinds import ATTENTION, BLOCKS, SHORTCUTS, STEMS
from resgraph.kinds.base import IDENTITY, PLAIN
from resgraph.units import human

if TYPE_CHECKING:
    import pydot

View = Literal["op", "block"]
FORMATS: tuple[str, ...] = (".dot", ".svg", ".png", ".graphml", ".json")
RENDERED = frozenset({".svg", ".png"})

def shortcut_edge(kind: str) -> tuple[str, str, str] | None:
    """(colour, DOT style, text) of a block's shortcut edge: its registered option's, the identity's, or
    None for a plain block (no edge)."""
    if kind == "none":
        return None
    return IDENTITY[2] if kind == "identity" else SHORTCUTS[kind].edge


BITMAP_LIMIT = 32_767  # pixels: Graphviz's cairo renderer scales a larger PNG down to this
MIN_RUN = 3  # --collapse draws runs of this many identical blocks or more as their first and one placeholder
_FONT = "Helvetica"


def check_format(path: str | Path) -> str:
    """The lower-case extension of ``path`` if it is one we write; else a :class:`UsageError`."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        got = f"'{ext}'" if ext else "no extension"
        raise UsageError(f"{path}: cannot export to {got}; use one of {', '.join(FORMATS)}")
    return ext


def export_graph(g: nx.DiGraph, path: str | Path, view: View = "op", collapse: bool = False) -> Path:
    """Write ``g`` (passes run if missing) to ``path`` in the format its extension names; returns the path.

    ``collapse`` draws each run of identical blocks as its first block and one placeholder (pictures only:
    GraphML and JSON hold the whole graph), so resnet152 and resnet1202 fit Graphviz's bitmap limits.
    """
    path = Path(path)
    ext = check_format(path)
    if view not in ("op", "block"):
        raise UsageError(f"unknown view {view!r}; use 'op' or 'block'")
    if not path.parent.is_dir():
        what = "is a file, not a folder" if path.parent.exists() else "does not exist"
        raise UsageError(f"{path}: '{path.parent}' {what}")
    if ext in RENDERED:
        renderer(ext)  # neither dot nor matplotlib: say so before compiling anything
    if PARAMS not in g.graph:
        run_passes(g)
    data: bytes
    if ext == ".graphml":
        data = _graphml_bytes(_view(g, view))
    elif ext == ".json":
        data = json.dumps(nx.node_link_data(_view(g, view), edges="edges"), indent=1).encode() + b"\n"
    elif ext == ".dot":
        data = to_pydot(g, view, collapse).to_string().encode()
    else:
        data = picture(g, ext, view, collapse, name=str(path))
    write_atomic(path, data)
    return path


def renderer(ext: str = ".svg") -> str:
    """Who draws an SVG/PNG here: ``Graphviz dot``, or ``matplotlib`` where dot is not on the PATH.

    Neither is a :class:`UsageError` naming both ways out.
    """
    if shutil.which("dot") is not None:
        return "Graphviz dot"
    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except ImportError:  # a finder that refuses it
        found = False
    if not found:
        raise UsageError(f"cannot draw {ext}: Graphviz 'dot' is not on PATH and matplotlib is not installed; "
                         "install graphviz (apt-get install graphviz) or pip install 'resgraph[plot]', "
                         "or write .dot/.graphml/.json")
    return "matplotlib"


def picture(g: nx.DiGraph, ext: str, view: View = "block", collapse: bool = False, name: str = "picture") -> bytes:
    """SVG or PNG bytes of ``g`` (``ext`` ``.svg`` or ``.png``), drawn by :func:`renderer`'s choice."""
    dot = to_pydot(g, view, collapse)
    if renderer(ext) == "matplotlib":
        from resgraph.graph.draw import draw

        return draw(dot, ext[1:], name)
    # pydot 4 annotates create() as str; it returns Graphviz's stdout, bytes
    data = cast(bytes, dot.create(prog="dot", format=ext[1:]))
    if ext == ".png" and max(struct.unpack(">II", data[16:24])) >= BITMAP_LIMIT:
        # Graphviz scales such a picture down to its limit and says so on a stderr that pydot swallows.
        warnings.warn(f"{name}: the picture reached Graphviz's {BITMAP_LIMIT:,}-pixel bitmap limit and was "
                      "scaled down; use --collapse, or write .svg", stacklevel=3)
    return data


def _view(g: nx.DiGraph, view: View) -> nx.DiGraph:
    return block_graph(g) if view == "block" else g


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; a folder that is missing or unwritable is a user error."""
    try:
        write_bytes_atomic(path, data)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None


# --- GraphML ----------------------------------------------------------------------------------


def graphml_value(v: Any) -> str | int | float | None:
    """A GraphML-safe value: bools as 0/1, tuples/lists/dicts as JSON text, None dropped (returns None)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float, str)):
        return v
    return json.dumps(v)


def graphml_safe(g: nx.DiGraph) -> nx.DiGraph:
    """A copy of ``g`` whose graph, node and edge attributes GraphML can hold.

    Absent attributes read back as missing, which is how GraphML says None.
    Shapes read back as JSON text: ``json.loads(node["shape"]) == [64, 56, 56]``.
    """

    def clean(d: dict[str, Any]) -> dict[str, Any]:
        return {k: c for k, v in d.items() if (c := graphml_value(v)) is not None}

    h = nx.DiGraph(**clean(g.graph))
    h.add_nodes_from((n, clean(a)) for n, a in g.nodes(data=True))
    h.add_edges_from((u, v, clean(e)) for u, v, e in g.edges(data=True))
    return h


def _graphml_bytes(g: nx.DiGraph) -> bytes:
    buf = io.BytesIO()
    nx.write_graphml(graphml_safe(g), buf)
    return buf.getvalue()


# --- DOT --------------------------------------------------------------------------------------


def _pydot() -> Any:
    try:
        import pydot
    except ModuleNotFoundError:
        raise UsageError("pydot is not installed; pip install 'resgraph[plot]' or write .graphml/.json") from None
    return pydot


def to_pydot(g: nx.DiGraph, view: View = "op", collapse: bool = False) -> pydot.Dot:
    """The DOT picture of ``g``: the op graph, or the block view with stages as clusters."""
    if PARAMS not in g.graph:
        run_passes(g)
    return _block_dot(block_graph(g), collapse) if view == "block" else _op_dot(g, collapse)


def _new_dot(name: str, title: str) -> pydot.Dot:
    pydot = _pydot()
    dot = pydot.Dot(graph_name=_id(name), graph_type="digraph", rankdir="TB", label=title, labelloc="t",
                    fontname=_FONT, fontsize="18", nodesep="0.25", ranksep="0.3")
    dot.set_node_defaults(shape="box", style="rounded,filled", fontname=_FONT, fontsize="11")
    dot.set_edge_defaults(fontname=_FONT, fontsize="9", arrowsize="0.6")
    return dot


def _id(name: str) -> str:
    return '"' + str(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cluster(name: str, label: str, **attrs: str) -> pydot.Cluster:
    """A DOT cluster (pydot prefixes the id with ``cluster_``; dots are not allowed in it)."""
    pydot = _pydot()
    style = {"fontname": _FONT, "fontsize": "12", "style": "rounded", "color": "#999999", "labeljust": "l"}
    return pydot.Cluster(re.sub(r"\W", "_", name), label=label, **(style | attrs))


def _shape_text(shape: Any) -> str:
    return "×".join(map(str, shape))


def _stage_title(g: nx.DiGraph, stage: int | None) -> str:
    n = g.graph.get("stages", 0)
    if stage == -1:
        return "stem"
    if stage is None or stage == n:
        return "head"
    return f"layer{stage + 1}"


def _op_label(n: str, a: dict[str, Any]) -> str:
    op = OPS[a["op"]]
    if op.name == "add":
        return "+"
    text = op.label(a)
    head = n if text == n else f"{n}\n{text}"
    return f"{head}\n{_shape_text(a[SHAPE])}" if SHAPE in a else head


def repeats(g: nx.DiGraph, least: int = MIN_RUN) -> list[list[str]]:
    """Runs of consecutive identical blocks (same kind, label, shortcut, channels, stride, stage) of ``least``
    or more: what ``--collapse`` draws once. Stage heads differ from the rest, so a run starts after them."""
    return _runs(g.graph.get("blocks", []), least)


def _runs(infos: Any, least: int = MIN_RUN) -> list[list[str]]:
    runs: list[list[str]] = []
    last: tuple[Any, ...] | None = None
    for b in infos:
        # Options are a stage's, so within a stage these say two blocks are the same.
        sig = (b["stage"], b["type"], b.get("attention"), b["shortcut"], b["c_in"], b["c_out"], b["stride"])
        if sig == last:
            runs[-1].append(b["scope"])
        else:
            runs.append([b["scope"]])
        last = sig
    return [r for r in runs if len(r) >= least]


def _run_text(run: list[str]) -> str:
    return f"{run[1]} … {run[-1]}\n{len(run) - 1} more blocks like {run[0]}"


def _op_dot(g: nx.DiGraph, collapse: bool = False) -> pydot.Dot:
    pydot = _pydot()
    name = g.graph.get("name", "graph")
    dot = _new_dot(name, f"{name}: op graph · {human(g.graph[PARAMS])} params · {human(g.graph[MACS])} MACs")
    stages: dict[Any, Any] = {}
    blocks: dict[str, Any] = {}
    # --collapse: a run's blocks after its first become one placeholder node (a picture's, not the IR's).
    hidden: dict[str, str] = {}
    if collapse:
        for run in repeats(g):
            hide = set(run[1:])
            for n, b in g.nodes(data="block"):
                if b in hide:
                    hidden[n] = f"{run[1]}…{run[-1]}"
    placed: set[str] = set()
    for n, a in g.nodes(data=True):
        if n in hidden:
            pid = hidden[n]
            if pid not in placed:  # drawn where the run's first hidden op would have been
                placed.add(pid)
                run = next(r for r in repeats(g) if f"{r[1]}…{r[-1]}" == pid)
                stages[a.get("stage")].add_node(pydot.Node(_id(pid), label=_run_text(run), shape="box3d",
                                                           style="filled", fillcolor="#f3f3f3"))
            continue
        node = pydot.Node(_id(n), label=_op_label(n, a), fillcolor=OPS[a["op"]].colour)
        if len(OPS[a["op"]].label(a)) == 1:  # a join drawn as a symbol: + or ×
            node.set("shape", "circle")
            node.set("width", "0.3")
        if a["op"] in ("input", "output"):
            dot.add_node(node)
            continue
        stage = a.get("stage")
        if stage not in stages:
            stages[stage] = _cluster(_stage_title(g, stage), _stage_title(g, stage))
            dot.add_subgraph(stages[stage])
        parent = stages[stage]
        if a.get("block"):
            b = a["block"]
            if b not in blocks:
                blocks[b] = _cluster(b, b, style="rounded,dashed")
                parent.add_subgraph(blocks[b])
            parent = blocks[b]
        parent.add_node(node)
    kinds = {b["scope"]: b["shortcut"] for b in g.graph.get("blocks", [])}
    drawn: set[tuple[str, str]] = set()
    for u, v, e in g.edges(data=True):
        pu, pv = hidden.get(u, u), hidden.get(v, v)
        if pu == pv or (pu, pv) in drawn:
            continue
        drawn.add((pu, pv))
        edge = pydot.Edge(_id(pu), _id(pv))
        if v in hidden:
            dot.add_edge(edge)
            continue
        a = g.nodes[v]
        into_add = a["op"] == "add" and e.get("port") == 1
        if into_add or a.get("role") == "shortcut":  # the shortcut path, styled by its kind
            colour, style, _ = shortcut_edge(kinds.get(a.get("block"), "identity")) or IDENTITY[2]
            edge.set("color", colour)
            edge.set("style", style)
            if into_add:
                edge.set("label", "x")
        dot.add_edge(edge)
    ops = list(dict.fromkeys(a["op"] for n, a in g.nodes(data=True) if n not in hidden))
    dot.add_node(pydot.Node("legend", shape="plain", style="", label=_op_legend(ops)))
    return dot


def _op_legend(ops: list[str]) -> str:
    """An HTML-like table of the fill colour of each op present, from the op table."""
    rows = "".join(
        f'<TR><TD BGCOLOR="{OPS[op].colour}">{op}</TD><TD ALIGN="LEFT">{_html(OPS[op].doc.replace("``", ""))}</TD></TR>'
        for op in ops
        if op not in ("input", "output")
    )
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">{rows}</TABLE>>'


def _block_dot(bg: nx.DiGraph, collapse: bool = False) -> pydot.Dot:
    pydot = _pydot()
    name = bg.graph.get("name", "graph")
    total_p = sum(a[PARAMS] for _, a in bg.nodes(data=True))
    total_m = sum(a[MACS] for _, a in bg.nodes(data=True))
    dot = _new_dot(name, f"{name}: residual blocks · {human(total_p)} params · {human(total_m)} MACs")
    clusters: dict[Any, Any] = {}
    order = list(bg)
    hidden: dict[str, str] = {}
    if collapse:  # a run's blocks after its first become one node
        for run in _runs(bg.nodes[n] for n in order if bg.nodes[n]["kind"] == "block"):
            hidden.update({s: f"{run[1]}…{run[-1]}" for s in run[1:]})
    placed: set[str] = set()
    for n in order:
        a = bg.nodes[n]
        if n in hidden:
            pid = hidden[n]
            if pid not in placed:
                placed.add(pid)
                members = [m for m in order if hidden.get(m) == pid]
                p_sum = sum(bg.nodes[m][PARAMS] for m in members)
                m_sum = sum(bg.nodes[m][MACS] for m in members)
                label = (f"{members[0]} … {members[-1]}\n{len(members)} more blocks like the one above\n"
                         f"{human(p_sum)} params · {human(m_sum)} MACs in all")
                clusters[a["stage"]].add_node(pydot.Node(_id(pid), label=label, shape="box3d", style="filled",
                                                         fillcolor=BLOCKS[a["type"]].colour))
            continue
        fill = BLOCKS[a["type"]].colour if a["kind"] == "block" else (
            STEMS[bg.graph["stem"]].colour if a["kind"] == "stem" and bg.graph.get("stem") else "#ead1dc")
        label = f"{a['label']}\n{a['out']} · {human(a[PARAMS])} params · {human(a[MACS])} MACs"
        node = pydot.Node(_id(n), label=label, fillcolor=fill)
        if a.get("attention"):  # the gate in its branch: an outline in the attention kind's colour
            node.set("color", ATTENTION[a["attention"]].colour)
            node.set("penwidth", "3")
        if a["kind"] != "block":
            dot.add_node(node)
            continue
        stage = a["stage"]
        if stage not in clusters:
            members = [m for m in order if bg.nodes[m].get("kind") == "block" and bg.nodes[m]["stage"] == stage]
            out = _shape_text(bg.nodes[members[-1]][SHAPE])
            clusters[stage] = _cluster(f"layer{stage + 1}",
                                       f"layer{stage + 1} · {len(members)} blocks · out {out}")
            dot.add_subgraph(clusters[stage])
        clusters[stage].add_node(node)
    for u, v in bg.edges:
        a = bg.nodes[v]
        pu, pv = hidden.get(u, u), hidden.get(v, v)
        if pu == pv:
            continue
        dot.add_edge(pydot.Edge(_id(pu), _id(pv), weight="10"))
        if v in hidden:
            continue
        edge = shortcut_edge(a["shortcut"]) if a["kind"] == "block" else None
        if edge is not None:
            # The shortcut leaves the same tensor as the branch and joins at the block's add:
            # drawn as a second, styled edge so each block's kind is visible at a glance.
            colour, style, text = edge
            dot.add_edge(pydot.Edge(_id(pu), _id(pv), color=colour, style=style, xlabel=text, fontcolor=colour,
                                    tailport="e", headport="e", constraint="false"))
    blocks = [a for _, a in bg.nodes(data=True) if a["kind"] == "block"]
    types = list(dict.fromkeys(a["type"] for a in blocks))
    shortcuts = list(dict.fromkeys(a["shortcut"] for a in blocks))
    attention = list(dict.fromkeys(a["attention"] for a in blocks if a.get("attention")))
    dot.add_node(pydot.Node("legend", shape="plain", style="", label=_legend(types, shortcuts, attention)))
    return dot


def _legend(types: list[str], shortcuts: list[str], attention: list[str]) -> str:
    """An HTML-like table: the fill of each block type, the outline of each attention kind and the edge and
    colour of each shortcut kind present, all from their registrations."""
    rows = [f'<TR><TD BGCOLOR="{BLOCKS[t].colour}">{BLOCKS[t].label} block</TD><TD></TD></TR>' for t in types]
    rows += [f'<TR><TD BGCOLOR="{ATTENTION[a].colour}">{ATTENTION[a].label} in the branch (outline)</TD><TD></TD></TR>'
             for a in attention]
    for k in shortcuts:
        edge = shortcut_edge(k)
        drawn = f'<FONT COLOR="{edge[0]}">{"- - - dashed" if edge[1] == "dashed" else "━━"} {edge[2]}</FONT>' \
            if edge else "no edge"
        fill = {"identity": IDENTITY[1], "none": PLAIN[1]}.get(k) or SHORTCUTS[k].colour
        rows.append(f'<TR><TD BGCOLOR="{fill}">shortcut: {_html(shortcut_text(k))}</TD><TD>{drawn}</TD></TR>')
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{"".join(rows)}</TABLE>>'


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
