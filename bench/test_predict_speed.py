"""Speed of `predict`: 1,000 specs from the docs profile (issue 18's target: under 1 s in all).

    flock /tmp/resgraph-cpu.lock .venv/bin/python -m pytest bench/test_predict_speed.py \\
        --benchmark-columns=min,median,max,rounds

Each case predicts 1,000 specs with one fitted model (fitting is not counted: it is once per
profile). ``cold`` starts from an empty part cache, as one `resgraph predict` command does; ``warm``
predicts specs whose parts are compiled already, as a search's later trials do; ``whole`` compiles
every spec whole, the path predict took before the part cache (the same segments, see
tests/latency/test_parts.py). Predictions per second are in each row's extra info; figures are
recorded in docs/latency.md.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytest.importorskip("sklearn", reason="the latency model needs scikit-learn (the `train` extra)")

import resgraph.latency.predict as predict_module  # noqa: E402
from resgraph.latency.model import LatencyModel  # noqa: E402
from resgraph.latency.parts import PartCache, compiled_segments  # noqa: E402
from resgraph.latency.predict import named_segments, predict_specs  # noqa: E402
from resgraph.latency.profile import read_profile  # noqa: E402
from resgraph.latency.space import draw_spec  # noqa: E402
from resgraph.search.sample import sample_specs  # noqa: E402
from resgraph.search.space import load_space  # noqa: E402
from resgraph.spec import dump_spec  # noqa: E402

PROFILE = Path(__file__).resolve().parents[1] / "docs" / "data" / "latency" / "profile-eager-fp32-b1.jsonl"
N = 1000


@pytest.fixture(scope="module")
def model() -> LatencyModel:
    return LatencyModel(read_profile(PROFILE))


@pytest.fixture(scope="module", params=["imagenet_resnet", "cifar_resnet"])
def specs(request) -> list:
    return sample_specs(load_space(request.param), N, seed=0)[0]


def _rate(benchmark, n: int) -> None:
    benchmark.extra_info["specs"] = n
    benchmark.extra_info["predictions_per_s"] = round(n / benchmark.stats.stats.median)


def _fresh_cache() -> None:
    predict_module._PARTS = PartCache()


def test_predict_cold(benchmark, model, specs):
    benchmark.group = f"predict {N} design-space specs"
    preds = benchmark.pedantic(predict_specs, args=(model, specs), setup=_fresh_cache, rounds=3, iterations=1)
    assert len(preds) == N
    _rate(benchmark, N)


def test_predict_warm(benchmark, model, specs):
    benchmark.group = f"predict {N} design-space specs"
    predict_specs(model, specs)
    preds = benchmark.pedantic(predict_specs, args=(model, specs), rounds=3, iterations=1)
    assert len(preds) == N
    _rate(benchmark, N)


def test_predict_whole(benchmark, model, specs):
    benchmark.group = f"predict {N} design-space specs"
    preds = benchmark.pedantic(lambda: model.predict_many([named_segments(s, *compiled_segments(s)) for s in specs]),
                               rounds=1, iterations=1)
    assert len(preds) == N
    _rate(benchmark, N)


def test_predict_files(benchmark, model, tmp_path):
    """1,000 arguments naming 16 spec files, as the command line gets them: each file is read once."""
    rng = random.Random(1000)
    files = []
    for i in range(16):
        spec = draw_spec(rng, f"heldout{i}")
        path = tmp_path / f"{spec.name}.yaml"
        path.write_text(dump_spec(spec), encoding="utf-8")
        files.append(str(path))
    refs = [files[i % len(files)] for i in range(N)]
    benchmark.group = f"predict {N} spec files (16 distinct)"
    preds = benchmark.pedantic(predict_specs, args=(model, refs), setup=_fresh_cache, rounds=3, iterations=1)
    assert len(preds) == N
    _rate(benchmark, N)


@pytest.mark.bench_smoke
def test_smoke_predict(benchmark, model):
    few = sample_specs(load_space("imagenet_resnet"), 50, seed=0)[0]
    preds = benchmark.pedantic(predict_specs, args=(model, few), setup=_fresh_cache, rounds=1, iterations=1)
    assert len(preds) == 50
