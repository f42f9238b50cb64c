"""The graph IR: compile a spec to networkx, then analysis passes and exports."""

from resgraph.graph.compile import compile_spec

__all__ = ["compile_spec"]
