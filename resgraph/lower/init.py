"""Weight initialisation as torchvision's ResNet, drawn once per tensor.

Convs: Kaiming normal, ``fan_out``, gain for ReLU. BatchNorm: weight 1, bias 0,
running stats reset. Linear: PyTorch's default (Kaiming uniform with a=sqrt(5),
bias uniform in +-1/sqrt(fan_in)). ``zero_init`` names BNs whose weight starts
at 0 (the last BN of each residual branch under ``zero_init_residual``), so each
block starts as the identity (Goyal et al., 2017).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def init_weights(model: nn.Module, zero_init: Iterable[str] = (),
                 generator: torch.Generator | None = None) -> nn.Module:
    """Initialise every Conv2d, BatchNorm2d and Linear of ``model`` in place; returns ``model``."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            if m.bias is not None:
                _default_bias(m.bias, m.weight, generator)
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            if m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                _default_bias(m.bias, m.weight, generator)
    for name in zero_init:
        bn = model.get_submodule(name)
        if not isinstance(bn, nn.BatchNorm2d):
            raise ValueError(f"zero_init: {name!r} is a {type(bn).__name__}, not a BatchNorm2d")
        nn.init.zeros_(bn.weight)
    return model


def _default_bias(bias: torch.Tensor, weight: torch.Tensor, generator: torch.Generator | None) -> None:
    """PyTorch's default bias init for conv/linear: uniform in +-1/sqrt(fan_in)."""
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    nn.init.uniform_(bias, -bound, bound, generator=generator)
