"""The block-level view: one node per residual block, plus ``stem`` and ``head``, in a chain.

Each block node carries its :class:`~resgraph.graph.ir.BlockInfo` fields (scope,
type, label, shortcut kind, c_in, c_out, stride) and the sums of its ops'
``params`` and ``macs``, its output ``shape`` and a human ``label``. Texts and
colours of block types and shortcut options come from their registrations.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from resgraph.graph.ir import MACS, PARAMS, SHAPE
from resgraph.graph.ops import OPS
from resgraph.graph.passes import run_passes, topo_order
from resgraph.kinds import SHORTCUTS
from resgraph.kinds.base import IDENTITY, PLAIN


def shortcut_text(kind: str) -> str:
    """Display text of a block's shortcut: a registered option's label, the identity, or none (plain)."""
    if kind == "identity":
        return IDENTITY[0]
    if kind == "none":
        return PLAIN[0]
    return SHORTCUTS[kind].label


def block_graph(g: nx.DiGraph) -> nx.DiGraph:
    """Collapse the annotated op graph ``g`` (passes run if missing) to stem -> blocks -> head."""
    if PARAMS not in g.graph:
        run_passes(g)
    groups: dict[str, list[str]] = {}
    for n in topo_order(g):
        a = g.nodes[n]
        if a["op"] in ("input", "output"):
            continue
        key = a.get("block") or ("stem" if a.get("stage") == -1 else "head")
        groups.setdefault(key, []).append(n)
    bg = nx.DiGraph(name=g.graph.get("name", ""), view="block", input_shape=g.graph.get("input_shape"),
                    stages=g.graph.get("stages"), stem=g.graph.get("stem"))
    blocks = {b["scope"]: b for b in g.graph.get("blocks", [])}
    prev = None
    for key, members in groups.items():
        attrs = _totals(g, members)
        if key in blocks:
            info = blocks[key]
            attrs |= {"kind": "block", **info}
            attrs["label"] = (f"{key} · {info['label']} · {info['c_in']}→{info['c_out']}, stride {info['stride']}"
                              f"\nshortcut: {shortcut_text(info['shortcut'])}")
        else:
            attrs |= {"kind": key, "scope": key, "stage": -1 if key == "stem" else g.graph.get("stages"),
                      "label": f"{key}\n{_ops_text(g, members)}"}
        attrs["out"] = f"out {'×'.join(map(str, attrs[SHAPE]))}"
        bg.add_node(key, **attrs)
        if prev is not None:
            bg.add_edge(prev, key)
        prev = key
    return bg


def _totals(g: nx.DiGraph, members: list[str]) -> dict[str, Any]:
    nodes = g.nodes
    return {PARAMS: sum(nodes[n][PARAMS] for n in members), MACS: sum(nodes[n][MACS] for n in members),
            SHAPE: tuple(nodes[members[-1]][SHAPE])}


def _ops_text(g: nx.DiGraph, members: list[str]) -> str:
    """``conv 7x7/2, 3→64 → bn → relu → maxpool 3x3/2`` for the stem; ``avgpool → linear 512→1000`` for the head."""
    labels = (OPS[g.nodes[n]["op"]].label(g.nodes[n]) for n in members if g.nodes[n]["op"] != "flatten")
    return " → ".join(labels)
