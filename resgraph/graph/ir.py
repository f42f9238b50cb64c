"""The intermediate representation: a ``networkx.DiGraph`` with one node per op.

Closed vocabulary of ops (``node["op"]``) and the attributes each carries:

=============  ==================================================================
op             attributes (besides the common ones)
=============  ==================================================================
``input``      ``shape``: (C, H, W) of one image
``conv``       ``c_in``, ``c_out``, ``kernel``, ``stride``, ``padding``, ``groups``, ``bias``
``bn``         ``c_in`` = ``c_out`` = channels, ``zero_init`` (last BN of a block
               under ``zero_init_residual``)
``relu``       -
``maxpool``    ``kernel``, ``stride``, ``padding``
``avgpool``    global average pool to 1x1
``shortcut_a`` option A: zero-pad channels ``c_in`` -> ``c_out`` (identity channels
               first) and subsample ``x[:, :, ::stride, ::stride]``; parameter-free
``add``        two operands, ordered by the edge attribute ``port``:
               0 = residual branch F(x), 1 = shortcut x (torchvision's ``out += identity``)
``flatten``    (N, C, 1, 1) -> (N, C)
``linear``     ``c_in``, ``c_out``, ``bias``
``output``     -
=============  ==================================================================

Common attributes: ``op``; ``scope`` (the hierarchical module name, torchvision's
for the ImageNet presets: ``conv1``, ``layer2.0.downsample.0``, ``fc``; it is also
the node id); ``block`` (the residual block's scope, e.g. ``layer1.0``, or None
outside blocks); ``stage`` (index into ``spec.stages``; -1 for the stem, None for
the head); ``role`` (``branch``, ``shortcut`` or ``trunk``).

Every edge has ``port`` (operand index of its target). Graph-level attributes:
``name``, ``input_shape`` (C, H, W), ``blocks`` (a list of :class:`BlockInfo`
dicts in order), ``stages`` (number of stages), ``residual``.

Passes add, under fixed keys: ``shape`` (output shape of one image), ``params``,
``macs``, ``act_bytes`` (see :mod:`resgraph.graph.passes`).
"""

from __future__ import annotations

from typing import Literal, TypedDict

import networkx as nx

Op = Literal["input", "conv", "bn", "relu", "maxpool", "avgpool", "shortcut_a", "add", "flatten", "linear", "output"]
OPS: frozenset[str] = frozenset(Op.__args__)  # type: ignore[attr-defined]
WEIGHTED_OPS: frozenset[str] = frozenset({"conv", "linear"})

# Keys written by passes.
SHAPE = "shape"
PARAMS = "params"
MACS = "macs"
ACT_BYTES = "act_bytes"

ShortcutKind = Literal["identity", "A", "projection", "none"]


class BlockInfo(TypedDict):
    """One residual (or plain) block, for block-level views and summaries."""

    scope: str          # e.g. "layer1.0"
    stage: int          # index into spec.stages
    index: int          # block index within the stage
    type: str           # "basic" | "bottleneck"
    shortcut: ShortcutKind  # "projection" is option B's downsample or any option C shortcut
    c_in: int
    c_out: int
    stride: int


def ops_in_order(g: nx.DiGraph) -> list[str]:
    """Node ids in a deterministic topological order (the order they were added, where free)."""
    order = {n: i for i, n in enumerate(g.nodes)}
    return list(nx.lexicographical_topological_sort(g, key=order.__getitem__))


def operands(g: nx.DiGraph, node: str) -> list[str]:
    """Predecessors of ``node`` ordered by edge ``port``."""
    return sorted(g.predecessors(node), key=lambda p: g.edges[p, node]["port"])
