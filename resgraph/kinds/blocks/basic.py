"""The basic block (paper Fig. 2 left; ResNet-18/34 and the CIFAR nets): 3x3 conv, BN, ReLU, 3x3 conv, BN."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from resgraph.kinds.attention import AttentionField
from resgraph.kinds.base import BLOCKS, BlockContext, BlockKind, BlockOptions
from resgraph.kinds.layouts import RESNET


class BasicOptions(BlockOptions):
    """Options of the basic block."""

    type: Literal["basic"] = "basic"
    attention: AttentionField | None = Field(None, description="gate after the last BN: se or eca")


@BLOCKS.register
class Basic(BlockKind):
    name = "basic"
    label = "basic"
    colour = "#ffffff"
    origin = "He et al. 2016, Fig. 2 left; torchvision/timm `BasicBlock`"
    depth = 2
    layout = RESNET
    out_act = "relu2"

    Options = BasicOptions

    def emit(self, k: BlockContext, o: BasicOptions) -> str:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        # The stride sits on the first conv, as in torchvision.
        y = k.relu("relu1", k.bn("bn1", k.conv("conv1", k.x, k.c_in, k.c_out, 3, k.stride), k.c_out))
        y = k.bn("bn2", k.conv("conv2", y, k.c_out, k.c_out, 3), k.c_out, last=True)
        return k.attend(y, k.c_out, o.attention)
