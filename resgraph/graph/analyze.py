"""A typed summary of an annotated graph: totals and one row per stage (stem, layer1..N, head)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import networkx as nx

from resgraph.graph.ir import ACT_BYTES, MACS, PARAMS, SHAPE
from resgraph.graph.passes import DEPTH, run_passes, topo_order
from resgraph.kinds import STEMS
from resgraph.precision import PRECISIONS

# Bytes per activation element by precision (resgraph.precision's table), for --dtype.
DTYPE_BYTES: dict[str, int] = {name: p.bytes for name, p in PRECISIONS.items()}


@dataclass(frozen=True)
class StageSummary:
    """One row of the per-stage table; ``index`` is -1 for the stem, the stage index, or N for the head."""

    index: int
    name: str                      # "stem", "layer1", ..., "head"
    blocks: int                    # residual blocks (0 for stem and head)
    output_shape: tuple[int, ...]  # of one image, leaving the stage
    params: int
    macs: int
    activations_bytes: int
    block: str = ""                # its blocks' type (and attention): "bottleneck + SE"; the stem's kind
    shortcut: str = ""             # options that emitted a shortcut path ("B"), "identity", or "none" (plain)


@dataclass(frozen=True)
class GraphSummary:
    """Totals of a network; the stage rows add up to them."""

    name: str
    params: int
    macs: int                      # multiply-accumulates of conv + linear, one image
    depth: int                     # weighted layers on the longest path
    activations_bytes: int         # sum of every op's output (input/output excluded) at batch, dtype
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    stages: list[StageSummary]
    batch: int = 1
    dtype_bytes: int = 4
    block: str = ""                # block types (and attention): "bottleneck + ECA"
    stem: str = ""                 # the stem's registered kind: "deep"
    shortcut: str = ""             # options that emitted a shortcut path ("D"), "identity", or "none" (plain)

    @property
    def design(self) -> str:
        """One line naming the design: "bottleneck + ECA, deep stem, shortcut D"."""
        sc = "no shortcuts (plain)" if self.shortcut == "none" else f"shortcut {self.shortcut}"
        return ", ".join(p for p in (self.block, f"{self.stem} stem" if self.stem else "", sc) if p)

    @property
    def blocks(self) -> int:
        return sum(s.blocks for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: exact integers, shapes as lists."""
        d = asdict(self) | {"design": self.design}
        d["input_shape"], d["output_shape"] = list(self.input_shape), list(self.output_shape)
        for s in d["stages"]:
            s["output_shape"] = list(s["output_shape"])
        return d


def _stage_key(stage: int | None, n_stages: int) -> int:
    return n_stages if stage is None else stage


def _stage_name(index: int, n_stages: int) -> str:
    return "stem" if index < 0 else "head" if index == n_stages else f"layer{index + 1}"


def analyze(g: nx.DiGraph, batch: int = 1, dtype_bytes: int = 4) -> GraphSummary:
    """Run every pass on ``g`` (annotating it in place) and summarise it per stage."""
    run_passes(g, batch, dtype_bytes)
    n_stages = g.graph["stages"]
    rows: dict[int, dict[str, Any]] = {}
    out_node = in_node = None
    for n in topo_order(g):
        a = g.nodes[n]
        if a["op"] in ("input", "output"):
            in_node, out_node = (n, out_node) if a["op"] == "input" else (in_node, n)
            continue
        key = _stage_key(a.get("stage"), n_stages)
        r = rows.setdefault(key, {"params": 0, "macs": 0, "act": 0})
        r["params"] += a[PARAMS]
        r["macs"] += a[MACS]
        r["act"] += a[ACT_BYTES]
        r["last"] = n  # the stage's output: its last op in topological order
    infos = g.graph.get("blocks", [])
    stem = STEMS[g.graph["stem"]].label if "stem" in g.graph else ""
    stages = [StageSummary(i, _stage_name(i, n_stages), sum(b["stage"] == i for b in infos),
                           tuple(g.nodes[r["last"]][SHAPE]), r["params"], r["macs"], r["act"],
                           stem if i < 0 else _joined(b["label"] for b in infos if b["stage"] == i),
                           _shortcuts(b["shortcut"] for b in infos if b["stage"] == i))
              for i, r in sorted(rows.items())]
    assert in_node is not None and out_node is not None  # lint guarantees both
    return GraphSummary(
        name=g.graph.get("name", ""), params=g.graph[PARAMS], macs=g.graph[MACS], depth=g.graph[DEPTH],
        activations_bytes=g.graph[ACT_BYTES], input_shape=tuple(g.nodes[in_node][SHAPE]),
        output_shape=tuple(g.nodes[out_node][SHAPE]), stages=stages, batch=batch, dtype_bytes=dtype_bytes,
        block=_joined(b["label"] for b in infos), stem=g.graph.get("stem", ""),
        shortcut=_shortcuts(b["shortcut"] for b in infos))


def _joined(texts: Iterable[str]) -> str:
    return " / ".join(dict.fromkeys(texts))


def _shortcuts(kinds: Iterable[str]) -> str:
    """The options that emitted a path (identities implied), else "identity" or "none"."""
    seen = list(dict.fromkeys(kinds))
    options = [k for k in seen if k not in ("identity", "none")]
    return " / ".join(options) if options else " / ".join(seen)
