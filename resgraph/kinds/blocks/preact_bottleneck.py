"""The pre-activation bottleneck (He et al. 2016, "Identity Mappings in Deep Residual Networks"):
BN-ReLU before each of the 1x1, 3x3 and 1x1 convs, nothing after the add. Named as timm's
``resnetv2`` ``PreActBottleneck``, which strides on the 3x3; the authors' CIFAR ResNet-164
(``resnet-1k-layers``) strides on the first 1x1 (``stride_at: 1x1``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from resgraph.kinds.base import BLOCKS, BlockContext, BlockKind, BlockOptions
from resgraph.kinds.layouts import RESNETV2


class PreActBottleneckOptions(BlockOptions):
    """Options of the pre-activation bottleneck."""

    type: Literal["preact_bottleneck"] = "preact_bottleneck"
    expansion: int = Field(4, ge=1, le=64, description="output width = stage width x expansion")
    stride_at: Literal["3x3", "1x1"] = Field(
        "3x3", description="where a downsampling block strides: the 3x3 (timm) or the first 1x1 (the authors' "
                           "CIFAR code)")


@BLOCKS.register
class PreActBottleneck(BlockKind):
    name = "preact_bottleneck"
    label = "pre-act bottleneck"
    colour = "#d9ead3"
    origin = "He et al. 2016 (Identity Mappings), Fig. 4e; timm `resnetv2` `PreActBottleneck`"
    depth = 3
    layout = RESNETV2
    out_act = None

    Options = PreActBottleneckOptions

    def out_channels(self, width: int, o: PreActBottleneckOptions) -> int:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        return width * o.expansion

    def emit(self, k: BlockContext, o: PreActBottleneckOptions) -> str:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        w = k.width
        s1, s3 = (k.stride, 1) if o.stride_at == "1x1" else (1, k.stride)
        x = k.relu("act1", k.bn("norm1", k.x, k.c_in))
        k.shortcut(x, before="norm1")  # a projection sees the normalised input; timm registers it first
        y = k.relu("act2", k.bn("norm2", k.conv("conv1", x, k.c_in, w, 1, s1), w))
        y = k.relu("act3", k.bn("norm3", k.conv("conv2", y, w, w, 3, s3), w))
        return k.conv("conv3", y, w, k.c_out, 1, last=True)
