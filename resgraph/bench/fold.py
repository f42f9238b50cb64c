"""BatchNorm folding: Conv2d -> BatchNorm2d pairs become one Conv2d, for inference."""

from __future__ import annotations

import copy

import torch.fx as fx
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_bn"]


def fold_bn(module: nn.Module) -> fx.GraphModule:
    """Return an fx copy of an eval-mode module with every Conv2d->BatchNorm2d pair folded.

    The input module is not modified. A pair is folded only where the conv's
    output feeds nothing but the BN (otherwise the unnormalized value is still
    needed) and the BN uses running statistics.
    """
    if module.training:
        raise ValueError("fold_bn needs an eval-mode module: call .eval() first (BN must use running stats)")
    gm = fx.symbolic_trace(copy.deepcopy(module))
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        bn = _module_of(node, modules)
        if not isinstance(bn, nn.BatchNorm2d) or not bn.track_running_stats:
            continue
        src = node.args[0]
        conv = _module_of(src, modules) if isinstance(src, fx.Node) else None
        if not isinstance(conv, nn.Conv2d) or len(src.users) != 1:
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


def _module_of(node: fx.Node, modules: dict[str, nn.Module]) -> nn.Module | None:
    """The module a call_module node calls, else None."""
    if node.op != "call_module":
        return None
    return modules.get(str(node.target))


def _set_submodule(root: nn.Module, target: str, new: nn.Module) -> None:
    """Replace the submodule at a dotted path."""
    parent_name, _, name = target.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, name, new)
