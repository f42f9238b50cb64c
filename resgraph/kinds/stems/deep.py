"""Deep stems ("Bag of Tricks", He et al. 2019; timm ``stem_type='deep'`` and ``'deep_tiered'``):
three 3x3 convs (the first strided) in place of the 7x7, BN and ReLU after each, then the max-pool.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from resgraph.kinds.base import STEMS, StemKind, StemOptions

_Channels = Annotated[int, Field(ge=1, le=65_536)]


class _DeepOptions(StemOptions):
    width: int | None = Field(None, ge=1, le=65_536, description="output channels (the third conv); default 64")
    mid: tuple[_Channels, _Channels] | None = Field(
        None, description="channels of the first two convs; default [width/2, width/2] (deep) or "
                          "[3/8 width, width/2] (tiered)")

    @field_validator("mid", mode="before")
    @classmethod
    def _list_to_pair(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v  # YAML/JSON have no tuples


class DeepStemOptions(_DeepOptions):
    """Options of the deep stem."""

    type: Literal["deep"] = "deep"


class TieredStemOptions(_DeepOptions):
    """Options of the tiered stem."""

    type: Literal["tiered"] = "tiered"


class _Deep(StemKind):
    default_width = 64
    pool = True

    def mid(self, width: int) -> tuple[int, int]:
        raise NotImplementedError

    def convs(self, o: StemOptions) -> list[tuple[int, int, int]]:
        width = self.out_channels(o)
        c1, c2 = getattr(o, "mid", None) or self.mid(width)
        return [(c1, 3, 2), (c2, 3, 1), (width, 3, 1)]


@STEMS.register
class DeepStem(_Deep):
    name = "deep"
    colour = "#d9d2e9"
    label = "3 convs 3x3 (deep) + max-pool"
    origin = "He et al. 2019 (ResNet-C/D); timm `stem_type='deep'`"

    Options = DeepStemOptions

    def mid(self, width: int) -> tuple[int, int]:
        return (width // 2, width // 2)  # timm: stem_width 32 -> 32, 32, 64


@STEMS.register
class TieredStem(_Deep):
    name = "tiered"
    colour = "#d0e0e3"
    label = "3 convs 3x3 (tiered) + max-pool"
    origin = "timm `stem_type='deep_tiered'` (resnet50t, ecaresnet50t)"

    Options = TieredStemOptions

    def mid(self, width: int) -> tuple[int, int]:
        return (3 * (width // 2 // 4), width // 2)  # timm: stem_width 32 -> 24, 32, 64
