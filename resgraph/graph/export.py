"""Write a graph to a file chosen by extension: DOT, SVG/PNG (Graphviz), GraphML, node-link JSON.

Two views: ``op`` (the IR itself, one node per op, blocks and stages as
clusters) and ``block`` (:func:`~resgraph.graph.blockview.block_graph`). Files
are written atomically: a temporary file in the same directory, then
``os.replace``, so a failed export never leaves half a file behind.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx

from resgraph.atomic import write_bytes_atomic
from resgraph.errors import UsageError
from resgraph.units import human
from resgraph.graph.blockview import block_graph
from resgraph.graph.ir import MACS, PARAMS, SHAPE
from resgraph.graph.passes import run_passes

if TYPE_CHECKING:
    import pydot

View = Literal["op", "block"]
FORMATS: tuple[str, ...] = (".dot", ".svg", ".png", ".graphml", ".json")
RENDERED = frozenset({".svg", ".png"})

# Fill colours: ops by kind; blocks (and shortcut edges) by shortcut kind.
OP_COLOURS = {"conv": "#cfe2f3", "linear": "#cfe2f3", "bn": "#fff2cc", "relu": "#eeeeee", "add": "#d9ead3",
              "shortcut_a": "#fce5cd", "maxpool": "#ead1dc", "avgpool": "#ead1dc", "flatten": "#eeeeee",
              "input": "#ffffff", "output": "#ffffff"}
SHORTCUT_COLOURS = {"identity": "#ffffff", "A": "#fce5cd", "projection": "#cfe2f3", "none": "#f3f3f3"}
SHORTCUT_EDGES = {"identity": ("#888888", "dashed", ""), "A": ("#e69138", "bold", "A"),
                  "projection": ("#3d85c6", "bold", "proj")}
_EDGE_TEXT = {"identity": "- - - dashed", "A": "━━ orange, 'A'", "projection": "━━ blue, 'proj'",
              "none": "no edge"}
_FONT = "Helvetica"


def check_format(path: str | Path) -> str:
    """The lower-case extension of ``path`` if it is one we write; else a :class:`UsageError`."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        got = f"'{ext}'" if ext else "no extension"
        raise UsageError(f"{path}: cannot export to {got}; use one of {', '.join(FORMATS)}")
    return ext


def export_graph(g: nx.DiGraph, path: str | Path, view: View = "op") -> Path:
    """Write ``g`` (passes run if missing) to ``path`` in the format its extension names; returns the path."""
    path = Path(path)
    ext = check_format(path)
    if view not in ("op", "block"):
        raise UsageError(f"unknown view {view!r}; use 'op' or 'block'")
    if not path.parent.is_dir():
        raise UsageError(f"{path}: directory '{path.parent}' does not exist")
    if ext in RENDERED and shutil.which("dot") is None:
        raise UsageError("Graphviz 'dot' not found on PATH; install graphviz (apt-get install graphviz) "
                         "or write .dot/.graphml/.json")
    if PARAMS not in g.graph:
        run_passes(g)
    data: bytes
    if ext == ".graphml":
        data = _graphml_bytes(_view(g, view))
    elif ext == ".json":
        data = json.dumps(nx.node_link_data(_view(g, view), edges="edges"), indent=1).encode() + b"\n"
    else:
        dot = to_pydot(g, view)
        data = dot.to_string().encode() if ext == ".dot" else dot.create(prog="dot", format=ext[1:])
    write_atomic(path, data)
    return path


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


def to_pydot(g: nx.DiGraph, view: View = "op") -> "pydot.Dot":
    """The DOT picture of ``g``: the op graph, or the block view with stages as clusters."""
    if PARAMS not in g.graph:
        run_passes(g)
    return _block_dot(block_graph(g)) if view == "block" else _op_dot(g)


def _new_dot(name: str, title: str) -> "pydot.Dot":
    pydot = _pydot()
    dot = pydot.Dot(graph_name=_id(name), graph_type="digraph", rankdir="TB", label=title, labelloc="t",
                    fontname=_FONT, fontsize="18", nodesep="0.25", ranksep="0.3")
    dot.set_node_defaults(shape="box", style="rounded,filled", fontname=_FONT, fontsize="11")
    dot.set_edge_defaults(fontname=_FONT, fontsize="9", arrowsize="0.6")
    return dot


def _id(name: str) -> str:
    return '"' + str(name).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cluster(name: str, label: str, **attrs: str) -> "pydot.Cluster":
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
    op = a["op"]
    if op == "conv":
        head = f"{n}\nconv {a['kernel']}x{a['kernel']}/{a['stride']}, {a['c_in']}→{a['c_out']}"
        if a.get("groups", 1) > 1:
            head += f", g{a['groups']}"
    elif op == "maxpool":
        head = f"{n}\nmaxpool {a['kernel']}x{a['kernel']}/{a['stride']}"
    elif op == "shortcut_a":
        head = f"{n}\nA: pad {a['c_in']}→{a['c_out']}, ::{a['stride']}"
    elif op == "linear":
        head = f"{n}\nlinear {a['c_in']}→{a['c_out']}"
    elif op == "add":
        return "+"
    else:
        head = n if op == n else f"{n}\n{op}"
    return f"{head}\n{_shape_text(a[SHAPE])}" if SHAPE in a else head


def _op_dot(g: nx.DiGraph) -> "pydot.Dot":
    pydot = _pydot()
    name = g.graph.get("name", "graph")
    dot = _new_dot(name, f"{name}: op graph · {human(g.graph[PARAMS])} params · {human(g.graph[MACS])} MACs")
    stages: dict[Any, Any] = {}
    blocks: dict[str, Any] = {}
    for n, a in g.nodes(data=True):
        node = pydot.Node(_id(n), label=_op_label(n, a), fillcolor=OP_COLOURS.get(a["op"], "#ffffff"))
        if a["op"] == "add":
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
    for u, v, e in g.edges(data=True):
        edge = pydot.Edge(_id(u), _id(v))
        a = g.nodes[v]
        into_add = a["op"] == "add" and e.get("port") == 1
        if into_add or a.get("role") == "shortcut":  # the shortcut path, styled by its kind
            kind = kinds.get(a.get("block"), "identity")
            colour, style, _ = SHORTCUT_EDGES.get(kind, SHORTCUT_EDGES["identity"])
            edge.set("color", colour)
            edge.set("style", style)
            if into_add:
                edge.set("label", "x")
        dot.add_edge(edge)
    return dot


def _block_dot(bg: nx.DiGraph) -> "pydot.Dot":
    pydot = _pydot()
    name = bg.graph.get("name", "graph")
    total_p = sum(a[PARAMS] for _, a in bg.nodes(data=True))
    total_m = sum(a[MACS] for _, a in bg.nodes(data=True))
    dot = _new_dot(name, f"{name}: residual blocks · {human(total_p)} params · {human(total_m)} MACs")
    clusters: dict[Any, Any] = {}
    order = list(bg)
    for n in order:
        a = bg.nodes[n]
        fill = SHORTCUT_COLOURS[a["shortcut"]] if a["kind"] == "block" else "#ead1dc"
        label = f"{a['label']}\n{a['out']} · {human(a[PARAMS])} params · {human(a[MACS])} MACs"
        node = pydot.Node(_id(n), label=label, fillcolor=fill)
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
        dot.add_edge(pydot.Edge(_id(u), _id(v), weight="10"))
        if a["kind"] == "block" and a["shortcut"] in SHORTCUT_EDGES:
            # The shortcut leaves the same tensor as the branch and joins at the block's add:
            # drawn as a second, styled edge so each block's kind is visible at a glance.
            colour, style, text = SHORTCUT_EDGES[a["shortcut"]]
            dot.add_edge(pydot.Edge(_id(u), _id(v), color=colour, style=style, xlabel=text, fontcolor=colour,
                                    tailport="e", headport="e", constraint="false"))
    kinds = {a["shortcut"] for _, a in bg.nodes(data=True) if a["kind"] == "block"}
    dot.add_node(pydot.Node("legend", shape="plain", style="", label=_legend(kinds)))
    return dot


def _legend(kinds: set[str]) -> str:
    """An HTML-like table naming the fill colour and edge style of each shortcut kind present."""
    rows = "".join(
        f'<TR><TD BGCOLOR="{SHORTCUT_COLOURS[k]}">{text}</TD>'
        f'<TD><FONT COLOR="{SHORTCUT_EDGES.get(k, ("#000000",))[0]}">{_EDGE_TEXT.get(k, "")}</FONT></TD></TR>'
        for k, text in (("identity", "identity shortcut"), ("projection", "projection shortcut (1x1 conv + BN)"),
                        ("A", "option A shortcut (zero-pad + subsample)"), ("none", "plain block (no shortcut)"))
        if k in kinds)
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{rows}</TABLE>>'
