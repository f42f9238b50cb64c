"""Option A (paper §3.3): the identity; where dimensions increase, subsample and zero-pad. Parameter-free."""

from __future__ import annotations

from resgraph.kinds.base import SHORTCUTS, ShortcutContext, ShortcutKind


@SHORTCUTS.register
class OptionA(ShortcutKind):
    name = "A"
    label = "A: zero-pad + subsample"
    colour = "#fce5cd"
    edge = ("#e69138", "bold", "A")
    origin = "He et al. 2016, §3.3 (the CIFAR-10 nets)"

    def emit(self, s: ShortcutContext, x: str) -> str | None:
        if not s.changes:
            return None
        return s.b.add(f"{s.block}.shortcut", "shortcut_a", [x], "shortcut", c_in=s.c_in, c_out=s.c_out,
                       stride=s.stride)

    def check(self, c_in: int, c_out: int, stride: int) -> str | None:
        if c_out < c_in:
            return (f"shortcut A cannot shrink channels ({c_in} -> {c_out}): the identity would have to drop "
                    "channels; use another shortcut option for this stage")
        return None
