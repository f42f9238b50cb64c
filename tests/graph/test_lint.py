"""Lint catches hand-corrupted graphs and names the offending node."""

from __future__ import annotations

import networkx as nx
import pytest

from resgraph.errors import ResgraphError
from resgraph.graph import GraphLintError, compile_spec, infer_shapes, lint, run_passes
from resgraph.spec import load_spec


@pytest.fixture
def g() -> nx.DiGraph:
    return compile_spec(load_spec("resnet18"))


def lint_error(g: nx.DiGraph) -> GraphLintError:
    with pytest.raises(GraphLintError) as info:
        lint(g)
    return info.value


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet20", "plain18", "resnet34_C"])
def test_presets_are_clean(name):
    lint(compile_spec(load_spec(name)))


def test_lint_error_is_a_user_facing_error():
    assert issubclass(GraphLintError, ResgraphError)


def test_wrong_channel_count_on_an_edge(g):
    g.nodes["layer2.1.bn1"]["c_in"] = g.nodes["layer2.1.bn1"]["c_out"] = 127
    err = lint_error(g)
    assert err.node == "layer2.1.bn1"
    assert "'layer2.1.bn1'" in str(err) and "127" in str(err) and "'layer2.1.conv1' gives 128" in str(err)


def test_producer_channels_changed_after_shapes_were_inferred(g):
    run_passes(g)  # stale shapes must not hide the edit: lint re-infers them
    g.nodes["layer1.0.conv1"]["c_out"] = 65
    err = lint_error(g)
    assert err.node == "layer1.0.bn1"
    assert "65" in str(err)


def test_add_with_mismatched_shapes(g):
    # Drop layer2.0's projection: the add now joins 128x28x28 with the 64x56x56 identity.
    x = next(iter(g.predecessors("layer2.0.downsample.0")))
    g.remove_nodes_from(["layer2.0.downsample.0", "layer2.0.downsample.1"])
    g.add_edge(x, "layer2.0.add", port=1)
    err = lint_error(g)
    assert err.node == "layer2.0.add"
    assert "128x28x28" in str(err) and "64x56x56" in str(err)


def test_cycle(g):
    g.add_edge("layer3.0.relu2", "layer2.1.conv1", port=1)
    err = lint_error(g)
    assert "cycle" in str(err)
    assert err.node in {u for u, _ in nx.find_cycle(g)}


def test_dangling_node(g):
    g.add_node("stray", op="conv", scope="stray", block=None, stage=0, role="trunk", c_in=64, c_out=64,
               kernel=3, stride=1, padding=1, groups=1, bias=False)
    g.add_edge("maxpool", "stray", port=0)
    err = lint_error(g)
    assert err.node == "stray"
    assert "never used" in str(err)


def test_node_without_operands(g):
    g.add_node("orphan", op="relu", scope="orphan", block=None, stage=0, role="trunk")
    g.add_edge("orphan", "layer1.0.add", port=2)
    err = lint_error(g)
    assert err.node in ("orphan", "layer1.0.add")
    assert "operand" in str(err)


def test_add_ports_must_be_0_and_1(g):
    g.edges["layer1.0.bn2", "layer1.0.add"]["port"] = 1
    err = lint_error(g)
    assert err.node == "layer1.0.add"
    assert "ports" in str(err)


def test_unknown_op(g):
    g.nodes["layer1.0.relu1"]["op"] = "gelu"
    err = lint_error(g)
    assert err.node == "layer1.0.relu1" and "'gelu'" in str(err)


def test_two_outputs(g):
    g.add_node("output2", op="output", scope="output2", block=None, stage=None, role="trunk")
    g.add_edge("fc", "output2", port=0)
    err = lint_error(g)
    assert "exactly one output" in str(err) and err.node == "output2"


def test_spatial_collapse_names_the_node(g):
    g.nodes["input"]["shape"] = (3, 2, 2)  # conv1 7x7/2 pad 3 -> 1x1
    g.nodes["maxpool"]["padding"] = 0  # 3x3 window on 1x1, unpadded -> 0x0
    with pytest.raises(GraphLintError) as info:
        infer_shapes(g)
    assert info.value.node == "maxpool"
    assert "64x0x0" in str(info.value)
