"""A spec's segments without compiling the spec: each distinct stem, block and head is compiled once, then reused.

Predicting needs only a network's segments (signature, kind, counts), and a design space's networks
share most of their parts: a search's 1,000 draws have a few hundred distinct blocks. So instead of
compiling every spec whole and running the graph passes on it, :class:`PartCache` compiles one part
at a time with the compiler's own code (:func:`resgraph.graph.compile.part_graph`), runs the same
passes on it, cuts the same segment (:func:`~resgraph.latency.segments.network_segments`), and keeps it
under a key of everything the compiler reads for that part. The segments are the ones
``network_segments(short_graph(spec))`` gives, field for field (tests/latency/test_parts.py checks it).
"""

from __future__ import annotations

from collections.abc import Hashable

from resgraph.graph.compile import Part, block_sites, layout_of, part_graph, short_spec
from resgraph.graph.ir import SHAPE
from resgraph.graph.passes import count_activations, count_macs, count_params, infer_shapes, lint
from resgraph.latency.segments import Segment, network_segments
from resgraph.spec.model import ResNetSpec

__all__ = ["PartCache", "compiled_segments"]

# Spec fields the compiler does not read for a part: the name, free text, and the stages (keyed one by one).
_NOT_PART = ("name", "description", "stages")


class PartCache:
    """Segments of specs' short networks (at most two blocks a stage), each distinct part compiled once."""

    def __init__(self, max_parts: int = 100_000) -> None:
        self._parts: dict[Hashable, tuple[Segment, tuple[int, ...]]] = {}
        self.max_parts = max_parts  # a bound on memory in a long search; past it the cache starts afresh

    def __len__(self) -> int:
        return len(self._parts)

    def short_segments(self, spec: ResNetSpec) -> tuple[list[Segment], dict[str, int]]:
        """The segments of ``short_spec(spec)`` in order, and each block segment's index in its stage."""
        short = short_spec(spec)
        # Every spec-level field but the name is part of a block's key: a field the compiler reads is never missed.
        common = tuple(v for k, v in short.__dict__.items() if k not in _NOT_PART)
        layout = layout_of(short)
        shape: tuple[int, ...] = (short.input.channels, *short.input.hw)
        segs: list[Segment] = []
        index: dict[str, int] = {}
        # A stem and a head read fewer fields than a block (``_stem``'s and ``_head``'s docstrings list them).
        seg, shape = self._part(short, "stem", shape, ("stem", layout.name, short.stem, short.input))
        segs.append(seg)
        for site in block_sites(short):
            # The stage's fields but the ones its site settles (the block count, the first block's stride),
            # and the site itself: a pre-activation projection's ``before`` attribute names its block's
            # scope, so the signature of such a block depends on where it sits.
            stage = tuple(v for k, v in short.stages[site.stage].__dict__.items() if k not in ("blocks", "stride"))
            seg, shape = self._part(short, site, shape, ("block", common, stage, site, shape))
            scope = layout.block_scope(site.stage, site.block)
            segs.append(seg._replace(scope=scope, stage=site.stage))
            index[scope] = site.block
        seg, _ = self._part(short, "head", shape, ("head", layout.name, short.head, shape))
        segs.append(seg._replace(stage=len(short.stages)))  # a head sits after however many stages
        return segs, index

    def _part(self, spec: ResNetSpec, part: Part, shape: tuple[int, ...],
              key: Hashable) -> tuple[Segment, tuple[int, ...]]:
        """(the part's segment, the shape it outputs), compiled and counted the first time its key is seen."""
        hit = self._parts.get(key)
        if hit is None:
            g = part_graph(spec, part, shape)
            lint(g, infer_shapes(g))  # the graph's passes, but depth: a segment needs shapes and counts only
            count_params(g)
            count_macs(g)
            count_activations(g)
            (seg,) = network_segments(g)
            hit = (seg, tuple(g.nodes["output"][SHAPE]))
            if len(self._parts) >= self.max_parts:
                self._parts.clear()
            self._parts[key] = hit
        return hit


def compiled_segments(spec: ResNetSpec) -> tuple[list[Segment], dict[str, int]]:
    """What :meth:`PartCache.short_segments` gives, the slow way: the short network compiled whole, then cut."""
    from resgraph.latency.profile import short_graph

    g = short_graph(spec)
    return network_segments(g), {b["scope"]: b["index"] for b in g.graph.get("blocks", [])}
