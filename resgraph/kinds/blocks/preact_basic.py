"""The pre-activation basic block (He et al. 2016, "Identity Mappings in Deep Residual Networks"):
BN-ReLU before each 3x3 conv, nothing after the add. Named as timm's ``resnetv2`` ``PreActBasic``.
"""

from __future__ import annotations

from typing import Literal

from resgraph.kinds.base import BLOCKS, BlockContext, BlockKind, BlockOptions
from resgraph.kinds.layouts import RESNETV2


class PreActBasicOptions(BlockOptions):
    """The pre-activation basic block has no options."""

    type: Literal["preact_basic"] = "preact_basic"


@BLOCKS.register
class PreActBasic(BlockKind):
    name = "preact_basic"
    label = "pre-act basic"
    colour = "#eaf5ea"
    origin = "He et al. 2016 (Identity Mappings), Fig. 4e; timm `resnetv2` `PreActBasic`"
    depth = 2
    layout = RESNETV2
    out_act = None

    Options = PreActBasicOptions

    def emit(self, k: BlockContext, o: PreActBasicOptions) -> str:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        x = k.relu("act1", k.bn("norm1", k.x, k.c_in))
        k.shortcut(x, before="norm1")  # a projection sees the normalised input; timm registers it first
        y = k.conv("conv1", x, k.c_in, k.c_out, 3, k.stride)
        y = k.relu("act2", k.bn("norm2", y, k.c_out))
        return k.conv("conv2", y, k.c_out, k.c_out, 3, last=True)
