"""The fast path of predict (each distinct part compiled once) gives what compiling every spec whole gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from resgraph.graph import compile_spec, run_passes
from resgraph.graph.ir import ops_in_order
from resgraph.latency.parts import PartCache, compiled_segments
from resgraph.latency.predict import expand, named_segments
from resgraph.latency.space import draw_spec
from resgraph.search.sample import sample_specs
from resgraph.search.space import load_space
from resgraph.spec import load_spec

PROFILE = Path(__file__).resolve().parents[2] / "docs" / "data" / "latency" / "profile-eager-fp32-b1.jsonl"


@pytest.fixture(scope="module")
def specs() -> list:
    specs = [load_spec(p) for p in ("resnet18", "resnet50", "resnet101", "resnet20", "preact_resnet164",
                                        "plain20", "resnetv2_50d", "ecaresnet50d")]
    specs.append(specs[1].model_copy(update={"drop_path": 0.2, "name": "resnet50_dp"}))  # rates enter the signature
    # Option C projects in every block; a pre-activation projection names its block's scope ("before"),
    # so layer1.0 and layer1.1 (same shapes) have two signatures: the cache must not share them.
    specs.append(load_spec("preact_resnet110").model_copy(update={"shortcut": "C", "name": "preact_c"}))
    # resnet20 with a fourth stage that keeps 64x8x8: the same head, after four stages, not three.
    r20 = specs[3]
    specs.append(r20.model_copy(update={"name": "r20_four", "stages": [*r20.stages, r20.stages[-1].model_copy(
        update={"stride": 1})]}))
    specs += sample_specs(load_space("imagenet_resnet"), 12, seed=7)[0]
    specs += sample_specs(load_space("cifar_resnet"), 12, seed=7)[0]
    rng = random.Random(11)
    return specs + [draw_spec(rng, f"draw{i}") for i in range(12)]  # every block, shortcut, stem and attention kind



def test_parts_give_the_segments_of_the_whole_compiled_network(specs):
    cache = PartCache()
    for spec in specs:
        assert cache.short_segments(spec) == compiled_segments(spec), spec.name
    assert 0 < len(cache) < sum(len(compiled_segments(s)[0]) for s in specs)  # parts were shared, not recompiled
    again = [cache.short_segments(s) for s in specs]  # and a cached part placed at another scope is still exact
    assert again == [compiled_segments(s) for s in specs]


@pytest.fixture(scope="module")
def model():
    pytest.importorskip("sklearn", reason="the latency model needs scikit-learn (the `train` extra)")
    from resgraph.latency.model import LatencyModel
    from resgraph.latency.profile import read_profile

    return LatencyModel(read_profile(PROFILE))


def test_fast_predictions_equal_the_slow_path(specs, model):
    fast = [p.to_dict() for p in model.predict_many([expand(s, PartCache()) for s in specs])]
    slow = [p.to_dict() for p in model.predict_many([named_segments(s, *compiled_segments(s)) for s in specs])]
    assert fast == slow
    assert [p["spec"] for p in fast][:3] == ["resnet18", "resnet50", "resnet101"]
    assert expand(specs[1])[2] == run_passes(compile_spec(specs[1])).graph["macs"]  # the counts stay exact


def test_ops_in_order_is_the_insertion_order_when_that_is_topological():
    import networkx as nx

    g = compile_spec(load_spec("resnet50"))
    order = {n: i for i, n in enumerate(g.nodes)}
    assert ops_in_order(g) == list(nx.lexicographical_topological_sort(g, key=order.__getitem__))
    h = nx.DiGraph([("b", "a"), ("c", "b")])  # added out of order: the full sort still runs
    assert ops_in_order(h) == ["c", "b", "a"]


def test_a_prediction_does_not_depend_on_what_else_is_predicted(model):
    from resgraph.latency.predict import predict_specs

    # Option B and C project alike where the shape changes: one signature, two kinds, and the kind is a
    # feature of the regression. Predicted together or after each other, each keeps its own.
    b = sample_specs(load_space("cifar_resnet"), 40, seed=0)[0][39]
    c = b.model_copy(update={"shortcut": "C", "name": "c"})
    shared = {x.signature for x in expand(b)[1]} & {x.signature for x in expand(c)[1]}
    assert shared - set(model.profile.segments)  # a regressed segment they share
    model._regressed.clear()
    alone = [predict_specs(model, [x])[0].p50_ms for x in (b, c)]
    model._regressed.clear()
    assert [p.p50_ms for p in predict_specs(model, [b, c])] == alone
    assert [p.p50_ms for p in predict_specs(model, [c, b])][::-1] == alone
