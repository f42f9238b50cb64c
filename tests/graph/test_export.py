"""Exports parse back: GraphML and node-link JSON round-trip through networkx; DOT through pydot."""

from __future__ import annotations

import json
import shutil
import subprocess

import networkx as nx
import pytest

from resgraph.errors import UsageError
from resgraph.graph import compile_spec, run_passes
from resgraph.graph.blockview import block_graph
from resgraph.graph.export import export_graph, graphml_safe, write_atomic
from resgraph.spec import load_spec

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz 'dot' binary not on PATH (apt-get install graphviz)")


@pytest.fixture(scope="module")
def r34() -> nx.DiGraph:
    return run_passes(compile_spec(load_spec("resnet34")))


def test_graphml_round_trip_op_view(r34, tmp_path):
    path = export_graph(r34, tmp_path / "r34.graphml")
    h = nx.read_graphml(path)
    assert (h.number_of_nodes(), h.number_of_edges()) == (r34.number_of_nodes(), r34.number_of_edges())
    assert set(h) == set(r34)
    ds = h.nodes["layer2.0.downsample.0"]
    assert (ds["op"], ds["c_in"], ds["c_out"], ds["stride"], ds["role"]) == ("conv", 64, 128, 2, "shortcut")
    assert json.loads(ds["shape"]) == [128, 28, 28]
    assert ds["params"] == 64 * 128 and ds["bias"] == 0
    assert "block" not in h.nodes["conv1"]  # None is left out, GraphML's "no value"
    assert h.edges["layer1.0.bn2", "layer1.0.add"]["port"] == 0
    assert h.edges["maxpool", "layer1.0.add"]["port"] == 1
    assert h.graph["params"] == 21_797_672 and h.graph["depth"] == 34
    assert len(json.loads(h.graph["blocks"])) == 16
    assert sum(a["params"] for _, a in h.nodes(data=True)) == 21_797_672


def test_json_round_trip(r34, tmp_path):
    path = export_graph(r34, tmp_path / "r34.json")
    h = nx.node_link_graph(json.loads(path.read_text()), edges="edges")
    assert h.is_directed()
    assert nx.utils.graphs_equal(h, _jsonish(r34))


def _jsonish(g: nx.DiGraph) -> nx.DiGraph:
    """``g`` with tuples as lists, as JSON gives them back."""
    return nx.node_link_graph(json.loads(json.dumps(nx.node_link_data(g, edges="edges"))), edges="edges")


def test_block_view(r34, tmp_path):
    bg = block_graph(r34)
    assert list(bg)[0] == "stem" and list(bg)[-1] == "head"
    assert bg.number_of_nodes() == 16 + 2 and nx.is_path(bg, list(bg))
    kinds = [bg.nodes[b]["shortcut"] for b in bg if bg.nodes[b]["kind"] == "block"]
    assert kinds.count("B") == 3 and kinds.count("identity") == 13
    assert sum(a["params"] for _, a in bg.nodes(data=True)) == 21_797_672
    assert bg.nodes["layer3.0"]["c_in"] == 128 and bg.nodes["layer3.0"]["stride"] == 2
    h = nx.read_graphml(export_graph(r34, tmp_path / "b.graphml", view="block"))
    assert list(h) == list(bg) and h.nodes["layer2.0"]["shortcut"] == "B"


def test_option_a_block_view_says_so():
    bg = block_graph(compile_spec(load_spec("resnet20")))
    assert [bg.nodes[b]["shortcut"] for b in ("layer1.0", "layer2.0", "layer3.0")] == ["identity", "A", "A"]
    assert "A: zero-pad" in bg.nodes["layer2.0"]["label"]


def test_block_view_names_each_kind_with_its_registered_label():
    bg = block_graph(compile_spec(load_spec("ecaresnet50d")))
    assert bg.nodes["layer2.0"]["label"].startswith("layer2.0 · bottleneck + ECA · 256→512, stride 2")
    assert "shortcut: D: avg-pool + projection" in bg.nodes["layer2.0"]["label"]
    assert bg.nodes["stem"]["label"].startswith("stem\nconv 3x3/2, 3→32 → bn → relu → conv 3x3/1, 32→32")
    v2 = block_graph(compile_spec(load_spec("resnetv2_50")))
    assert "stages.0.blocks.0 · pre-act bottleneck" in v2.nodes["stages.0.blocks.0"]["label"]
    assert [bg.nodes[b]["type"] for b in ("layer1.0", "layer4.2")] == ["bottleneck"] * 2


def test_pictures_draw_every_kind_from_its_registration(tmp_path):
    block = export_graph(compile_spec(load_spec("resnet50d")), tmp_path / "d.dot", view="block").read_text()
    assert block.count("xlabel=D") == 4  # one option-D edge per stage
    assert "bottleneck block" in block and "shortcut: D: avg-pool" in block  # the legend
    op = export_graph(compile_spec(load_spec("seresnet50")), tmp_path / "se.dot").read_text()
    assert '"layer1.0.se.fc1"' in op and "conv 1x1/1, 256→16" in op
    pre = export_graph(compile_spec(load_spec("preact_resnet110")), tmp_path / "p.dot", view="block").read_text()
    assert "pre-act basic block" in pre


def test_dot_text(r34, tmp_path):
    block = export_graph(r34, tmp_path / "block.dot", view="block").read_text()
    assert block.startswith('digraph "resnet34" {')
    assert block.count("subgraph cluster_layer") == 4
    assert block.count("xlabel=proj") == 3  # the three projection shortcuts are labelled edges
    op = export_graph(r34, tmp_path / "op.dot").read_text()  # blocks are clusters nested in stages
    assert "subgraph cluster_layer2 {" in op and "subgraph cluster_layer2_0 {" in op
    assert '"layer2.0.downsample.0"' in op


@needs_dot
@pytest.mark.parametrize("view,clusters", [("block", 4), ("op", 6 + 16)])
def test_dot_parses_back_through_graphviz(r34, tmp_path, view, clusters):
    path = export_graph(r34, tmp_path / f"{view}.dot", view=view)
    out = subprocess.run(["dot", "-Tjson", str(path)], capture_output=True, text=True, check=True).stdout
    parsed = json.loads(out)
    objects = parsed["objects"]
    assert parsed["_subgraph_cnt"] == clusters
    names = {o["name"] for o in objects}
    if view == "block":
        assert {"stem", "head", "legend", "layer2.0", "cluster_layer1", "cluster_layer4"} <= names
        assert len(objects) - clusters == 16 + 3  # blocks, stem, head, legend
        assert sum(e.get("xlabel") == "proj" for e in parsed["edges"]) == 3
    else:
        assert set(r34) <= names and len(objects) - clusters == r34.number_of_nodes() + 1  # and the legend
        assert len(parsed["edges"]) == r34.number_of_edges()


@needs_dot
@pytest.mark.parametrize("ext", [".svg", ".png"])
def test_rendered(r34, tmp_path, ext):
    path = export_graph(r34, tmp_path / f"r34{ext}", view="block")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if ext == ".png" else b"<svg" in data[:2000]
    if ext == ".svg":
        assert b"layer2.0" in data and b"projection" in data


def test_missing_dot_binary_draws_with_matplotlib(r34, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    data = export_graph(r34, tmp_path / "x.svg", view="block").read_bytes()
    assert b"<svg" in data[:2000] and b"layer2.0" in data and b"projection" in data


def test_unknown_extension_lists_supported(r34, tmp_path):
    with pytest.raises(UsageError, match=r"'\.txt'.*\.dot, \.svg, \.png, \.graphml, \.json"):
        export_graph(r34, tmp_path / "x.txt")


def test_write_atomic_leaves_no_half_file(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")
    import os

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(UsageError, match="No space left"):
        write_atomic(target, b"new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_graphml_safe_values():
    g = nx.DiGraph(t=(1, 2), none=None)
    g.add_node("a", flag=True, shape=(3, 4, 5), missing=None, x=1.5)
    h = graphml_safe(g)
    assert h.graph == {"t": "[1, 2]"}
    assert h.nodes["a"] == {"flag": 1, "shape": "[3, 4, 5]", "x": 1.5}


def test_collapse_draws_runs_of_identical_blocks_once(tmp_path):
    g = compile_spec(load_spec("resnet1202"))
    full = export_graph(g, tmp_path / "full.dot").read_text()
    small = export_graph(g, tmp_path / "small.dot", collapse=True).read_text()
    assert full.count("layer2.150.conv1") >= 1 and "layer2.150.conv1" not in small
    assert '"layer2.2…layer2.199"' in small and "198 more blocks like layer2.1" in small
    assert len(small) * 20 < len(full)  # three stages of a few blocks each
    block = export_graph(g, tmp_path / "b.dot", view="block", collapse=True).read_text()
    assert "layer3.2 … layer3.199" in block and "198 more blocks like the one above" in block
    data = export_graph(g, tmp_path / "g.graphml", collapse=True)  # data formats keep every node
    assert nx.read_graphml(data).number_of_nodes() == g.number_of_nodes()


def test_op_view_has_a_legend_of_the_ops_it_draws(tmp_path):
    dot = export_graph(compile_spec(load_spec("seresnet50")), tmp_path / "se.dot").read_text()
    assert "legend" in dot and "sigmoid" in dot and "the attention gate" in dot


@needs_dot
def test_a_picture_scaled_down_to_graphvizs_limit_says_so(tmp_path):
    with pytest.warns(UserWarning, match="reached Graphviz's 32,767-pixel bitmap limit"):
        export_graph(compile_spec(load_spec("resnet152")), tmp_path / "big.png")
