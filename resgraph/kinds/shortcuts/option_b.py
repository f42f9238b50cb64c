"""Option B (paper §3.3): the identity, except a projection (1x1 conv + BN) where dimensions change.

torchvision's and timm's ResNets are option B.
"""

from __future__ import annotations

from resgraph.kinds.base import SHORTCUTS, ShortcutContext, ShortcutKind


@SHORTCUTS.register
class OptionB(ShortcutKind):
    name = "B"
    label = "B: projection where dimensions change"
    colour = "#cfe2f3"
    edge = ("#3d85c6", "bold", "proj")
    origin = "He et al. 2016, §3.3; torchvision, timm"

    def emit(self, s: ShortcutContext, x: str) -> str | None:
        return s.projection(x) if s.changes else None
