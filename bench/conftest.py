"""pytest-benchmark suites for resgraph: model construction and the parameter grid.

The grid comes from environment variables (comma-separated), so a run can be
widened without editing code:

    RESGRAPH_BENCH_MODELS    default "resnet18"
    RESGRAPH_BENCH_BACKENDS  default "eager,channels_last,folded"
    RESGRAPH_BENCH_BATCHES   default "1"
    RESGRAPH_BENCH_PRECISION default "fp32"
    RESGRAPH_BENCH_DEVICE    default "cpu"
    RESGRAPH_BENCH_THREADS   default: torch's current thread count

The `bench_smoke` slice (tiny model, eager, batch 1) is always added.
"""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from resgraph.bench.toy import tiny_resnet
from resgraph.errors import ResgraphError

SMOKE = ("tiny", "eager", 1)


def _env_list(name: str, default: str) -> list[str]:
    """A comma-separated environment variable as a list."""
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


def build_model(name: str) -> tuple[nn.Module, tuple[int, int, int]]:
    """An fp32 eval-mode model and its (C, H, W) input, built by resgraph from the spec or preset ``name``.

    Never another library's model in its place: these suites measure resgraph's
    module, so a name resgraph cannot build is an error (a SpecError naming it),
    and a broken import is the ImportError itself.
    """
    if name == "tiny":
        return tiny_resnet(), (3, 32, 32)
    from resgraph.lower import build_model as lower
    from resgraph.spec import load_spec

    spec = load_spec(name)
    return lower(spec).eval(), (spec.input.channels, *spec.input.hw)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize every test taking (model_name, backend, batch) over the configured grid."""
    if {"model_name", "backend", "batch"} <= set(metafunc.fixturenames):
        grid = [
            (m, b, int(n))
            for m in _env_list("RESGRAPH_BENCH_MODELS", "resnet18")
            for b in _env_list("RESGRAPH_BENCH_BACKENDS", "eager,channels_last,folded")
            for n in _env_list("RESGRAPH_BENCH_BATCHES", "1")
        ]
        params = [pytest.param(*SMOKE, marks=pytest.mark.bench_smoke, id="-".join(map(str, SMOKE)))]
        params += [pytest.param(*p, id="-".join(map(str, p))) for p in grid if p != SMOKE]
        metafunc.parametrize(("model_name", "backend", "batch"), params)


@pytest.fixture(scope="session")
def settings() -> dict[str, object]:
    """Device, precision and threads of this run; threads are fixed for the whole session."""
    threads = int(os.environ.get("RESGRAPH_BENCH_THREADS", torch.get_num_threads()))
    torch.set_num_threads(threads)
    return {
        "device": os.environ.get("RESGRAPH_BENCH_DEVICE", "cpu"),
        "precision": os.environ.get("RESGRAPH_BENCH_PRECISION", "fp32"),
        "threads": threads,
    }


@pytest.fixture
def model_and_shape(model_name: str) -> tuple[nn.Module, tuple[int, int, int]]:
    """The parametrized model, freshly built, and its input shape; a name resgraph cannot build fails the test."""
    try:
        return build_model(model_name)
    except ResgraphError as exc:  # one line naming the value (RESGRAPH_BENCH_MODELS), not a traceback
        pytest.fail(f"RESGRAPH_BENCH_MODELS: {exc}", pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ANN001, ARG001
    """A failed --benchmark-compare-fail check ends in one line and exit 1, not pytest-benchmark's traceback."""
    from pytest_benchmark.session import PerformanceRegression

    try:
        return (yield)
    except PerformanceRegression:
        pytest.exit("performance has regressed: the checks that failed are listed above", returncode=1)
