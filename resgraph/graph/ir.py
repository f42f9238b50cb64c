"""The intermediate representation: a ``networkx.DiGraph`` with one node per op.

The ops form a closed vocabulary (``node["op"]``), each described once in
:data:`resgraph.graph.ops.OPS`: its operands, attributes, shape rule, counts,
lint rule, label and colour (``docs/graph.md`` lists them); its lowering to
torch.fx is :data:`resgraph.lower.lowerings.LOWERINGS`'s entry.

Common attributes: ``op``; ``scope`` (the hierarchical module name, the anchor
library's: ``conv1``, ``layer2.0.downsample.0``, ``fc`` for torchvision/timm
ResNets, ``stages.1.blocks.0.norm1`` for timm's ResNetV2; it is also the node
id); ``block`` (the residual block's scope, or None outside blocks); ``stage``
(index into ``spec.stages``; -1 for the stem, None for the head); ``role``
(``trunk``, ``branch`` for the residual branch F, ``shortcut``, or
``attention`` for a gate inside the branch).

Every edge has ``port`` (operand index of its target). Graph-level attributes:
``name``, ``input_shape`` (C, H, W), ``layout`` (``resnet`` or ``resnetv2``),
``stem`` (its registered kind), ``blocks`` (a list of :class:`BlockInfo` dicts in order), ``stages`` (number of
stages), ``residual``.

Passes add, under fixed keys: ``shape`` (output shape of one image), ``params``,
``macs``, ``act_bytes`` (see :mod:`resgraph.graph.passes`).
"""

from __future__ import annotations

from typing import TypedDict

import networkx as nx

from resgraph.graph.ops import OPS

__all__ = ["ACT_BYTES", "BlockInfo", "MACS", "OPS", "PARAMS", "SHAPE", "operands", "ops_in_order"]

# Keys written by passes.
SHAPE = "shape"
PARAMS = "params"
MACS = "macs"
ACT_BYTES = "act_bytes"


class BlockInfo(TypedDict):
    """One residual (or plain) block, for block-level views and summaries."""

    scope: str          # e.g. "layer1.0"
    stage: int          # index into spec.stages
    index: int          # block index within the stage
    type: str           # the registered block type: "basic", "bottleneck", ...
    label: str          # its display text: "bottleneck + SE"
    attention: str | None  # the registered attention kind in its branch ("se"), or None
    shortcut: str       # the registered option that emitted ops ("A", "B", "C", "D"), "identity" or "none" (plain)
    c_in: int
    c_out: int
    stride: int


def ops_in_order(g: nx.DiGraph) -> list[str]:
    """Node ids in a deterministic topological order (the order they were added, where free)."""
    order = {n: i for i, n in enumerate(g.nodes)}
    # The compiler adds every node after its operands; then the insertion order is that sort's answer
    # (the smallest unemitted node always has its operands emitted), found in one pass over the edges.
    if all(order[u] < order[v] for u, v in g.edges):
        return list(order)
    return list(nx.lexicographical_topological_sort(g, key=order.__getitem__))


def operands(g: nx.DiGraph, node: str) -> list[str]:
    """Predecessors of ``node`` ordered by edge ``port``."""
    return sorted(g.predecessors(node), key=lambda p: g.edges[p, node]["port"])
