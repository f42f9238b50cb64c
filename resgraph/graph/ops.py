"""The closed set of IR ops: one :class:`OpDef` per op, the only place an op is described.

Each entry gives the op's arity, the attributes its nodes carry, its shape
rule, its parameter and multiply-accumulate counts, its lint rule, its
lowering to torch.fx, its label and its colour. Passes, the linter, the
lowering and the pictures all read this table; none of them lists ops. A new
op is one new entry in :data:`OPS`.

Lowering functions receive a :class:`Lowering` (implemented in
:mod:`resgraph.lower.fx`) and import torch only when called, so the graph
package stays importable without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch.fx as fx
    from torch import nn

Shape = tuple[int, ...]


class Lowering(Protocol):
    """What an op's lowering may do: emit fx nodes for the IR node being lowered."""

    attrs: dict[str, Any]       # the IR node's attributes
    args: list["fx.Node"]       # fx nodes of its operands, by port

    def module(self, module: "nn.Module", *args: "fx.Node", scope: str | None = None) -> "fx.Node":
        """Register ``module`` under ``scope`` (default: the node's scope) and call it on ``args`` (default: all)."""

    def function(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "fx.Node":
        """Call ``fn(*args, **kwargs)``; ``args`` default to the operands."""

    def method(self, name: str, *args: Any) -> "fx.Node":
        """Call Tensor method ``name`` on ``args`` (default: the operands)."""

    def overwritable(self, port: int) -> bool:
        """Whether the operand at ``port`` has no other reader, so an in-place op may write it."""


def _window(n: int, k: int, s: int, p: int, ceil: bool = False) -> int:
    """Output size of a sliding window (conv, pooling), as PyTorch computes it."""
    if not ceil:
        return (n + 2 * p - k) // s + 1
    out = -(-(n + 2 * p - k) // s) + 1
    return out - 1 if (out - 1) * s >= n + p else out  # the last window must start inside the input


def _zero(a: dict[str, Any]) -> int:
    return 0


def _no_check(a: dict[str, Any], ins: list[Shape]) -> str | None:
    return None


@dataclass(frozen=True)
class OpDef:
    """One op of the IR: how it shapes, counts, lints, lowers and looks."""

    name: str
    doc: str                                               # one line for docs/graph.md and ir.py
    arity: int                                             # operands, on ports 0..arity-1
    attrs: tuple[str, ...]                                 # attributes its nodes must carry
    shape: Callable[[dict[str, Any], list[Shape]], Shape]  # output of one image from operand shapes
    lower: Callable[[Lowering], "fx.Node | None"]
    colour: str                                            # fill colour in the op graph picture
    label: Callable[[dict[str, Any]], str] = lambda a: a["op"]  # short text: "conv 3x3/2, 64→128"
    params: Callable[[dict[str, Any]], int] = _zero        # trainable parameters
    macs: Callable[[dict[str, Any]], int] = _zero          # multiply-accumulates, one image (needs ``shape``)
    check: Callable[[dict[str, Any], list[Shape]], str | None] = _no_check  # lint: what is wrong, or None
    spatial: bool = True                                   # operand 0 must be (C, H, W)
    consumes: bool = False                                 # ``c_in`` must equal operand 0's channels
    weighted: bool = False                                 # a weighted layer: counts toward depth


# --- shape rules ------------------------------------------------------------------------------


def _same(a: dict[str, Any], ins: list[Shape]) -> Shape:
    return ins[0]


def _conv_shape(a: dict[str, Any], ins: list[Shape]) -> Shape:
    _, h, w = ins[0]
    k, s, p = a["kernel"], a["stride"], a["padding"]
    return (a["c_out"], _window(h, k, s, p), _window(w, k, s, p))


def _pool_shape(a: dict[str, Any], ins: list[Shape]) -> Shape:
    c, h, w = ins[0]
    k, s, p, ceil = a["kernel"], a["stride"], a["padding"], a.get("ceil_mode", False)
    return (c, _window(h, k, s, p, ceil), _window(w, k, s, p, ceil))


def _shortcut_a_shape(a: dict[str, Any], ins: list[Shape]) -> Shape:
    s = a["stride"]  # x[:, :, ::s, ::s] keeps ceil(n / s) rows
    return (a["c_out"], -(-ins[0][1] // s), -(-ins[0][2] // s))


# --- counts -----------------------------------------------------------------------------------


def _conv_params(a: dict[str, Any]) -> int:
    k = a["kernel"]
    return a["c_out"] * (a["c_in"] // a["groups"]) * k * k + (a["c_out"] if a["bias"] else 0)


def _conv_macs(a: dict[str, Any]) -> int:
    c, h, w = a["shape"]
    k = a["kernel"]
    return c * h * w * (a["c_in"] // a["groups"]) * k * k


# --- lint rules -------------------------------------------------------------------------------


def _conv_check(a: dict[str, Any], ins: list[Shape]) -> str | None:
    if a["c_in"] % a["groups"] or a["c_out"] % a["groups"]:
        return f"groups {a['groups']} must divide c_in {a['c_in']} and c_out {a['c_out']}"
    return None


def _bn_check(a: dict[str, Any], ins: list[Shape]) -> str | None:
    if a["c_out"] != a["c_in"]:
        return f"bn must keep its channels, has c_in {a['c_in']} and c_out {a['c_out']}"
    return None


def _shortcut_a_check(a: dict[str, Any], ins: list[Shape]) -> str | None:
    if a["c_out"] < a["c_in"]:
        return f"option A can only zero-pad: c_out {a['c_out']} < c_in {a['c_in']}"
    return None


def _fmt(shape: Shape) -> str:
    return "x".join(map(str, shape))


def _add_check(a: dict[str, Any], ins: list[Shape]) -> str | None:
    if ins[0] != ins[1]:
        return f"add operands differ in shape: port 0 gives {_fmt(ins[0])}, port 1 gives {_fmt(ins[1])}"
    return None


def _mul_check(a: dict[str, Any], ins: list[Shape]) -> str | None:
    if ins[1] != (ins[0][0], 1, 1):
        return f"mul scales a {_fmt(ins[0])} map by one gate per channel, needs {ins[0][0]}x1x1, got {_fmt(ins[1])}"
    return None


def _gate_check(a: dict[str, Any], ins: list[Shape]) -> str | None:
    if ins[0][1:] != (1, 1):
        return f"channel_conv runs across the channels of a pooled map, needs Cx1x1, got {_fmt(ins[0])}"
    return None


# --- lowerings --------------------------------------------------------------------------------
# Modules are created on the meta device: no memory; lower_graph allocates them on the target
# device and build_model initialises them.

_TEMPLATES: dict[tuple[Any, ...], Any] = {}


def meta_module(cls: type, *args: Any, **kwargs: Any) -> "nn.Module":
    """``cls(*args, **kwargs, device="meta")``, built once per configuration and copied after that.

    A 10,000-block net has 40,000 convs and BNs in a handful of configurations; nn.Module's
    constructor (attribute bookkeeping, a meta-device ``reset_parameters``) costs ~20x a copy.
    The copy has its own parameters, buffers and hook tables: nothing is shared.
    """
    import torch
    from torch import nn

    key = (cls, args, tuple(sorted(kwargs.items())))
    template = _TEMPLATES.get(key)
    if template is None:
        template = _TEMPLATES[key] = cls(*args, **kwargs, device="meta")
    module = object.__new__(cls)
    state = {k: (v.copy() if isinstance(v, (dict, set, list)) else v) for k, v in template.__dict__.items()}
    object.__setattr__(module, "__dict__", state)
    for name, p in template._parameters.items():
        if p is not None:
            state["_parameters"][name] = nn.Parameter(torch.empty(p.shape, dtype=p.dtype, device="meta"),
                                                      requires_grad=p.requires_grad)
    for name, b in template._buffers.items():
        if b is not None:
            state["_buffers"][name] = torch.empty(b.shape, dtype=b.dtype, device="meta")
    return module


def _lower_conv(L: Lowering) -> "fx.Node":
    from torch import nn

    a = L.attrs
    return L.module(meta_module(nn.Conv2d, a["c_in"], a["c_out"], a["kernel"], stride=a["stride"],
                                padding=a["padding"], groups=a["groups"], bias=a["bias"]))


def _lower_bn(L: Lowering) -> "fx.Node":
    from torch import nn

    return L.module(meta_module(nn.BatchNorm2d, L.attrs["c_out"]))


def _lower_relu(L: Lowering) -> "fx.Node":
    import torch

    return L.method("relu_") if L.overwritable(0) else L.function(torch.relu)


def _lower_sigmoid(L: Lowering) -> "fx.Node":
    import torch

    return L.function(torch.sigmoid)


def _lower_maxpool(L: Lowering) -> "fx.Node":
    from torch import nn

    a = L.attrs
    return L.module(nn.MaxPool2d(a["kernel"], a["stride"], a["padding"]))


def _lower_avgpool(L: Lowering) -> "fx.Node":
    from torch import nn

    return L.module(nn.AdaptiveAvgPool2d((1, 1)))


def _lower_avgpool2d(L: Lowering) -> "fx.Node":
    from torch import nn

    a = L.attrs
    return L.module(nn.AvgPool2d(a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"],
                                 count_include_pad=a["count_include_pad"]))


def _lower_shortcut_a(L: Lowering) -> "fx.Node":
    from resgraph.lower.ops import shortcut_a

    a = L.attrs
    return L.function(shortcut_a, L.args[0], c_in=a["c_in"], c_out=a["c_out"], stride=a["stride"])


def _lower_add(L: Lowering) -> "fx.Node":
    import operator

    branch, shortcut = L.args
    rate = L.attrs.get("drop_path", 0.0)
    if rate:  # stochastic depth: drops the branch per sample in training; the identity in eval
        from resgraph.lower.ops import DropPath

        branch = L.module(DropPath(rate), branch, scope=f"{L.attrs['block']}.drop_path")
    # Port 0 is the residual branch F(x), port 1 the shortcut: torchvision's `out += identity`.
    if L.overwritable(0):
        return L.method("add_", branch, shortcut)
    return L.function(operator.add, branch, shortcut)


def _lower_mul(L: Lowering) -> "fx.Node":
    import operator

    return L.function(operator.mul, *L.args)


def _lower_channel_conv(L: Lowering) -> "fx.Node":
    from resgraph.lower.ops import ChannelConv

    return L.module(ChannelConv(L.attrs["kernel"]))


def _lower_flatten(L: Lowering) -> "fx.Node":
    import torch

    return L.function(torch.flatten, L.args[0], 1)


def _lower_linear(L: Lowering) -> "fx.Node":
    from torch import nn

    a = L.attrs
    return L.module(meta_module(nn.Linear, a["c_in"], a["c_out"], bias=a["bias"]))


def _lower_none(L: Lowering) -> None:
    return None  # input and output are the graph's placeholder and return, made by lower_graph


def _conv_label(a: dict[str, Any]) -> str:
    k = a["kernel"]
    text = f"conv {k}x{k}/{a['stride']}, {a['c_in']}→{a['c_out']}"
    return text + (f", g{a['groups']}" if a.get("groups", 1) > 1 else "")


OPS: dict[str, OpDef] = {d.name: d for d in (
    OpDef("input", "the image: ``shape`` (C, H, W)", 0, ("shape",), lambda a, ins: tuple(a["shape"]),
          _lower_none, "#ffffff"),
    OpDef("conv", "2-D convolution, no bias unless ``bias``", 1,
          ("c_in", "c_out", "kernel", "stride", "padding", "groups", "bias"), _conv_shape, _lower_conv, "#cfe2f3",
          label=_conv_label, params=_conv_params, macs=_conv_macs, check=_conv_check, consumes=True,
          weighted=True),
    OpDef("bn", "batch normalisation; ``zero_init`` starts its weight at 0", 1, ("c_in", "c_out"), _same,
          _lower_bn, "#fff2cc", params=lambda a: 2 * a["c_out"], check=_bn_check, consumes=True),
    OpDef("relu", "ReLU (in place where nothing else reads its operand)", 1, (), _same, _lower_relu, "#eeeeee"),
    OpDef("sigmoid", "the attention gate", 1, (), _same, _lower_sigmoid, "#eeeeee"),
    OpDef("maxpool", "max-pool, floor mode", 1, ("kernel", "stride", "padding"), _pool_shape, _lower_maxpool,
          "#ead1dc", label=lambda a: f"maxpool {a['kernel']}x{a['kernel']}/{a['stride']}"),
    OpDef("avgpool", "global average pool to 1x1", 1, (), lambda a, ins: (ins[0][0], 1, 1), _lower_avgpool,
          "#ead1dc"),
    OpDef("avgpool2d", "windowed average pool (``ceil_mode``, ``count_include_pad``): shortcut D", 1,
          ("kernel", "stride", "padding", "ceil_mode", "count_include_pad"), _pool_shape, _lower_avgpool2d,
          "#ead1dc", label=lambda a: f"avgpool {a['kernel']}x{a['kernel']}/{a['stride']}"),
    OpDef("shortcut_a", "option A: subsample ``x[:, :, ::stride, ::stride]``, zero-pad channels ``c_in`` -> "
          "``c_out`` (identity first); parameter-free", 1, ("c_in", "c_out", "stride"), _shortcut_a_shape,
          _lower_shortcut_a, "#fce5cd", label=lambda a: f"A: pad {a['c_in']}→{a['c_out']}, ::{a['stride']}",
          check=_shortcut_a_check, consumes=True),
    OpDef("add", "residual join: port 0 the branch F(x), port 1 the shortcut; ``drop_path`` rate (training "
          "only)", 2, (), _same, _lower_add, "#d9ead3", label=lambda a: "+", check=_add_check),
    OpDef("mul", "attention: port 0 the map, port 1 its per-channel gate (C, 1, 1)", 2, (), _same, _lower_mul,
          "#d9ead3", label=lambda a: "×", check=_mul_check),
    OpDef("channel_conv", "ECA: 1-D convolution of ``kernel`` across the channels of a pooled map, no bias", 1,
          ("kernel",), _same, _lower_channel_conv, "#cfe2f3", label=lambda a: f"conv1d k{a['kernel']} over C",
          params=lambda a: a["kernel"], macs=lambda a: a["shape"][0] * a["kernel"], check=_gate_check,
          weighted=True),
    OpDef("flatten", "(C, 1, 1) -> (C,)", 1, (), lambda a, ins: (math.prod(ins[0]),), _lower_flatten, "#eeeeee",
          spatial=False),
    OpDef("linear", "fully connected", 1, ("c_in", "c_out", "bias"), lambda a, ins: (a["c_out"],), _lower_linear,
          "#cfe2f3", label=lambda a: f"linear {a['c_in']}→{a['c_out']}",
          params=lambda a: a["c_in"] * a["c_out"] + (a["c_out"] if a["bias"] else 0),
          macs=lambda a: a["c_in"] * a["c_out"], consumes=True, weighted=True, spatial=False),
    OpDef("output", "the logits", 1, (), _same, _lower_none, "#ffffff", spatial=False),
)}
