"""Compile a validated spec into the networkx IR (see :mod:`resgraph.graph.ir`).

The compiler walks stem, stages and head and hands each part to its registered
kind (:mod:`resgraph.kinds`): it knows no block type, shortcut option or stem
by name. Node ids are the anchor library's module names (torchvision's, or
timm's ``resnetv2`` for pre-activation blocks). A pure function of the spec;
no torch import.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from resgraph.graph.builder import Builder
from resgraph.graph.ir import BlockInfo
from resgraph.kinds import BLOCKS, SHORTCUTS, STEMS
from resgraph.kinds.base import BlockContext
from resgraph.kinds.layouts import Layout
from resgraph.spec.model import ResNetSpec


def layout_of(spec: ResNetSpec) -> Layout:
    """The module-name layout of ``spec``: its first stage's block type's (checks make them agree)."""
    return spec.stage_kind(0).layout


def compile_spec(spec: ResNetSpec) -> nx.DiGraph:
    """The op-level graph of ``spec``; node ids are the anchor library's module scopes."""
    b = Builder()
    layout = layout_of(spec)
    c, h, w = spec.input.channels, *spec.input.hw
    b.g.graph.update(name=spec.name, input_shape=(c, h, w), residual=spec.residual, stages=len(spec.stages),
                     layout=layout.name, stem=spec.stem.type, blocks=[])
    x = b.add("input", "input", [], shape=(c, h, w))
    stem = STEMS[spec.stem.type]
    x = layout.stem(b, x, c, stem.convs(spec.stem), stem.pool)
    c = stem.out_channels(spec.stem)
    total = sum(s.blocks for s in spec.stages)
    n = 0
    for i, stage in enumerate(spec.stages):
        b.stage = i
        for j in range(stage.blocks):
            # Stochastic depth, linear in depth (timm's rule): 0 for the first block, the rate for the last.
            rate = spec.drop_path * n / max(total - 1, 1)
            x, c = _block(b, spec, i, j, x, c, rate)
            n += 1
    b.stage, b.block = None, None
    x = layout.head(b, x, c, spec.head.classes)
    b.add("output", "output", [x])
    return b.g


def _block(b: Builder, spec: ResNetSpec, i: int, j: int, x: str, c_in: int, rate: float) -> tuple[str, int]:
    """Block ``j`` of stage ``i`` (or its plain twin); returns (output node, channels)."""
    opts = spec.stage_block(i)
    kind = BLOCKS[opts.type]
    layout = kind.layout
    width = spec.stages[i].width
    c_out = kind.out_channels(width, opts)
    stride = spec.stages[i].stride if j == 0 else 1
    scope = layout.block_scope(i, j)
    b.block = scope
    shortcut = SHORTCUTS[spec.stage_shortcut(i)] if spec.residual else None
    k = BlockContext(b, scope, x, c_in, c_out, width, stride, spec.zero_init_residual and spec.residual, shortcut,
                     layout)
    y = kind.emit(k, opts)
    if not k.shortcut_kind:  # the block left the shortcut to the end: it leaves the block's input
        k.shortcut()
    if k.shortcut_node is not None:
        attrs: dict[str, Any] = {"drop_path": rate} if rate else {}
        y = b.add(f"{scope}.add", "add", [y, k.shortcut_node], **attrs)
    if kind.out_act:
        y = b.relu(f"{scope}.{kind.out_act}", y)
    attention = getattr(opts, "attention", None)
    info: BlockInfo = {"scope": scope, "stage": i, "index": j, "type": kind.name, "label": kind.describe(opts),
                       "attention": attention.type if attention is not None else None,
                       "shortcut": k.shortcut_kind, "c_in": c_in, "c_out": c_out, "stride": stride}
    b.g.graph["blocks"].append(info)
    return y, c_out
