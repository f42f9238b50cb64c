"""The bottleneck block (paper Fig. 5 right; ResNet-50/101/152): 1x1 reduce, 3x3, 1x1 expand, BN after each.

ResNeXt and Wide ResNet are bottlenecks too: ``groups`` splits the 3x3 conv and
``base_width`` scales its width, by torchvision's rule
``int(width * base_width / 64) * groups`` (resnext50_32x4d: groups 32, base_width 4).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from resgraph.kinds.attention import AttentionField
from resgraph.kinds.base import BLOCKS, BlockContext, BlockKind, BlockOptions
from resgraph.kinds.layouts import RESNET

_MAX = 65_536


class BottleneckOptions(BlockOptions):
    """Options of the bottleneck: expansion, stride placement, ResNeXt groups and width."""

    type: Literal["bottleneck"] = "bottleneck"
    expansion: int = Field(4, ge=1, le=64, description="output width = stage width x expansion")
    stride_at: Literal["3x3", "1x1"] = Field(
        "3x3", description="where a downsampling block strides: the 3x3 (ResNet v1.5, torchvision) or the "
                           "first 1x1 (the paper)")
    groups: int = Field(1, ge=1, le=_MAX, description="groups of the 3x3 conv (ResNeXt cardinality)")
    base_width: int = Field(64, ge=1, le=_MAX, description="3x3 width = int(width x base_width / 64) x groups")
    attention: AttentionField | None = Field(None, description="gate after the last BN: se or eca")


@BLOCKS.register
class Bottleneck(BlockKind):
    name = "bottleneck"
    label = "bottleneck"
    colour = "#fffbea"
    origin = "He et al. 2016, Fig. 5; torchvision/timm `Bottleneck`; ResNeXt (Xie et al. 2017), WRN (Zagoruyko 2016)"
    depth = 3
    layout = RESNET
    out_act = "relu3"

    Options = BottleneckOptions

    def inner(self, width: int, o: BottleneckOptions) -> int:
        """Width of the 3x3 conv."""
        return int(width * o.base_width / 64) * o.groups

    def out_channels(self, width: int, o: BottleneckOptions) -> int:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        return width * o.expansion

    def check(self, width: int, o: BottleneckOptions) -> str | None:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        if int(width * o.base_width / 64) < 1:
            return f"the 3x3 conv would have 0 channels at base_width {o.base_width}"
        return None

    def emit(self, k: BlockContext, o: BottleneckOptions) -> str:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        w = self.inner(k.width, o)
        s1, s3 = (k.stride, 1) if o.stride_at == "1x1" else (1, k.stride)
        y = k.relu("relu1", k.bn("bn1", k.conv("conv1", k.x, k.c_in, w, 1, s1), w))
        y = k.relu("relu2", k.bn("bn2", k.conv("conv2", y, w, w, 3, s3, o.groups), w))
        y = k.bn("bn3", k.conv("conv3", y, w, k.c_out, 1), k.c_out, last=True)
        return k.attend(y, k.c_out, o.attention)
