"""Lower the IR to a ``torch.fx.GraphModule``: one fx node per IR node, modules under IR scopes.

The generated ``forward`` is flat (no per-block Python calls) and its module
names are the anchor library's (torchvision's, or timm's for its variants), so
``state_dict()`` keys match one for one. ReLU and the residual add run in place
wherever the value they overwrite has no other reader, as torchvision's
``relu(inplace=True)`` and ``out += identity`` do. The one fx node without an IR
node of its own is a block's ``drop_path`` (training only), called before its add.
"""

from __future__ import annotations

import contextlib
import gc
import keyword
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import torch
import torch.fx as fx
from torch import nn

from resgraph.graph.compile import compile_spec
from resgraph.graph.ir import operands, ops_in_order
from resgraph.graph.passes import lint
from resgraph.lower.init import init_weights
from resgraph.lower.lowerings import lowering_of
from resgraph.spec.model import ResNetSpec

__all__ = ["build_model", "lower_graph"]

Device = torch.device | str | None


def build_model(spec_or_graph: ResNetSpec | nx.DiGraph | str | os.PathLike[str], *, seed: int | None = None,
                device: Device = None) -> fx.GraphModule:
    """An initialised PyTorch module for a spec, a preset name or spec file, or an already compiled IR graph.

    ``seed`` makes the weights reproducible without touching the global RNG
    (None draws from it, as torchvision does). ``device="meta"`` builds the
    structure without allocating or initialising weights.
    """
    if isinstance(spec_or_graph, nx.DiGraph):
        g = spec_or_graph
    elif isinstance(spec_or_graph, ResNetSpec):
        g = compile_spec(spec_or_graph)
    elif isinstance(spec_or_graph, (str, os.PathLike)):
        from resgraph.graph.load import load_spec

        g = compile_spec(load_spec(spec_or_graph if isinstance(spec_or_graph, str) else Path(spec_or_graph)))
    else:
        raise TypeError(f"build_model needs a ResNetSpec, an IR graph or a spec name/path "
                        f"(received {type(spec_or_graph).__name__})")
    device = torch.device(device if device is not None else "cpu")
    gm = lower_graph(g, device=device)
    if device.type != "meta":
        gen = torch.Generator(device).manual_seed(seed) if seed is not None else None
        init_weights(gm, zero_init=[n for n, z in g.nodes(data="zero_init") if z],
                     classifier=[n for n, i in g.nodes(data="init") if i == "classifier"], generator=gen)
    return gm


def lower_graph(g: nx.DiGraph, *, device: Device = None) -> fx.GraphModule:
    """The GraphModule of an IR graph, weights allocated but *not* initialised (see :func:`build_model`).

    Each node is lowered by its op's entry in :data:`resgraph.lower.lowerings.LOWERINGS`;
    the graph is linted first, so a malformed graph fails here, naming its node,
    rather than at forward.
    """
    with _gc_paused():  # 10,000 blocks make ~10^6 objects: the cyclic GC would sweep them again and again
        return _lower(g, torch.device(device if device is not None else "cpu"))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (nothing built here is garbage until the caller drops it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _lower(g: nx.DiGraph, device: torch.device) -> fx.GraphModule:
    lint(g)
    graph = fx.Graph()
    modules: dict[str, nn.Module] = {}
    env: dict[str, fx.Node] = {}
    for name in ops_in_order(g):
        attrs = g.nodes[name]
        lower = lowering_of(attrs["op"], name)
        node = env[name] = lower(_Lowering(graph, g, name, attrs, [env[p] for p in operands(g, name)], modules))
        node.meta["ir_node"] = name
    graph.lint()
    if device.type != "meta":
        _allocate(modules.values(), device)
    gm = fx.GraphModule(modules, graph, class_name=_class_name(g.graph.get("name", "ResNet")))
    # `state_dict()` lists keys in module registration order, which must be the anchor library's
    # (conv1, bn1, layer1.0..., fc). GraphModule registers them by depth; put them in that order.
    _order_modules(gm, _registration_order(g, list(modules)))
    return gm


@dataclass
class _Lowering:
    """An op's view of the lowering (:class:`resgraph.lower.lowerings.Lowering`): fx nodes named after IR scopes."""

    graph: fx.Graph
    g: nx.DiGraph
    name: str
    attrs: dict[str, Any]
    args: list[fx.Node]
    modules: dict[str, nn.Module]

    def placeholder(self) -> fx.Node:
        return self.graph.placeholder("x")

    def output(self, value: fx.Node) -> fx.Node:
        return self.graph.output(value)

    def module(self, module: nn.Module, *args: fx.Node, scope: str | None = None) -> fx.Node:
        scope = scope or self.name
        self.modules[scope] = module
        return _node(self.graph, "call_module", scope, tuple(args or self.args), name=scope)

    def function(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> fx.Node:
        return _node(self.graph, "call_function", fn, tuple(args or self.args), kwargs or None, name=self.name)

    def method(self, name: str, *args: Any) -> fx.Node:
        return _node(self.graph, "call_method", name, tuple(args or self.args), name=self.name)

    def overwritable(self, port: int) -> bool:
        return _overwritable(self.g, self.name, port)


def _registration_order(g: nx.DiGraph, names: list[str]) -> list[str]:
    """``names`` in graph order, except that a node with ``before`` moves just ahead of that module.

    timm's pre-activation blocks register their shortcut before ``norm1``, which
    the shortcut reads: data order and key order differ there, and only there.
    """
    known = set(names)
    moved = [n for n in names if n in g and g.nodes[n].get("before") in known]  # drop_path has no IR node
    if not moved:
        return names
    skip = set(moved)
    order = [n for n in names if n not in skip]
    for n in moved:  # in graph order, so the moved modules keep theirs
        order.insert(order.index(g.nodes[n]["before"]), n)
    return order


def _order_modules(root: nn.Module, order: list[str]) -> None:
    """Re-register every container's children so that ``root``'s modules follow ``order`` (dotted names)."""
    rank: dict[str, int] = {}
    for i, name in enumerate(order):
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            rank.setdefault(".".join(parts[:k]), i)
    for path, m in list(root.named_modules()):
        prefix = f"{path}." if path else ""
        children = m._modules
        ordered = sorted(children, key=lambda c: rank.get(prefix + c, len(order)))
        if ordered != list(children):
            object.__setattr__(m, "_modules", {c: children[c] for c in ordered})


def _overwritable(g: nx.DiGraph, name: str, port: int) -> bool:
    """Whether ``name`` may write into its operand at ``port``: nothing else reads it and it is no graph input."""
    src = operands(g, name)[port]
    return g.nodes[src]["op"] != "input" and g.out_degree(src) == 1


def _node(graph: fx.Graph, op: str, target: Callable | str, args: tuple, kwargs: dict | None = None, *,
          name: str) -> fx.Node:
    """An fx node named after its IR scope: ``layer1.0.relu1`` -> ``layer1_0_relu1``."""
    return graph.create_node(op, target, args, kwargs, name=name.replace(".", "_"))


def _allocate(leaves: Iterable[nn.Module], device: torch.device) -> None:
    """Replace every meta parameter and buffer with uninitialised memory on ``device``.

    ``Module.to_empty`` does the same, but through ``empty_like``'s Python reference
    implementation for meta tensors: several times slower on deep nets.
    """
    for m in (sub for leaf in leaves for sub in leaf.modules()):
        for key, p in m._parameters.items():
            if p is not None:
                m._parameters[key] = nn.Parameter(torch.empty(p.shape, dtype=p.dtype, device=device),
                                                  requires_grad=p.requires_grad)
        for key, b in m._buffers.items():
            if b is not None:
                m._buffers[key] = torch.empty(b.shape, dtype=b.dtype, device=device)


def _class_name(name: str) -> str:
    """A valid Python identifier from the network's name (the GraphModule's class name)."""
    ident = re.sub(r"\W", "_", name) or "ResNet"
    if ident[0].isdigit() or keyword.iskeyword(ident):
        ident = "_" + ident
    return ident
