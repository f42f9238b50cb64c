"""Inference passes over a lowered module: BN folding, channels_last, dtype casting.

Each pass is a pure function: it returns a new module and leaves its input untouched.
"""

from __future__ import annotations

import copy

import torch
import torch.fx as fx
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from resgraph.precision import PrecisionError, torch_dtype

__all__ = ["cast", "fold_bn", "to_channels_last"]


def fold_bn(module: nn.Module) -> fx.GraphModule:
    """A new eval-mode module with every BatchNorm2d folded into the Conv2d that feeds it.

    ``y = gamma * (conv(x) - mean) / sqrt(var + eps) + beta`` becomes one conv with
    scaled weights and a bias. A pair is folded only where the conv's output goes
    to that BN alone and neither module is called twice. A GraphModule (what
    :func:`~resgraph.lower.build_model` returns) keeps its graph and names; any
    other module is symbolically traced first. The fused conv keeps the conv's
    name (``layer1.0.conv1`` now has a ``bias``); the BN's entries disappear.
    """
    gm = copy.deepcopy(module) if isinstance(module, fx.GraphModule) else fx.symbolic_trace(copy.deepcopy(module))
    gm.eval()
    modules = dict(gm.named_modules())
    calls: dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    for node in list(gm.graph.nodes):
        bn = _called_module(node, modules)
        if not isinstance(bn, nn.BatchNorm2d) or not bn.track_running_stats or bn.running_mean is None:
            continue
        src = node.args[0]
        conv = _called_module(src, modules) if isinstance(src, fx.Node) else None
        if not isinstance(conv, nn.Conv2d) or len(src.users) != 1 or calls[src.target] != 1 or calls[node.target] != 1:
            continue
        fused = fuse_conv_bn_eval(conv, bn)
        _set_submodule(gm, src.target, fused)
        modules[src.target] = fused
        node.replace_all_uses_with(src)
        gm.graph.erase_node(node)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def to_channels_last(module: nn.Module) -> nn.Module:
    """A copy whose 4-D weights are stored channels_last (NHWC); feed it ``x.to(memory_format=torch.channels_last)``."""
    return copy.deepcopy(module).to(memory_format=torch.channels_last)


def cast(module: nn.Module, dtype: torch.dtype | str) -> nn.Module:
    """A copy with every floating parameter and buffer in ``dtype`` (float16, bfloat16, ... or a name such as "fp16").

    Names are resgraph.precision's ("fp16", "bf16", and aliases such as "half"); int8
    is not a cast but a quantisation (resgraph.lower.quantize).
    """
    if isinstance(dtype, str):
        try:
            dtype = torch_dtype(dtype)
        except PrecisionError as exc:
            raise ValueError(f"cast: {exc}") from None
    if not dtype.is_floating_point:
        raise ValueError(f"cast: {dtype} is not a floating dtype")
    return copy.deepcopy(module).to(dtype)


def _called_module(node: fx.Node, modules: dict[str, nn.Module]) -> nn.Module | None:
    """The module a ``call_module`` node calls, else None."""
    return modules.get(str(node.target)) if node.op == "call_module" else None


def _set_submodule(root: nn.Module, target: str, new: nn.Module) -> None:
    """Replace the submodule at a dotted path."""
    parent, _, name = target.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, name, new)
