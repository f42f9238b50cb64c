"""Helpers shared by the lowering tests (a uniquely named module: `import conftest` could find another one)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial running stats and affine parameters (in place), so that
    comparisons exercise them; the scale stays near 1 so deep nets keep finite outputs."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.weight.copy_(torch.rand(c, generator=gen) * 0.5 + 0.5)
            m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
    return model


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    """max |out - ref| / max |ref|: an error relative to the output's scale."""
    return ((out.float() - ref.float()).abs().max() / ref.float().abs().max().clamp_min(1e-12)).item()
