"""bench/conftest.py builds resgraph's model for every name, or fails saying why: never another library's model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from torch import fx

import resgraph.lower
from resgraph.errors import SpecError

CONFTEST = Path(__file__).resolve().parents[2] / "bench" / "conftest.py"


@pytest.fixture(scope="module")
def suites():
    spec = importlib.util.spec_from_file_location("resgraph_bench_conftest", CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_name_is_resgraphs_own_module(suites):
    model, shape = suites.build_model("resnet20")
    assert isinstance(model, fx.GraphModule) and not model.training and shape == (3, 32, 32)
    assert sum(p.numel() for p in model.parameters()) == 269_722  # paper Table 6, option A


@pytest.mark.parametrize("error", [ImportError("no module named 'resgraph.lower.fx'"), AttributeError("broken")])
def test_a_failing_build_fails_loudly_instead_of_benchmarking_torchvision(suites, monkeypatch, error):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(resgraph.lower, "build_model", broken)
    with pytest.raises(type(error), match=str(error).replace("(", r"\(")):
        suites.build_model("resnet18")


def test_a_name_resgraph_cannot_build_is_its_spec_error(suites):
    with pytest.raises(SpecError, match="vgg16"):  # a torchvision name, not a resgraph spec or preset
        suites.build_model("vgg16")


def test_the_suites_never_construct_torchvision_models():
    assert "torchvision" not in CONFTEST.read_text(encoding="utf-8")
