"""Parameter-free ops that torch.nn has no module for: the option-A shortcut."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def shortcut_a(x: torch.Tensor, c_in: int, c_out: int, stride: int) -> torch.Tensor:
    """Option A (paper §3.3): ``x[:, :, ::stride, ::stride]``, then zero channels ``c_in..c_out`` appended.

    Identity channels come first, zeros after. ``c_in`` is passed rather than read
    from ``x.shape`` so that fx re-tracing (``symbolic_trace``) sees plain ints.
    """
    if stride != 1:
        x = x[:, :, ::stride, ::stride]
    if c_out != c_in:
        # F.pad's pairs run from the last dim backwards: (W, W, H, H, C_before, C_after).
        x = F.pad(x, (0, 0, 0, 0, 0, c_out - c_in))
    return x
