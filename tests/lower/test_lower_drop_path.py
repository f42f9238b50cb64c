"""Stochastic depth: a drop-path rate linear in depth, active in training only; it changes nothing in
eval, in the counts, in the state_dict or in the ONNX export."""

from __future__ import annotations

import pytest
import torch

from resgraph.graph import compile_spec
from resgraph.graph.analyze import analyze
from resgraph.lower import build_model
from resgraph.spec import load_spec


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dp")
    path = folder / "dp.yaml"
    path.write_text("extends: resnet20\nname: resnet20_dp\ndrop_path: 0.4\n")
    return load_spec("resnet20"), load_spec(path)


def test_rate_is_linear_in_depth_zero_first_and_the_rate_last(pair):
    _, dp = pair
    g = compile_spec(dp)
    rates = [g.nodes[f"{b['scope']}.add"].get("drop_path", 0.0) for b in g.graph["blocks"]]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.4)
    assert rates == pytest.approx([0.4 * i / 8 for i in range(9)])  # timm's rule: rate * i / (N - 1)


def test_counts_graph_and_keys_are_unchanged(pair):
    base, dp = pair
    a, b = analyze(compile_spec(base)), analyze(compile_spec(dp))
    assert (a.params, a.macs, a.depth, a.activations_bytes) == (b.params, b.macs, b.depth, b.activations_bytes)
    assert list(compile_spec(base)) == list(compile_spec(dp))  # no IR node of its own
    assert list(build_model(base).state_dict()) == list(build_model(dp).state_dict())


def test_eval_is_the_network_without_it_training_drops_whole_branches(pair):
    base, dp = pair
    plain_model, dp_model = build_model(base, seed=0), build_model(dp, seed=0)
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(plain_model.eval()(x), dp_model.eval()(x))
        plain_model.train(), dp_model.train()
        torch.manual_seed(0)
        first = dp_model(x)
        torch.manual_seed(0)
        assert torch.equal(first, dp_model(x))  # the same seed drops the same branches
        torch.manual_seed(1)
        assert not torch.equal(first, dp_model(x))
        assert not torch.equal(first, plain_model(x))
    drop = dp_model.get_submodule("layer3.2.drop_path")
    assert drop.rate == pytest.approx(0.4)
    kept = drop.train()(torch.ones(10_000, 1, 1, 1))
    assert kept.unique().tolist() == pytest.approx([0.0, 1 / 0.6])  # dropped, or kept and scaled by 1/(1 - rate)
    assert kept.mean().item() == pytest.approx(1.0, abs=0.05)


def test_onnx_export_is_the_same_graph(pair):
    pytest.importorskip("onnxscript", reason="ONNX export needs the onnx extra: pip install 'resgraph[onnx]'")
    from resgraph.lower.export import onnx_program

    base, dp = pair
    ops = [[n.op_type for n in onnx_program(build_model(s).eval(), (3, 32, 32)).model_proto.graph.node]
           for s in (base, dp)]
    assert ops[0] == ops[1]


def test_compare_shortcuts_keeps_the_plain_twin_of_a_net_with_drop_path(tmp_path):
    from resgraph.entries import shortcut_variants

    path = tmp_path / "dp.yaml"
    path.write_text("extends: resnet20\nname: r\ndrop_path: 0.1\n")
    variants = shortcut_variants(load_spec(path))
    assert [v.name for v in variants] == ["r_A", "r_B", "r_C", "r_D", "r_plain"]
    assert variants[-1].drop_path == 0.0 and all(v.drop_path == 0.1 for v in variants[:-1])
