"""The closed set of IR ops: one :class:`OpDef` per op, the only place an op is described.

Each entry gives the op's arity, the attributes its nodes carry, its shape
rule, its parameter and multiply-accumulate counts, its lint rule, its label
and its colour. Passes, the linter and the pictures all read this table; none
of them lists ops. A new op is one new entry in :data:`OPS`, plus its lowering
to torch.fx in :data:`resgraph.lower.lowerings.LOWERINGS` (this package never
imports torch nor the lowering: graph ops are shapes and counts only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


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
    """One op of the IR: how it shapes, counts, lints and looks."""

    name: str
    doc: str                                               # one line for docs/graph.md and ir.py
    arity: int                                             # operands, on ports 0..arity-1
    attrs: tuple[str, ...]                                 # attributes its nodes must carry
    shape: Callable[[dict[str, Any], list[Shape]], Shape]  # output of one image from operand shapes
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


def _conv_label(a: dict[str, Any]) -> str:
    k = a["kernel"]
    text = f"conv {k}x{k}/{a['stride']}, {a['c_in']}→{a['c_out']}"
    return text + (f", g{a['groups']}" if a.get("groups", 1) > 1 else "")


OPS: dict[str, OpDef] = {d.name: d for d in (
    OpDef("input", "the image: ``shape`` (C, H, W)", 0, ("shape",), lambda a, ins: tuple(a["shape"]), "#ffffff"),
    OpDef("conv", "2-D convolution, no bias unless ``bias``", 1,
          ("c_in", "c_out", "kernel", "stride", "padding", "groups", "bias"), _conv_shape, "#cfe2f3",
          label=_conv_label, params=_conv_params, macs=_conv_macs, check=_conv_check, consumes=True,
          weighted=True),
    OpDef("bn", "batch normalisation; ``zero_init`` starts its weight at 0", 1, ("c_in", "c_out"), _same,
          "#fff2cc", params=lambda a: 2 * a["c_out"], check=_bn_check, consumes=True),
    OpDef("relu", "ReLU (in place where nothing else reads its operand)", 1, (), _same, "#eeeeee"),
    OpDef("sigmoid", "the attention gate", 1, (), _same, "#eeeeee"),
    OpDef("maxpool", "max-pool, floor mode", 1, ("kernel", "stride", "padding"), _pool_shape,
          "#ead1dc", label=lambda a: f"maxpool {a['kernel']}x{a['kernel']}/{a['stride']}"),
    OpDef("avgpool", "global average pool to 1x1", 1, (), lambda a, ins: (ins[0][0], 1, 1), "#ead1dc"),
    OpDef("avgpool2d", "windowed average pool (``ceil_mode``, ``count_include_pad``): shortcut D", 1,
          ("kernel", "stride", "padding", "ceil_mode", "count_include_pad"), _pool_shape,
          "#ead1dc", label=lambda a: f"avgpool {a['kernel']}x{a['kernel']}/{a['stride']}"),
    OpDef("shortcut_a", "option A: subsample ``x[:, :, ::stride, ::stride]``, zero-pad channels ``c_in`` -> "
          "``c_out`` (identity first); parameter-free", 1, ("c_in", "c_out", "stride"), _shortcut_a_shape,
          "#fce5cd", label=lambda a: f"A: pad {a['c_in']}→{a['c_out']}, ::{a['stride']}",
          check=_shortcut_a_check, consumes=True),
    OpDef("add", "residual join: port 0 the branch F(x), port 1 the shortcut; ``drop_path`` rate (training "
          "only)", 2, (), _same, "#d9ead3", label=lambda a: "+", check=_add_check),
    OpDef("mul", "attention: port 0 the map, port 1 its per-channel gate (C, 1, 1)", 2, (), _same,
          "#d9ead3", label=lambda a: "×", check=_mul_check),
    OpDef("channel_conv", "ECA: 1-D convolution of ``kernel`` across the channels of a pooled map, no bias", 1,
          ("kernel",), _same, "#cfe2f3", label=lambda a: f"conv1d k{a['kernel']} over C",
          params=lambda a: a["kernel"], macs=lambda a: a["shape"][0] * a["kernel"], check=_gate_check,
          weighted=True),
    OpDef("flatten", "(C, 1, 1) -> (C,)", 1, (), lambda a, ins: (math.prod(ins[0]),), "#eeeeee",
          spatial=False),
    OpDef("linear", "fully connected", 1, ("c_in", "c_out", "bias"), lambda a, ins: (a["c_out"],),
          "#cfe2f3", label=lambda a: f"linear {a['c_in']}→{a['c_out']}",
          params=lambda a: a["c_in"] * a["c_out"] + (a["c_out"] if a["bias"] else 0),
          macs=lambda a: a["c_in"] * a["c_out"], consumes=True, weighted=True, spatial=False),
    OpDef("output", "the logits", 1, (), _same, "#ffffff", spatial=False),
)}
