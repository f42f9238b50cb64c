"""`resgraph summary` and `resgraph graph` through click's runner."""

from __future__ import annotations

import json
import shutil

import networkx as nx
import pytest
from click.testing import CliRunner

from resgraph.cli.main import main
from resgraph.units import human, human_bytes


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_summary_json_resnet50():
    r = run("summary", "resnet50", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["name"] == "resnet50"
    assert d["params"] == 25_557_032
    assert d["macs"] == pytest.approx(4.089e9, rel=1e-3) and isinstance(d["macs"], int)
    assert d["depth"] == 50
    assert d["activations_bytes"] == sum(s["activations_bytes"] for s in d["stages"])
    assert [s["name"] for s in d["stages"]] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(s["params"] for s in d["stages"]) == d["params"]
    assert d["stages"][1] | {"params": 0, "macs": 0, "activations_bytes": 0} == {
        "index": 0, "name": "layer1", "blocks": 3, "output_shape": [256, 56, 56],
        "params": 0, "macs": 0, "activations_bytes": 0, "block": "bottleneck", "shortcut": "B"}
    assert d["input_shape"] == [3, 224, 224] and d["output_shape"] == [1000]
    assert (d["block"], d["stem"], d["shortcut"]) == ("bottleneck", "imagenet", "B")
    assert d["design"] == "bottleneck, imagenet stem, shortcut B"


def test_summary_names_each_kind_with_its_registered_label():
    d = json.loads(run("summary", "ecaresnet50d", "--json").output)
    assert d["design"] == "bottleneck + ECA, deep stem, shortcut D"
    assert [s["block"] for s in d["stages"]][:2] == ["3 convs 3x3 (deep) + max-pool", "bottleneck + ECA"]
    v2 = json.loads(run("summary", "resnetv2_50", "--json").output)
    assert v2["block"] == "pre-act bottleneck" and v2["stages"][1]["shortcut"] == "B"
    plain = json.loads(run("summary", "plain20", "--json").output)
    assert plain["design"] == "basic, cifar stem, no shortcuts (plain)"
    assert [s["shortcut"] for s in plain["stages"][1:-1]] == ["none"] * 3


def test_summary_json_several_is_a_list_and_batch_dtype_apply():
    one = json.loads(run("summary", "resnet20", "--json").output)
    r = run("summary", "resnet20", "resnet56", "--json", "--batch", "4", "--dtype", "fp16")
    d = json.loads(r.output)
    assert [x["name"] for x in d] == ["resnet20", "resnet56"]
    assert [x["params"] for x in d] == [269_722, 853_018]
    assert d[0]["activations_bytes"] == one["activations_bytes"] * 4 // 2
    assert d[0]["dtype"] == "fp16" and d[0]["batch"] == 4


def test_summary_table():
    r = run("summary", "resnet50")
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[0].startswith("resnet50 (bottleneck, imagenet stem, shortcut B): input 3×224×224 -> 1000, depth 50")
    assert lines[1].split() == ["stage", "output", "blocks", "params", "MACs", "activations", "block", "shortcut"]
    assert lines[3].split()[:3] == ["layer1", "256×56×56", "3"] and lines[3].split()[-2:] == ["bottleneck", "B"]
    assert lines[-1].split() == ["total", "16", "25.56", "M", "4.089", "G", "143.3", "MiB"]


def test_summary_side_by_side():
    r = run("summary", "resnet18", "resnet34", "resnet20")
    assert r.exit_code == 0, r.output
    rows = {line.split("  ")[0].strip(): line.split() for line in r.output.splitlines()[1:]}
    assert r.output.splitlines()[0].split() == ["resnet18", "resnet34", "resnet20"]
    assert rows["params"][-6:] == ["11.69", "M", "21.80", "M", "269.7", "K"]
    assert rows["MACs (G)"][-3:] == ["1.814", "3.664", "0.04055"]
    assert rows["depth"][-3:] == ["18", "34", "20"]
    assert rows["shortcut"][-3:] == ["B", "B", "A"] and rows["stem"][-3:] == ["imagenet", "imagenet", "cifar"]
    assert rows["layer4 blocks"][-3:] == ["2", "3", "-"]  # the CIFAR net has three stages
    assert rows["head out"][-3:] == ["1000", "1000", "10"]


def test_summary_bad_spec_is_one_line_exit_2():
    r = run("summary", "resnet5O")
    assert r.exit_code == 2
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("n,text", [(0, "0"), (464, "464"), (9_536, "9.536 K"), (25_557_032, "25.56 M"),
                                    (4_089_184_256, "4.089 G"), (999_960, "1.000 M")])
def test_human(n, text):
    assert human(n) == text


def test_human_bytes():
    assert human_bytes(150_247_328) == "143.3 MiB"
    assert human_bytes(1008 * 1024) == "1008 KiB"
    assert human_bytes(12) == "12 B"


def test_graph_unknown_extension_exits_2_with_one_line(tmp_path):
    r = run("graph", "resnet34", "-o", str(tmp_path / "r34.txt"))
    assert r.exit_code == 2
    (line,) = r.output.strip().splitlines()
    assert "'.txt'" in line and ".dot, .svg, .png, .graphml, .json" in line
    assert not list(tmp_path.iterdir())


def test_graph_writes_graphml_and_json(tmp_path):
    for ext in ("graphml", "json"):
        out = tmp_path / f"r18.{ext}"
        r = run("graph", "resnet18", "-o", str(out), "--view", "block")
        assert r.exit_code == 0, r.output
        assert f"wrote {out}" in r.output
    h = nx.read_graphml(tmp_path / "r18.graphml")
    assert h.number_of_nodes() == 8 + 2


def test_graph_without_dot_says_matplotlib_drew_it(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    r = run("graph", "resnet18", "-o", str(tmp_path / "r18.png"))
    assert r.exit_code == 0, r.output
    assert "drawn by matplotlib: Graphviz 'dot' is not on PATH" in r.output
    assert (tmp_path / "r18.png").read_bytes().startswith(b"\x89PNG")


def test_graph_missing_directory_exits_2(tmp_path):
    r = run("graph", "resnet18", "-o", str(tmp_path / "nope" / "r18.dot"))
    assert r.exit_code == 2 and "does not exist" in r.output
