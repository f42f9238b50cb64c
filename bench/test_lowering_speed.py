"""Lowering speed, resgraph vs torchvision: build (spec -> initialised module) and eager forward.

    .venv/bin/python -m pytest bench/test_lowering_speed.py --benchmark-group-by=group \
        --benchmark-columns=min,median,max,rounds

These track absolute times across commits. The A/B ratios in docs/lowering.md
come from bench/compare_torchvision.py, which interleaves the two models in one
loop so that load on a shared machine hits both alike; pytest-benchmark runs
one case after the other. ``make test`` runs the ``bench_smoke`` case once.
"""

from __future__ import annotations

import pytest
import torch

from resgraph.lower import build_model
from resgraph.spec import load_spec

IMPLS = ["resgraph", "torchvision"]


def _torchvision_model(name: str):
    """torchvision's constructor for ``name``; its cases skip, saying why, where torchvision (a dev extra) is absent."""
    tv = pytest.importorskip("torchvision", reason="the torchvision side of the comparison needs torchvision "
                                                   "(pip install -e '.[dev]')")
    return getattr(tv.models, name)


def _builder(impl: str, name: str):
    if impl == "torchvision":
        return _torchvision_model(name)
    spec = load_spec(name)  # parsing YAML is not the lowering's cost
    return lambda: build_model(spec)


@pytest.mark.parametrize("impl", IMPLS)
def test_build_resnet152(benchmark, impl):
    benchmark.group = "build resnet152"
    model = benchmark.pedantic(_builder(impl, "resnet152"), rounds=5, warmup_rounds=1)
    assert sum(p.numel() for p in model.parameters()) == 60_192_808


@pytest.mark.parametrize("batch", [1, 16])
@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
@pytest.mark.parametrize("impl", IMPLS)
def test_forward(benchmark, impl, name, batch):
    benchmark.group = f"forward {name} batch {batch}"
    ours = build_model(name, seed=0).eval()
    model = ours
    if impl == "torchvision":
        model = _torchvision_model(name)().eval()
        model.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(batch, 3, 224, 224)

    def forward() -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    out = benchmark.pedantic(forward, rounds=10 if batch == 1 else 3, warmup_rounds=1)
    assert out.shape == (batch, 1000)


@pytest.mark.bench_smoke
def test_lower_and_run_resnet20_smoke(benchmark):
    benchmark.group = "smoke"
    spec = load_spec("resnet20")
    x = torch.randn(1, 3, 32, 32)

    def build_and_run() -> torch.Tensor:
        with torch.inference_mode():
            return build_model(spec, seed=0).eval()(x)

    out = benchmark.pedantic(build_and_run, rounds=3, warmup_rounds=1)
    assert out.shape == (1, 10)
