"""Weight initialisation as torchvision's ResNet, drawn once per tensor.

Convs: Kaiming normal, ``fan_out``, gain for ReLU (a conv's bias, as in SE's
1x1 convs, PyTorch's default). BatchNorm: weight 1, bias 0, running stats reset.
Linear and ECA's 1-D conv: PyTorch's default (Kaiming uniform with a=sqrt(5),
bias uniform in +-1/sqrt(fan_in)), as timm leaves them. ``zero_init`` names the
BNs (or, in pre-activation blocks, the convs) whose weight starts at 0: the last
layer of each residual branch under ``zero_init_residual``, so each block starts
as the identity (Goyal et al., 2017). ``classifier`` names 1x1-conv classifiers
(timm's ResNetV2 head), drawn as timm draws them: N(0, 0.01), bias 0. A module
type with parameters that is not listed here is an error, never left uninitialised.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def init_weights(model: nn.Module, zero_init: Iterable[str] = (), generator: torch.Generator | None = None,
                 classifier: Iterable[str] = ()) -> nn.Module:
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
        elif isinstance(m, (nn.Linear, nn.Conv1d)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                _default_bias(m.bias, m.weight, generator)
        elif any(True for _ in m.parameters(recurse=False)):
            raise TypeError(f"init_weights: no rule for {type(m).__name__}, which has parameters")
    for name in classifier:  # a 1x1-conv classifier (timm's ResNetV2 head): weight N(0, 0.01), bias 0, as timm
        conv = model.get_submodule(name)
        if not isinstance(conv, nn.Conv2d):
            raise ValueError(f"classifier: {name!r} is a {type(conv).__name__}, not a Conv2d")
        nn.init.normal_(conv.weight, 0.0, 0.01, generator=generator)
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
    for name in zero_init:
        layer = model.get_submodule(name)
        if not isinstance(layer, (nn.BatchNorm2d, nn.Conv2d)):
            raise ValueError(f"zero_init: {name!r} is a {type(layer).__name__}, not a BatchNorm2d or Conv2d")
        nn.init.zeros_(layer.weight)
    return model


def _default_bias(bias: torch.Tensor, weight: torch.Tensor, generator: torch.Generator | None) -> None:
    """PyTorch's default bias init for conv/linear: uniform in +-1/sqrt(fan_in)."""
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    nn.init.uniform_(bias, -bound, bound, generator=generator)
