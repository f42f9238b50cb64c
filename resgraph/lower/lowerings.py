"""How each IR op becomes torch.fx nodes: :data:`LOWERINGS`, a closed table op name -> lowering function.

The graph package describes an op (:data:`resgraph.graph.ops.OPS`: arity,
attributes, shape, counts, lint rule, label, colour) and knows nothing of
torch; this table is the one place an op meets torch. It has exactly the keys
of ``OPS`` (``tests/lower/test_lower_fx.py`` holds it to that), so a new op is
its ``OpDef`` there plus its lowering here. Kinds never appear: they emit ops,
and every op they emit is lowered by its entry.

Modules are created on the meta device: no memory; :func:`resgraph.lower.fx.lower_graph`
allocates them on the target device and ``build_model`` initialises them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Protocol

import torch
import torch.fx as fx
from torch import nn

from resgraph.lower.ops import ChannelConv, DropPath, shortcut_a

__all__ = ["LOWERINGS", "Lowering", "NoLoweringError", "lowering_of", "meta_module"]


class Lowering(Protocol):
    """What an op's lowering may do: emit fx nodes for the IR node being lowered (:mod:`resgraph.lower.fx`)."""

    attrs: dict[str, Any]       # the IR node's attributes
    args: list[fx.Node]         # fx nodes of its operands, by port

    def placeholder(self) -> fx.Node:
        """The module's input ``x``."""

    def output(self, value: fx.Node) -> fx.Node:
        """Return ``value`` from the module."""

    def module(self, module: nn.Module, *args: fx.Node, scope: str | None = None) -> fx.Node:
        """Register ``module`` under ``scope`` (default: the node's scope) and call it on ``args`` (default: all)."""

    def function(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> fx.Node:
        """Call ``fn(*args, **kwargs)``; ``args`` default to the operands."""

    def method(self, name: str, *args: Any) -> fx.Node:
        """Call Tensor method ``name`` on ``args`` (default: the operands)."""

    def overwritable(self, port: int) -> bool:
        """Whether the operand at ``port`` has no other reader, so an in-place op may write it."""


LowerFn = Callable[[Lowering], fx.Node]


class NoLoweringError(LookupError):
    """An IR op that :data:`LOWERINGS` has no entry for: a new op given an ``OpDef`` but no lowering."""


_TEMPLATES: dict[tuple[Any, ...], nn.Module] = {}


def meta_module(cls: type[nn.Module], *args: Any, **kwargs: Any) -> nn.Module:
    """``cls(*args, **kwargs, device="meta")``, built once per configuration and copied after that.

    A 10,000-block net has 40,000 convs and BNs in a handful of configurations; nn.Module's
    constructor (attribute bookkeeping, a meta-device ``reset_parameters``) costs ~20x a copy.
    The copy has its own parameters, buffers and hook tables: nothing is shared.
    """
    key = (cls, args, tuple(sorted(kwargs.items())))
    template = _TEMPLATES.get(key)
    if template is None:
        template = _TEMPLATES[key] = cls(*args, **kwargs, device="meta")
    module = object.__new__(cls)
    state: dict[str, Any] = {k: (v.copy() if isinstance(v, (dict, set, list)) else v)
                             for k, v in template.__dict__.items()}
    object.__setattr__(module, "__dict__", state)
    for name, p in template._parameters.items():
        if p is not None:
            state["_parameters"][name] = nn.Parameter(torch.empty(p.shape, dtype=p.dtype, device="meta"),
                                                      requires_grad=p.requires_grad)
    for name, b in template._buffers.items():
        if b is not None:
            state["_buffers"][name] = torch.empty(b.shape, dtype=b.dtype, device="meta")
    return module


def _input(L: Lowering) -> fx.Node:
    return L.placeholder()


def _output(L: Lowering) -> fx.Node:
    return L.output(L.args[0])


def _conv(L: Lowering) -> fx.Node:
    a = L.attrs
    return L.module(meta_module(nn.Conv2d, a["c_in"], a["c_out"], a["kernel"], stride=a["stride"],
                                padding=a["padding"], groups=a["groups"], bias=a["bias"]))


def _bn(L: Lowering) -> fx.Node:
    return L.module(meta_module(nn.BatchNorm2d, L.attrs["c_out"]))


def _relu(L: Lowering) -> fx.Node:
    return L.method("relu_") if L.overwritable(0) else L.function(torch.relu)


def _sigmoid(L: Lowering) -> fx.Node:
    return L.function(torch.sigmoid)


def _maxpool(L: Lowering) -> fx.Node:
    a = L.attrs
    return L.module(nn.MaxPool2d(a["kernel"], a["stride"], a["padding"]))


def _avgpool(L: Lowering) -> fx.Node:
    return L.module(nn.AdaptiveAvgPool2d((1, 1)))


def _avgpool2d(L: Lowering) -> fx.Node:
    a = L.attrs
    return L.module(nn.AvgPool2d(a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"],
                                 count_include_pad=a["count_include_pad"]))


def _shortcut_a(L: Lowering) -> fx.Node:
    a = L.attrs
    return L.function(shortcut_a, L.args[0], c_in=a["c_in"], c_out=a["c_out"], stride=a["stride"])


def _add(L: Lowering) -> fx.Node:
    branch, shortcut = L.args
    rate = L.attrs.get("drop_path", 0.0)
    if rate:  # stochastic depth: drops the branch per sample in training; the identity in eval
        branch = L.module(DropPath(rate), branch, scope=f"{L.attrs['block']}.drop_path")
    # Port 0 is the residual branch F(x), port 1 the shortcut: torchvision's `out += identity`.
    if L.overwritable(0):
        return L.method("add_", branch, shortcut)
    return L.function(operator.add, branch, shortcut)


def _mul(L: Lowering) -> fx.Node:
    return L.function(operator.mul, *L.args)


def _channel_conv(L: Lowering) -> fx.Node:
    return L.module(ChannelConv(L.attrs["kernel"]))


def _flatten(L: Lowering) -> fx.Node:
    return L.function(torch.flatten, L.args[0], 1)


def _linear(L: Lowering) -> fx.Node:
    a = L.attrs
    return L.module(meta_module(nn.Linear, a["c_in"], a["c_out"], bias=a["bias"]))


LOWERINGS: dict[str, LowerFn] = {
    "input": _input, "conv": _conv, "bn": _bn, "relu": _relu, "sigmoid": _sigmoid, "maxpool": _maxpool,
    "avgpool": _avgpool, "avgpool2d": _avgpool2d, "shortcut_a": _shortcut_a, "add": _add, "mul": _mul,
    "channel_conv": _channel_conv, "flatten": _flatten, "linear": _linear, "output": _output,
}


def lowering_of(op: str, node: str) -> LowerFn:
    """The lowering of ``op`` (IR node ``node``'s); :class:`NoLoweringError` naming both if the table lacks it."""
    try:
        return LOWERINGS[op]
    except KeyError:
        raise NoLoweringError(f"IR node {node!r}: op {op!r} has no lowering; each op of resgraph.graph.ops.OPS "
                              f"needs an entry in resgraph.lower.lowerings.LOWERINGS (it has: "
                              f"{', '.join(LOWERINGS)})") from None
