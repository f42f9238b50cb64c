"""The graph IR: compile a spec to networkx, then analysis passes and exports."""

from resgraph.graph.compile import compile_spec
from resgraph.graph.passes import (
    GraphLintError,
    count_activations,
    count_macs,
    count_params,
    depth,
    infer_shapes,
    lint,
    run_passes,
)

__all__ = [
    "GraphLintError", "compile_spec", "count_activations", "count_macs", "count_params", "depth",
    "infer_shapes", "lint", "run_passes",
]
