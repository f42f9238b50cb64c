"""The paper's ImageNet stem (Table 1): 7x7/2 conv, BN, ReLU, 3x3/2 max-pool."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from resgraph.kinds.base import STEMS, StemKind, StemOptions


class ImageNetStemOptions(StemOptions):
    """Options of the ImageNet stem."""

    type: Literal["imagenet"] = "imagenet"
    width: int | None = Field(None, ge=1, le=65_536, description="output channels; default 64")


@STEMS.register
class ImageNetStem(StemKind):
    name = "imagenet"
    label = "conv 7x7/2 + max-pool"
    colour = "#ead1dc"
    origin = "He et al. 2016, Table 1; torchvision `conv1`"
    default_width = 64
    pool = True

    Options = ImageNetStemOptions

    def convs(self, o: StemOptions) -> list[tuple[int, int, int]]:
        return [(self.out_channels(o), 7, 2)]
