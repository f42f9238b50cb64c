"""Ops that torch.nn has no module for: the option-A shortcut, ECA's channel conv, stochastic depth."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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


class ChannelConv(nn.Conv1d):
    """ECA's gate conv (Wang et al. 2020): a 1-D conv of odd ``kernel`` sliding across channels.

    A ``Conv1d(1, 1, kernel)`` so its one ``weight`` loads timm's ``se.conv.weight``;
    this forward takes and returns the pooled (N, C, 1, 1) map, as timm's views do.
    """

    def __init__(self, kernel: int) -> None:
        super().__init__(1, 1, kernel, padding=(kernel - 1) // 2, bias=False, device="meta")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(1).unsqueeze(1)).view(x.shape)


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, zero a sample's residual branch with
    probability ``rate`` and scale the kept ones by 1/(1 - rate); in eval, the identity.
    """

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"
