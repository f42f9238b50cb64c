"""The IR's counts cross-checked against PyTorch itself, on every preset.

MACs: FlopCounterMode counts 2 FLOPs per multiply-add of conv and linear (the
IR's MACs are conv + fc, DESIGN.md). Parameters: sum(p.numel()) of the module.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from resgraph.graph import compile_spec
from resgraph.graph.analyze import analyze
from resgraph.lower import build_model
from resgraph.spec import load_spec, preset_names

# DESIGN.md's reference figures (torchvision weights meta; paper Table 6).
REFERENCE_PARAMS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
    "resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018,
    "resnet110": 1_727_962, "resnet1202": 19_421_274,
}
REFERENCE_GMACS = {"resnet18": 1.814, "resnet34": 3.664, "resnet50": 4.089, "resnet101": 7.801, "resnet152": 11.514}

SLOW = {"resnet1202"}  # ~5-15 s on 2 cores: 1202 layers at 32x32


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in preset_names()])
def test_ir_counts_equal_pytorch_counts(name):
    g = compile_spec(load_spec(name))
    summary = analyze(g)
    model = build_model(g, seed=0).eval()
    c, h, w = g.graph["input_shape"]
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = model(torch.randn(1, c, h, w))
    assert out.shape == (1, load_spec(name).head.classes)
    assert counter.get_total_flops() / 2 == pytest.approx(summary.macs, rel=1e-3)
    assert sum(p.numel() for p in model.parameters()) == summary.params
    if name in REFERENCE_PARAMS:
        assert summary.params == REFERENCE_PARAMS[name]
    if name in REFERENCE_GMACS:
        assert summary.macs / 1e9 == pytest.approx(REFERENCE_GMACS[name], abs=5e-4)
