"""Analysis passes over the IR: each writes one kind of node metadata under a key of :mod:`resgraph.graph.ir`.

=========================  ==================================================================
pass                       writes / returns
=========================  ==================================================================
:func:`infer_shapes`       ``shape``: output of one image, (C, H, W); (F,) after flatten
:func:`count_params`       ``params``: trainable parameters (BN running stats are buffers)
:func:`count_macs`         ``macs``: multiply-accumulates of conv and linear ops only, the
                           paper's "FLOPs" and torchvision's ``_ops``
:func:`count_activations`  ``act_bytes``: bytes of the node's output tensor at a batch and
                           dtype; the total sums every op except ``input`` and ``output``
:func:`depth`              weighted layers (conv + linear) on the longest input -> output
                           path, shortcut projections excluded: resnet50 -> 50
:func:`lint`               checks invariants; raises :class:`GraphLintError` naming the node
=========================  ==================================================================

Totals are also stored on the graph (``g.graph[PARAMS]`` etc.). :func:`run_passes`
runs them all in order. Passes that need shapes infer them first if missing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import networkx as nx

from resgraph.errors import ResgraphError
from resgraph.graph.ir import ACT_BYTES, MACS, PARAMS, SHAPE, operands
from resgraph.graph.ops import OPS, OpDef, Shape

DEPTH = "depth"  # graph-level key written by :func:`depth` (not a node key)


class GraphLintError(ResgraphError):
    """A graph that breaks an IR invariant; ``node`` is the offending node id."""

    def __init__(self, node: str | None, message: str, graph: str = "") -> None:
        self.node = node
        where = f"graph {graph!r}: " if graph else ""
        super().__init__(f"{where}node {node!r}: {message}" if node is not None else f"{where}{message}")


def _fail(g: nx.DiGraph, node: str | None, message: str) -> GraphLintError:
    return GraphLintError(node, message, g.graph.get("name", ""))


def topo_order(g: nx.DiGraph) -> list[str]:
    """A topological order; a cycle becomes a :class:`GraphLintError` naming a node on it.

    The compiler adds every node after its operands, so insertion order is tried
    first (one pass over the edges) before a full sort.
    """
    pos = {n: i for i, n in enumerate(g)}
    if all(pos[u] < pos[v] for u, v in g.edges):
        return list(pos)
    try:
        return list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(g)
        path = " -> ".join(str(u) for u, _ in cycle) + f" -> {cycle[0][0]}"
        raise _fail(g, cycle[0][0], f"is on a cycle: {path}") from None


def _ensure_shapes(g: nx.DiGraph) -> None:
    if any(SHAPE not in a for _, a in g.nodes(data=True)):
        infer_shapes(g)


# --- shapes -----------------------------------------------------------------------------------


def infer_shapes(g: nx.DiGraph) -> dict[str, Shape]:
    """Write ``shape`` (output of one image) on every node; returns {node: shape}.

    Each op's rule is its :data:`~resgraph.graph.ops.OPS` entry's: conv/max-pool
    floor((n + 2p - k) / s) + 1; option A shortcut ceil(n / s); global avg-pool
    (C, 1, 1); flatten and linear (F,).
    """
    shapes: dict[str, Shape] = {}
    nodes, pred = g.nodes, g.pred
    for n in topo_order(g):
        a = nodes[n]
        d = op_of(g, n)
        preds = pred[n]
        if len(preds) == 1 and d.arity == 1:  # the common case, checked without sorting
            ((src, e),) = preds.items()
            if e.get("port") != 0:
                _check_operands(g, n, d, preds)
            ins = [shapes[src]]
        else:
            _check_operands(g, n, d, preds)
            ins = [shapes[p] for p in operands(g, n)]
        if ins and d.spatial and any(len(i) != 3 for i in ins):
            raise _fail(g, n, f"{d.name} needs (C, H, W) inputs, got {', '.join(_fmt(i) for i in ins)}")
        missing = [k for k in d.attrs if k not in a]
        if missing:
            raise _fail(g, n, f"{d.name} lacks attribute(s) {', '.join(missing)}")
        shape = d.shape(a, ins)
        if min(shape) < 1:
            raise _fail(g, n, f"{d.name} output would be {_fmt(shape)}: the input is too small")
        a[SHAPE] = shapes[n] = shape
    return shapes


def op_of(g: nx.DiGraph, n: str) -> OpDef:
    """The table entry of node ``n``'s op; an op outside the vocabulary is a :class:`GraphLintError`."""
    op = g.nodes[n].get("op")
    d = OPS.get(op) if isinstance(op, str) else None
    if d is None:
        raise _fail(g, n, f"unknown op {op!r}; expected one of {', '.join(sorted(OPS))}")
    return d


def _check_operands(g: nx.DiGraph, n: str, d: OpDef, preds: Mapping[str, dict]) -> None:
    """``n`` has as many operands as its op takes, on ports 0, 1, ..."""
    op = d.name
    if len(preds) != d.arity:
        raise _fail(g, n, f"{op} takes {d.arity} operand(s), has {len(preds)}"
                    + (f": {', '.join(map(str, preds))}" if preds else ""))
    ports = sorted(e.get("port", -1) for e in preds.values())
    if ports != list(range(len(ports))):
        raise _fail(g, n, f"{op} operand ports must be {list(range(len(ports)))}, got {ports}")


def _fmt(shape: Iterable[int]) -> str:
    return "x".join(map(str, shape))


# --- counts -----------------------------------------------------------------------------------


def node_params(a: dict) -> int:
    """Trainable parameters of one node (attributes ``a``): its op's rule."""
    return OPS[a["op"]].params(a)


def count_params(g: nx.DiGraph) -> int:
    """Write ``params`` on every node; returns the total of trainable parameters."""
    total = 0
    for _, a in g.nodes(data=True):
        a[PARAMS] = p = node_params(a)
        total += p
    g.graph[PARAMS] = total
    return total


def node_macs(a: dict) -> int:
    """Multiply-accumulates of one node (``shape`` written): conv c_out*H*W*(c_in/groups)*k*k, linear f_in*f_out."""
    return OPS[a["op"]].macs(a)


def count_macs(g: nx.DiGraph) -> int:
    """Write ``macs`` on every node; returns the total for one image (conv + linear only)."""
    _ensure_shapes(g)
    total = 0
    for _, a in g.nodes(data=True):
        a[MACS] = m = node_macs(a)
        total += m
    g.graph[MACS] = total
    return total


def count_activations(g: nx.DiGraph, batch: int = 1, dtype_bytes: int = 4) -> int:
    """Write ``act_bytes`` (bytes of the node's output at ``batch`` and ``dtype_bytes``) on every node.

    Returns the sum over all ops except ``input`` and ``output`` (the input is the
    caller's tensor, the output is fc's): every intermediate tensor the forward pass
    produces, as if none were freed or computed in place. An upper bound on what a
    training forward keeps, not the peak memory of inference.
    """
    if batch < 1 or dtype_bytes < 1:
        raise ValueError(f"batch and dtype_bytes must be >= 1 (received {batch}, {dtype_bytes})")
    _ensure_shapes(g)
    total = 0
    for _, a in g.nodes(data=True):
        a[ACT_BYTES] = b = batch * math.prod(a[SHAPE]) * dtype_bytes
        if a["op"] not in ("input", "output"):
            total += b
    g.graph[ACT_BYTES] = total
    return total


_LAYERS = "_layers"  # temporary edge weight of depth()


def _layer_weight(a: dict) -> int:
    # Shortcut projections and attention gates run beside the path they feed, not along it.
    return 1 if OPS[a["op"]].weighted and a.get("role") not in ("shortcut", "attention") else 0


def depth(g: nx.DiGraph) -> int:
    """Weighted layers (conv + linear; shortcut projections and attention gates excluded) on the longest path.

    Each edge weighs 1 if its target is such a layer, so the path length counts layers.
    The weights live on the edges only for the duration of the call.
    """
    order = topo_order(g)
    nodes = g.nodes
    try:
        for _, v, e in g.edges(data=True):
            e[_LAYERS] = _layer_weight(nodes[v])
        path = nx.dag_longest_path(g, weight=_LAYERS, topo_order=order)
    finally:
        for *_, e in g.edges(data=True):
            e.pop(_LAYERS, None)
    d = sum(_layer_weight(nodes[n]) for n in path)
    g.graph[DEPTH] = d
    return d


# --- lint -------------------------------------------------------------------------------------


def lint(g: nx.DiGraph, shapes: dict[str, Shape] | None = None) -> None:
    """Check the IR's invariants; raise :class:`GraphLintError` naming the first offending node.

    Structure: ops from the vocabulary, acyclic, exactly one ``input`` and one
    ``output``, each op's operand count, an add's ports are 0 and 1, every node
    reachable from the input and reaching the output. Then, with shapes (``shapes``
    as :func:`infer_shapes` just returned for ``g``, else inferred afresh so that
    stale metadata cannot hide an edit): channel counts agree on every edge into
    conv/bn/linear/shortcut_a, and both operands of an add have the same shape.

    Unknown ops, cycles, operand counts and missing attributes are found by
    :func:`infer_shapes`, which needs them to walk the graph.
    """
    nodes = g.nodes
    if shapes is None:
        shapes = infer_shapes(g)  # raises on a cycle, an unknown op or a wrong operand count
    ends = {}
    for op in ("input", "output"):
        found = [n for n, a in nodes(data=True) if a["op"] == op]
        if len(found) != 1:
            raise _fail(g, found[1] if found else None, f"a graph needs exactly one {op} node, found "
                        f"{len(found)}" + (f": {', '.join(map(str, found))}" if found else ""))
        ends[op] = found[0]
    if g.out_degree(ends["output"]):
        raise _fail(g, ends["output"], "the output node has successors")
    _lint_reachable(g, ends["output"])
    for n, a in nodes(data=True):
        _lint_channels(g, n, a, shapes)


def _lint_reachable(g: nx.DiGraph, sink: str) -> None:
    # Acyclic and every node but the input has an operand, so walking operands back from
    # any node ends at the input: all are reachable from it. What remains is dead ends.
    for n, d in g.out_degree:
        if d == 0 and n != sink:
            raise _fail(g, n, f"its output is never used: it does not lead to the output node {sink!r}")


def _lint_channels(g: nx.DiGraph, n: str, a: dict, shapes: dict[str, Shape]) -> None:
    d = OPS[a["op"]]
    ins = [shapes[p] for p in operands(g, n)]
    if d.consumes:
        (src,) = g.pred[n]
        got = shapes[src][0]
        if got != a["c_in"]:
            raise _fail(g, n, f"{d.name} expects c_in {a['c_in']} but its operand {src!r} gives {got} channels")
    problem = d.check(a, ins)
    if problem:
        if d.arity == 2:  # name the operands rather than their ports
            x, y = operands(g, n)
            problem = problem.replace("port 0", repr(x)).replace("port 1", repr(y))
        raise _fail(g, n, problem)


# --- all of them ------------------------------------------------------------------------------


def run_passes(g: nx.DiGraph, batch: int = 1, dtype_bytes: int = 4) -> nx.DiGraph:
    """Shapes, lint, params, MACs, activations, depth, in that order; returns ``g`` (annotated in place)."""
    lint(g, infer_shapes(g))
    count_params(g)
    count_macs(g)
    count_activations(g, batch, dtype_bytes)
    depth(g)
    return g
