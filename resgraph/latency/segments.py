"""A network as the latency model sees it: a stem, residual blocks and a head, each a *segment* with a signature.

A segment is every IR op of one block (or of the stem, or of the head). Two segments with the same
signature are the same computation on the same shapes: identical ops, attributes, wiring and input
shape. A ResNet-50 has 18 segments but only 10 signatures (blocks after the first of a stage repeat),
and the bundled presets share most of theirs. A segment is the unit a profile times, because a runtime
fuses inside a block (conv + BN + ReLU, the add into the last conv) but not across the graph's
residual joins in ways a per-op table would capture. Torch-free: predicting needs no module.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple

import networkx as nx

from resgraph.graph.ir import ACT_BYTES, MACS, PARAMS, SHAPE, operands, ops_in_order
from resgraph.graph.passes import run_passes

__all__ = ["FEATURES", "Segment", "network_segments", "segment_graph"]

# Attributes that name a node rather than say what it computes.
_NAMES = {"scope", "block", "stage", "role", SHAPE, PARAMS, MACS, ACT_BYTES, "init", "zero_init"}
# Numeric features of a segment, in the order the regression sees them (kind columns are added per profile).
FEATURES = ("log_macs", "log_params", "log_act", "c_in", "c_out", "h_in", "stride", "ops", "convs", "batch")


class Segment(NamedTuple):
    """One stem, block or head of a network, as its signature, what it is, and what it costs.

    A named tuple, not a dataclass: a prediction places each repeated block at its own scope with
    ``_replace``, tens of thousands of times for a thousand specs, and a tuple's is the cheap one.
    """

    signature: str  # hash of ops, attributes, wiring and input shape: same signature, same computation
    part: str  # "stem", "block" or "head"
    kind: str  # "stem:imagenet", "block:bottleneck+se/B", "head"
    scope: str  # where it sits in this network ("layer2.0", "stem", "head")
    stage: int  # stage index (-1: stem; the number of stages: head)
    input_shape: tuple[int, ...]  # C, H, W of one image entering it
    c_in: int
    c_out: int
    stride: int
    macs: int  # multiply-adds per image
    params: int
    act_bytes: int  # fp32 bytes of its outputs, per image
    ops: int
    convs: int

    def features(self, batch: int) -> dict[str, float]:
        """The numbers a regression predicts an unmeasured segment's latency from."""
        import math

        return {"log_macs": math.log1p(self.macs * batch), "log_params": math.log1p(self.params),
                "log_act": math.log1p(self.act_bytes * batch), "c_in": self.c_in, "c_out": self.c_out,
                "h_in": self.input_shape[1] if len(self.input_shape) > 1 else 1, "stride": self.stride,
                "ops": self.ops, "convs": self.convs, "batch": batch}


def _part(a: dict[str, Any]) -> tuple[str, str]:
    """(part, scope) of a node: its block, else the stem (stage -1), else the head."""
    if a.get("block"):
        return "block", str(a["block"])
    return ("stem", "stem") if a.get("stage") == -1 else ("head", "head")


def network_segments(g: nx.DiGraph) -> list[Segment]:
    """The segments of a compiled network in order, with counts (runs the graph's passes if needed)."""
    if g.graph.get(MACS) is None:
        run_passes(g)
    order = [n for n in ops_in_order(g) if g.nodes[n]["op"] not in ("input", "output")]
    groups: dict[str, list[str]] = {}
    parts: dict[str, str] = {}
    for n in order:
        part, scope = _part(g.nodes[n])
        groups.setdefault(scope, []).append(n)
        parts[scope] = part
    infos = {b["scope"]: b for b in g.graph.get("blocks", [])}
    n_stages = int(g.graph.get("stages", 0))
    out = []
    for scope, nodes in groups.items():
        entry = _entry(g, nodes)
        shape = tuple(g.nodes[entry][SHAPE])
        last = g.nodes[nodes[-1]][SHAPE]
        info = infos.get(scope)
        if info is not None:
            label = info["type"] + (f"+{info['attention']}" if info["attention"] else "")
            kind, stage, stride = f"block:{label}/{info['shortcut']}", int(info["stage"]), int(info["stride"])
        elif parts[scope] == "stem":
            kind, stage, stride = f"stem:{g.graph.get('stem', '?')}", -1, max(1, shape[1] // max(1, last[1]))
        else:
            kind, stage, stride = "head", n_stages, 1
        out.append(Segment(
            signature=_signature(g, nodes, shape), part=parts[scope], kind=kind, scope=scope, stage=stage,
            input_shape=shape, c_in=int(shape[0]), c_out=int(last[0]), stride=stride,
            macs=sum(int(g.nodes[n][MACS]) for n in nodes), params=sum(int(g.nodes[n][PARAMS]) for n in nodes),
            act_bytes=sum(int(g.nodes[n][ACT_BYTES]) for n in nodes), ops=len(nodes),
            convs=sum(g.nodes[n]["op"] == "conv" for n in nodes)))
    return out


def _entry(g: nx.DiGraph, nodes: list[str]) -> str:
    """The node outside the segment whose output enters it (a segment has exactly one)."""
    inside = set(nodes)
    outside = {p for n in nodes for p in g.predecessors(n) if p not in inside}
    if len(outside) != 1:
        raise ValueError(f"segment {nodes[0]!r}..: expected one input from outside it, found {sorted(outside)}")
    return outside.pop()


def _signature(g: nx.DiGraph, nodes: list[str], shape: tuple[int, ...]) -> str:
    """A hash of what the segment computes: each op with its attributes and operand positions, and the input shape."""
    index = {n: i for i, n in enumerate(nodes)}
    body = [(g.nodes[n]["op"], sorted((k, v) for k, v in g.nodes[n].items() if k not in _NAMES),
             [index.get(p, -1) for p in operands(g, n)]) for n in nodes]
    text = json.dumps([list(shape), body], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def segment_graph(g: nx.DiGraph, seg: Segment) -> nx.DiGraph:
    """The segment on its own, as an IR graph with an input and an output: what a profile lowers and times."""
    nodes = [n for n in ops_in_order(g) if g.nodes[n]["op"] not in ("input", "output")
             and _part(g.nodes[n])[1] == seg.scope]
    entry = _entry(g, nodes)
    sub = nx.DiGraph(**{k: v for k, v in g.graph.items() if k not in (PARAMS, MACS, ACT_BYTES)})
    sub.graph["name"] = f"segment_{seg.signature}"
    sub.graph["input_shape"] = seg.input_shape
    sub.graph["blocks"] = [b for b in g.graph.get("blocks", []) if b["scope"] == seg.scope]
    sub.add_node("input", op="input", scope="input", block=None, stage=-1, role="trunk", shape=seg.input_shape)
    for n in nodes:
        sub.add_node(n, **{k: v for k, v in g.nodes[n].items() if k not in (SHAPE, PARAMS, MACS, ACT_BYTES)})
    for n in nodes:
        for p in g.predecessors(n):
            sub.add_edge("input" if p == entry else p, n, **g.edges[p, n])
    sub.add_node("output", op="output", scope="output", block=None, stage=None, role="trunk")
    sub.add_edge(nodes[-1], "output", port=0)
    return sub
