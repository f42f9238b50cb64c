"""The graph IR: compile a spec to networkx, then analysis passes and exports; specs loaded with its size guard."""

from resgraph.graph.compile import compile_spec
from resgraph.graph.load import check_ref, load_spec, validate_source
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
    "GraphLintError", "check_ref", "compile_spec", "count_activations", "count_macs", "count_params", "depth",
    "infer_shapes", "lint", "load_spec", "run_passes", "validate_source",
]
