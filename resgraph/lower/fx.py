"""Lower the IR to a ``torch.fx.GraphModule``: one fx node per IR node, modules under IR scopes.

The generated ``forward`` is flat (no per-block Python calls) and its module
names are torchvision's, so ``state_dict()`` keys match ``torchvision.models``
one for one. ReLU and the residual add run in place wherever the value they
overwrite has no other reader, as torchvision's ``relu(inplace=True)`` and
``out += identity`` do.
"""

from __future__ import annotations

import keyword
import operator
import os
import re
from collections.abc import Callable

import networkx as nx
import torch
import torch.fx as fx
from torch import nn

from resgraph.graph.compile import compile_spec
from resgraph.graph.ir import OPS, operands, ops_in_order
from resgraph.lower.init import init_weights
from resgraph.lower.ops import shortcut_a
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
        from resgraph.spec import load_spec

        g = compile_spec(load_spec(spec_or_graph))
    else:
        raise TypeError(f"build_model needs a ResNetSpec, an IR graph or a spec name/path "
                        f"(received {type(spec_or_graph).__name__})")
    device = torch.device(device if device is not None else "cpu")
    gm = lower_graph(g, device=device)
    if device.type != "meta":
        gen = torch.Generator(device).manual_seed(seed) if seed is not None else None
        init_weights(gm, zero_init=[n for n, z in g.nodes(data="zero_init") if z], generator=gen)
    return gm


def lower_graph(g: nx.DiGraph, *, device: Device = None) -> fx.GraphModule:
    """The GraphModule of an IR graph, weights allocated but *not* initialised (see :func:`build_model`)."""
    device = torch.device(device if device is not None else "cpu")
    graph = fx.Graph()
    modules: dict[str, nn.Module] = {}
    env: dict[str, fx.Node] = {}
    for name in ops_in_order(g):
        attrs = g.nodes[name]
        op = attrs["op"]
        args = [env[p] for p in operands(g, name)]
        if op not in OPS:
            raise ValueError(f"IR node {name!r}: unknown op {op!r}")
        if op not in _MODULES and op not in _FUNCTIONS and op not in ("input", "output"):
            raise ValueError(f"IR node {name!r}: op {op!r} has no lowering")
        if op == "input":
            env[name] = graph.placeholder("x")
        elif op == "output":
            graph.output(args[0])
        elif op in _MODULES:
            modules[name] = _MODULES[op](attrs)
            env[name] = graph.call_module(name, tuple(args))
        else:
            env[name] = _FUNCTIONS[op](graph, g, name, args)
        if name in env:
            env[name].meta["ir_node"] = name
    graph.lint()
    # Register modules in graph order (GraphModule's dict form would sort them by depth), so
    # `state_dict()` lists keys in torchvision's order: conv1, bn1, layer1.0..., fc.
    root = nn.Module()
    for name, module in modules.items():
        _set_nested(root, name, module)
    if device.type != "meta":
        _allocate(root, device)
    return fx.GraphModule(root, graph, class_name=_class_name(g.graph.get("name", "ResNet")))


# Modules are created on the meta device (no memory, and their own reset_parameters costs nothing);
# lower_graph then allocates them on the target device in one go, uninitialised: init_weights
# draws each tensor once.
_MODULES: dict[str, Callable[[dict], nn.Module]] = {
    "conv": lambda a: nn.Conv2d(a["c_in"], a["c_out"], a["kernel"], stride=a["stride"], padding=a["padding"],
                                groups=a["groups"], bias=a["bias"], device="meta"),
    "bn": lambda a: nn.BatchNorm2d(a["c_out"], device="meta"),
    "linear": lambda a: nn.Linear(a["c_in"], a["c_out"], bias=a["bias"], device="meta"),
    "maxpool": lambda a: nn.MaxPool2d(a["kernel"], a["stride"], a["padding"]),
    "avgpool": lambda a: nn.AdaptiveAvgPool2d((1, 1)),
}


def _relu(graph: fx.Graph, g: nx.DiGraph, name: str, args: list[fx.Node]) -> fx.Node:
    if _overwritable(g, name, 0):
        return _node(graph, "call_method", "relu_", (args[0],), name=name)
    return _node(graph, "call_function", torch.relu, (args[0],), name=name)


def _add(graph: fx.Graph, g: nx.DiGraph, name: str, args: list[fx.Node]) -> fx.Node:
    # Port 0 is the residual branch F(x), port 1 the shortcut: torchvision's `out += identity`.
    if _overwritable(g, name, 0):
        return _node(graph, "call_method", "add_", (args[0], args[1]), name=name)
    return _node(graph, "call_function", operator.add, (args[0], args[1]), name=name)


def _flatten(graph: fx.Graph, g: nx.DiGraph, name: str, args: list[fx.Node]) -> fx.Node:
    return _node(graph, "call_function", torch.flatten, (args[0], 1), name=name)


def _shortcut_a(graph: fx.Graph, g: nx.DiGraph, name: str, args: list[fx.Node]) -> fx.Node:
    a = g.nodes[name]
    kwargs = {"c_in": a["c_in"], "c_out": a["c_out"], "stride": a["stride"]}
    return _node(graph, "call_function", shortcut_a, (args[0],), kwargs, name=name)


_FUNCTIONS: dict[str, Callable[[fx.Graph, nx.DiGraph, str, list[fx.Node]], fx.Node]] = {
    "relu": _relu, "add": _add, "flatten": _flatten, "shortcut_a": _shortcut_a,
}


def _overwritable(g: nx.DiGraph, name: str, port: int) -> bool:
    """Whether ``name`` may write into its operand at ``port``: nothing else reads it and it is no graph input."""
    src = operands(g, name)[port]
    return g.nodes[src]["op"] != "input" and g.out_degree(src) == 1


def _node(graph: fx.Graph, op: str, target: Callable | str, args: tuple, kwargs: dict | None = None, *,
          name: str) -> fx.Node:
    """An fx node named after its IR scope: ``layer1.0.relu1`` -> ``layer1_0_relu1``."""
    return graph.create_node(op, target, args, kwargs, name=name.replace(".", "_"))


def _allocate(root: nn.Module, device: torch.device) -> None:
    """Replace every meta parameter and buffer with uninitialised memory on ``device``.

    ``Module.to_empty`` does the same, but through ``empty_like``'s Python reference
    implementation for meta tensors: several times slower on deep nets.
    """
    for m in root.modules():
        for key, p in m._parameters.items():
            if p is not None:
                m._parameters[key] = nn.Parameter(torch.empty(p.shape, dtype=p.dtype, device=device),
                                                  requires_grad=p.requires_grad)
        for key, b in m._buffers.items():
            if b is not None:
                m._buffers[key] = torch.empty(b.shape, dtype=b.dtype, device=device)


def _set_nested(root: nn.Module, name: str, module: nn.Module) -> None:
    """Register ``module`` at dotted ``name``, creating empty parent containers as needed."""
    *parents, leaf = name.split(".")
    for part in parents:
        if not hasattr(root, part):
            root.add_module(part, nn.Module())
        root = getattr(root, part)
    root.add_module(leaf, module)


def _class_name(name: str) -> str:
    """A valid Python identifier from the network's name (the GraphModule's class name)."""
    ident = re.sub(r"\W", "_", name) or "ResNet"
    if ident[0].isdigit() or keyword.iskeyword(ident):
        ident = "_" + ident
    return ident
