"""Compile a validated spec into the networkx IR (see :mod:`resgraph.graph.ir`).

The compiler walks stem, stages and head and hands each part to its registered
kind (:mod:`resgraph.kinds`): it knows no block type, shortcut option or stem
by name. Node ids are the anchor library's module names (torchvision's, or
timm's ``resnetv2`` for pre-activation blocks). A pure function of the spec;
no torch import.
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
    b = _builder(spec)
    x = b.add("input", "input", [], shape=(spec.input.channels, *spec.input.hw))
    x, c = _stem(b, spec, x)
    for site in block_sites(spec):
        b.stage = site.stage
        x, c = _block(b, spec, site, x, c)
    x = _head(b, spec, x, c)
    b.add("output", "output", [x])
    return b.g


def short_spec(spec: ResNetSpec) -> ResNetSpec:
    """``spec`` with at most two blocks a stage: every later block of a stage repeats the second one exactly.

    What the size guard and the latency model compile, so a 10,000-block spec costs what a 20-block one does.
    """
    return spec.model_copy(update={"stages": [s.model_copy(update={"blocks": min(s.blocks, 2)})
                                              for s in spec.stages]})


class Site(NamedTuple):
    """Where a block sits and what its place decides: its stride and its drop-path rate."""

    stage: int
    block: int  # its index in its stage
    stride: int  # the stage's stride for its first block, 1 after
    rate: float  # drop-path rate


def block_sites(spec: ResNetSpec) -> list[Site]:
    """Every block's site, in order."""
    total = sum(s.blocks for s in spec.stages)
    sites = [(i, j, stage.stride if j == 0 else 1) for i, stage in enumerate(spec.stages) for j in range(stage.blocks)]
    # Stochastic depth, linear in depth (timm's rule): 0 for the first block, the rate for the last.
    return [Site(i, j, stride, spec.drop_path * n / max(total - 1, 1)) for n, (i, j, stride) in enumerate(sites)]


Part = Site | str  # "stem", "head", or a block's site


def part_graph(spec: ResNetSpec, part: Part, input_shape: tuple[int, ...]) -> nx.DiGraph:
    """One part of ``compile_spec(spec)`` alone, from an input of ``input_shape`` (C, H, W) to an output.

    Its ops are the ones :func:`compile_spec` emits for that part (the same code emits them), so its
    passes count the same and its segment has the same signature: what lets the latency model compile
    each distinct stem, block and head once instead of every spec whole.
    """
    b = _builder(spec)
    x = b.add("input", "input", [], shape=tuple(input_shape))
    if isinstance(part, Site):
        b.stage = part.stage
        x, _ = _block(b, spec, part, x, int(input_shape[0]))
    elif part in ("stem", "head"):
        x = _stem(b, spec, x)[0] if part == "stem" else _head(b, spec, x, int(input_shape[0]))
    else:
        raise ValueError(f"part {part!r}: expected 'stem', 'head' or a Site")
    b.add("output", "output", [x])
    return b.g


def _builder(spec: ResNetSpec) -> Builder:
    b = Builder()
    b.g.graph.update(name=spec.name, input_shape=(spec.input.channels, *spec.input.hw), residual=spec.residual,
                     stages=len(spec.stages), layout=layout_of(spec).name, stem=spec.stem.type, blocks=[])
    return b


def _stem(b: Builder, spec: ResNetSpec, x: str) -> tuple[str, int]:
    """The stem's ops after ``x`` (stage -1); returns (output node, channels).

    It reads the spec's ``stem`` and ``input`` and its layout, nothing else (the part cache keys a stem by these).
    """
    stem = STEMS[spec.stem.type]
    b.stage, b.block = -1, None
    x = layout_of(spec).stem(b, x, spec.input.channels, stem.convs(spec.stem), stem.pool)
    return x, stem.out_channels(spec.stem)


def _head(b: Builder, spec: ResNetSpec, x: str, c: int) -> str:
    """The head's ops after ``x`` (no stage, no block); returns the logits node.

    It reads the spec's ``head`` and its layout, and ``c`` (the part cache keys a head by these and its input).
    """
    b.stage, b.block = None, None
    return layout_of(spec).head(b, x, c, spec.head.classes)


def _block(b: Builder, spec: ResNetSpec, site: Site, x: str, c_in: int) -> tuple[str, int]:
    """The block at ``site`` (or its plain twin); returns (output node, channels).

    What it reads is the spec's fields, its stage's but ``blocks``, the site's stride and rate, and its
    input (the latency model's part cache keys each block by exactly these).
    """
    i, j, stride, rate = site
    opts = spec.stage_block(i)
    kind = BLOCKS[opts.type]
    layout = kind.layout
    width = spec.stages[i].width
    c_out = kind.out_channels(width, opts)
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
