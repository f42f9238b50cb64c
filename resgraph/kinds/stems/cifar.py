"""The paper's CIFAR-10 stem (§4.2): one 3x3 conv of 16 filters, BN, ReLU, no pool."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from resgraph.kinds.base import STEMS, StemKind, StemOptions


class CifarStemOptions(StemOptions):
    """Options of the CIFAR stem."""

    type: Literal["cifar"] = "cifar"
    width: int | None = Field(None, ge=1, le=65_536, description="output channels; default 16")


@STEMS.register
class CifarStem(StemKind):
    name = "cifar"
    label = "conv 3x3"
    colour = "#f4cccc"
    origin = "He et al. 2016, §4.2"
    default_width = 16
    pool = False

    Options = CifarStemOptions

    def convs(self, o: StemOptions) -> list[tuple[int, int, int]]:
        return [(self.out_channels(o), 3, 1)]
