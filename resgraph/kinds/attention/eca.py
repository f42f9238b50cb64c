"""Efficient channel attention (Wang et al. 2020) as timm's ``EcaModule``: global average pool,
a 1-D conv of odd kernel across the channels (no bias), sigmoid, and the branch scaled by that
gate. Named ``se.conv`` as timm's ResNets name it.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from resgraph.kinds.base import ATTENTION, AttentionKind, AttentionOptions, BlockContext


def eca_kernel(c: int, gamma: int = 2, beta: int = 1) -> int:
    """The paper's adaptive kernel: the odd number nearest |log2(C) + beta| / gamma, at least 3."""
    t = int(abs(math.log(c, 2) + beta) / gamma)
    return max(t if t % 2 else t + 1, 3)


class ECAOptions(AttentionOptions):
    """Options of ECA."""

    type: Literal["eca"] = "eca"
    kernel: int | None = Field(None, ge=1, le=255, description="odd kernel; default from the channels "
                                                              "(|log2 C + 1| / 2, odd, at least 3)")

    @field_validator("kernel")
    @classmethod
    def _odd(cls, v: int | None) -> int | None:
        if v is not None and v % 2 == 0:
            raise ValueError("must be odd, so the conv keeps the channel count")
        return v


@ATTENTION.register
class EfficientChannel(AttentionKind):
    name = "eca"
    label = "ECA"
    colour = "#c27ba0"
    origin = "Wang et al. 2020; timm `attn_layer='eca'` (ecaresnet50d)"

    Options = ECAOptions

    def emit(self, k: BlockContext, x: str, c: int, o: ECAOptions) -> str:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        b, p = k.b, k.name("se")
        y = b.add(f"{p}.pool", "avgpool", [x], "attention")
        y = b.add(f"{p}.conv", "channel_conv", [y], "attention", kernel=o.kernel or eca_kernel(c))
        y = b.add(f"{p}.gate", "sigmoid", [y], "attention")
        return b.add(f"{p}.mul", "mul", [x, y], "attention")
