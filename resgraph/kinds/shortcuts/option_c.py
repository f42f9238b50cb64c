"""Option C (paper §3.3): every shortcut is a projection (1x1 conv + BN)."""

from __future__ import annotations

from resgraph.kinds.base import SHORTCUTS, ShortcutContext, ShortcutKind


@SHORTCUTS.register
class OptionC(ShortcutKind):
    name = "C"
    label = "C: projection on every block"
    colour = "#9fc5e8"
    edge = ("#0b5394", "bold", "proj")
    origin = "He et al. 2016, §3.3, Table 3"

    def emit(self, s: ShortcutContext, x: str) -> str | None:
        return s.projection(x)
