"""Load a spec for building: the spec package's loader and checks, then the graph's size guard.

The spec package validates fields and the rules between them; whether the
network it describes fits (parameters, feature maps) is counted on the compiled
graph (:mod:`resgraph.graph.size`). Every command that validates, compiles,
lowers, benchmarks or trains a spec loads it through these, so an oversized spec
is one diagnostic with its file, line and field path, as any other.
"""

from __future__ import annotations

from pathlib import Path

from resgraph.graph.size import check_size
from resgraph.spec import loader
from resgraph.spec.loader import LoadResult
from resgraph.spec.model import ResNetSpec
from resgraph.spec.source import Source

__all__ = ["check_ref", "load_spec", "validate_source"]

CHECKS = (check_size,)  # the graph's rules on a spec, after the spec's own


def load_spec(ref: str | Path | ResNetSpec) -> ResNetSpec:
    """:func:`resgraph.spec.load_spec` with the size guard: a spec that fits, or :class:`~resgraph.errors.SpecError`."""
    return loader.load_spec(ref, checks=CHECKS)


def check_ref(ref: str | Path) -> LoadResult:
    """:func:`resgraph.spec.check_ref` with the size guard: every diagnostic of ``ref``."""
    return loader.check_ref(ref, checks=CHECKS)


def validate_source(src: Source, ref: str = "<string>") -> LoadResult:
    """:func:`resgraph.spec.loader.validate_source` with the size guard."""
    return loader.validate_source(src, ref, checks=CHECKS)
