"""Compile + all graph passes: resnet152 should take well under 100 ms, CIFAR resnet1202 under 1 s.

    .venv/bin/python -m pytest bench/test_compile_speed.py --benchmark-columns=min,median,mean,max,rounds

Not run by the test step (``testpaths = tests``); ``make test`` runs the
``bench_smoke`` case once as a smoke test. Figures are recorded in docs/graph.md.
"""

from __future__ import annotations

import pytest

from resgraph.graph import compile_spec, run_passes
from resgraph.graph.analyze import analyze
from resgraph.spec import load_spec

NETS = ["resnet50", "resnet152", "resnet1202"]


@pytest.mark.parametrize("name", NETS)
def test_compile_and_passes(benchmark, name):
    spec = load_spec(name)  # parsing YAML is not the compiler's cost
    benchmark.group = "compile + passes"
    g = benchmark(lambda: run_passes(compile_spec(spec)))
    assert g.graph["depth"] == spec.depth


@pytest.mark.parametrize("name", NETS)
def test_compile_only(benchmark, name):
    spec = load_spec(name)
    benchmark.group = "compile only"
    g = benchmark(compile_spec, spec)
    assert g.number_of_nodes() > 0


@pytest.mark.parametrize("name", NETS)
def test_passes_only(benchmark, name):
    spec = load_spec(name)
    benchmark.group = "passes only"
    g = compile_spec(spec)
    benchmark(run_passes, g)  # passes overwrite their keys: re-running on one graph is the same work
    assert g.graph["depth"] == spec.depth


@pytest.mark.parametrize("name", NETS)
def test_analyze(benchmark, name):
    spec = load_spec(name)
    benchmark.group = "compile + analyze (what `resgraph summary` does per spec)"
    s = benchmark(lambda: analyze(compile_spec(spec)))
    assert s.depth == spec.depth


@pytest.mark.bench_smoke
def test_smoke_resnet152_compile_and_passes(benchmark):
    spec = load_spec("resnet152")
    g = benchmark.pedantic(lambda: run_passes(compile_spec(spec)), rounds=3, iterations=1)
    assert g.graph["params"] == 60_192_808
