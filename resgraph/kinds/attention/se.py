"""Squeeze-and-excitation (Hu et al. 2018) after the branch's last BN, as timm's ``SEModule``:
global average pool, 1x1 conv down to C/reduction (rounded to the divisor), ReLU, 1x1 conv back
up, sigmoid, and the branch scaled by that gate. Named ``se.fc1`` / ``se.fc2`` as timm.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from resgraph.kinds.base import ATTENTION, AttentionKind, AttentionOptions, BlockContext


def reduced(c: int, reduction: int, divisor: int) -> int:
    """timm's ``make_divisible(c * (1 / reduction), divisor, round_limit=0)``: nearest multiple, at least ``divisor``.

    Computed as timm does, ``c * (1.0 / reduction)``, so that the float rounds the same way.
    """
    return max(divisor, int(c * (1.0 / reduction) + divisor / 2) // divisor * divisor)


class SEOptions(AttentionOptions):
    """Options of squeeze-and-excitation."""

    type: Literal["se"] = "se"
    reduction: int = Field(16, ge=1, le=65_536, description="squeeze C to C/reduction channels")
    divisor: int = Field(8, ge=1, le=65_536, description="round the squeezed width to a multiple of this")


@ATTENTION.register
class SqueezeExcite(AttentionKind):
    name = "se"
    label = "SE"
    colour = "#8e7cc3"
    origin = "Hu et al. 2018; timm `attn_layer='se'` (seresnet50, seresnext50_32x4d)"

    Options = SEOptions

    def check(self, c: int, o: SEOptions) -> str | None:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        rd = reduced(c, o.reduction, o.divisor)
        if rd > c:
            return (f"the squeeze would widen {c} channels to {rd} (C/{o.reduction} rounded up to a multiple of "
                    f"{o.divisor}); use a smaller divisor")
        return None

    def emit(self, k: BlockContext, x: str, c: int, o: SEOptions) -> str:  # type: ignore[override]  # the registry hands a kind only its own Options (looked up by `type`)
        b, p = k.b, k.name("se")
        rd = reduced(c, o.reduction, o.divisor)
        y = b.add(f"{p}.pool", "avgpool", [x], "attention")
        y = b.conv(f"{p}.fc1", y, c, rd, 1, role="attention", bias=True)
        y = b.relu(f"{p}.act", y, "attention")
        y = b.conv(f"{p}.fc2", y, rd, c, 1, role="attention", bias=True)
        y = b.add(f"{p}.gate", "sigmoid", [y], "attention")
        return b.add(f"{p}.mul", "mul", [x, y], "attention")
