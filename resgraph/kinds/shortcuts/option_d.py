"""Option D (ResNet-D, "Bag of Tricks", He et al. 2019; timm ``avg_down``): where dimensions change, a
2x2 average pool with the block's stride (ceil mode, padding not counted; none at stride 1), then a
1x1 conv and BN. The projection sees every input pixel instead of one in four.
"""

from __future__ import annotations

from resgraph.kinds.base import SHORTCUTS, ShortcutContext, ShortcutKind


@SHORTCUTS.register
class OptionD(ShortcutKind):
    name = "D"
    label = "D: avg-pool + projection where dimensions change"
    colour = "#d0e0e3"
    edge = ("#45818e", "bold", "D")
    origin = "He et al. 2019 (Bag of Tricks), ResNet-D; timm `avg_down=True`"

    def emit(self, s: ShortcutContext, x: str) -> str | None:
        if not s.changes:
            return None
        if s.stride > 1:  # part 0; at stride 1 it is timm's nn.Identity, and the conv keeps index 1
            x = s.b.add(s.part(0, "pool"), "avgpool2d", [x], "shortcut", kernel=2, stride=s.stride, padding=0,
                        ceil_mode=True, count_include_pad=False)
        return s.projection(x, index=1, stride=1)
