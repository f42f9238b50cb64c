"""resgraph: a ResNet spec compiler and benchmark harness.

Pipeline (each arrow a pure function)::

    load_spec(path_or_preset) -> ResNetSpec
    compile_spec(spec)        -> networkx.DiGraph (one node per op)
    analyze(graph)            -> GraphSummary (params, MACs, depth, activations)
    build_model(spec_or_graph)-> torch.fx.GraphModule (torchvision-compatible names)

Names are imported lazily so that `resgraph validate` does not pay for torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_spec": "resgraph.graph",  # the spec loader with the graph's size guard
    "dump_spec": "resgraph.spec",
    "ResNetSpec": "resgraph.spec",
    "SpecError": "resgraph.errors",
    "ResgraphError": "resgraph.errors",
    "compile_spec": "resgraph.graph",
    "analyze": "resgraph.graph.analyze",
    "build_model": "resgraph.lower",
}

__all__ = sorted(_EXPORTS)


def __dir__() -> list[str]:
    """The public API (imported lazily), as ``dir(resgraph)`` lists it."""
    return sorted([*__all__, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name == "__version__":  # importlib.metadata costs 50 ms: paid only by whoever asks
        from importlib.metadata import version

        return version("resgraph")
    raise AttributeError(f"module 'resgraph' has no attribute {name!r}")
