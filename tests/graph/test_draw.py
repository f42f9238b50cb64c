"""Pictures without Graphviz: matplotlib draws the DOT picture with its own layout, readable for deep nets."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resgraph.errors import UsageError
from resgraph.graph import compile_spec
from resgraph.graph import export as export_mod
from resgraph.graph.draw import layout
from resgraph.graph.export import export_graph, to_pydot
from resgraph.spec import load_spec

pytest.importorskip("matplotlib", reason="the fallback renderer draws with matplotlib (pip install 'resgraph[plot]')")


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _rect(b) -> tuple[float, float, float, float]:
    return (b.left, b.top, b.right, b.bottom)


@pytest.mark.parametrize("name, view, collapse, most_inches", [
    ("resnet152", "block", True, 40), ("resnet1202", "block", True, 20), ("resnet34", "op", False, 400),
    ("seresnet50", "op", True, 400),
])
def test_layout_has_no_overlapping_boxes_and_stays_small(name, view, collapse, most_inches):
    lay = layout(to_pydot(compile_spec(load_spec(name)), view, collapse))
    boxes = list(lay.boxes.values())
    assert len(boxes) > 5
    for a, b in itertools.combinations(boxes, 2):
        assert not _overlap(_rect(a), _rect(b)), (a.name, b.name)
    for c in lay.clusters:  # a cluster's label line lies above every node of it
        label = (c.box[0], c.box[1], c.box[2], c.box[1] + 0.2)
        assert not any(_overlap(label, _rect(b)) for b in boxes), c.name
        inside = [lay.boxes[m] for m in c.members]
        assert all(c.box[0] <= b.left and b.right <= c.box[2] and c.box[1] <= b.top and b.bottom <= c.box[3]
                   for b in inside), c.name
    height = max(b.bottom for b in boxes) - min(b.top for b in boxes)
    assert height < most_inches
    skips = [e for e in lay.edges if e.skip]
    assert skips and all(e.lane_x > max(lay.boxes[e.u].right, lay.boxes[e.v].right) for e in skips)


def test_collapsed_resnet1202_names_its_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(export_mod.shutil, "which", lambda name: None)
    svg = export_graph(compile_spec(load_spec("resnet1202")), tmp_path / "b.svg", view="block",
                       collapse=True).read_text()
    assert "198 more blocks like the one above" in svg and "layer3.2 … layer3.199" in svg
    assert "zero-pad + subsample" in svg  # the legend: option A's text, from its registration


def test_a_png_past_aggs_limit_is_drawn_smaller_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(export_mod.shutil, "which", lambda name: None)
    monkeypatch.setattr("resgraph.graph.draw.MAX_PIXELS", 2000)
    with pytest.warns(UserWarning, match="drawn at .* dpi to stay under 2,000 pixels; use --collapse"):
        export_graph(compile_spec(load_spec("resnet18")), tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")


def test_neither_dot_nor_matplotlib_is_one_usage_error(tmp_path, monkeypatch):
    monkeypatch.setattr(export_mod.shutil, "which", lambda name: None)
    monkeypatch.setattr(export_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UsageError, match=r"Graphviz 'dot' is not on PATH and matplotlib is not installed"):
        export_graph(compile_spec(load_spec("resnet18")), tmp_path / "x.svg")
    assert not list(tmp_path.iterdir())


def test_cli_with_dot_off_path_draws_and_names_matplotlib(tmp_path: Path) -> None:
    """A real PATH without dot, in a subprocess: what a pip-only install sees."""
    env = {**os.environ, "PATH": str(tmp_path)}
    out = tmp_path / "r34.svg"
    res = subprocess.run([sys.executable, "-m", "resgraph.cli.main", "graph", "resnet34", "-o", str(out), "--view",
                          "block"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "drawn by matplotlib: Graphviz 'dot' is not on PATH" in res.stdout
    assert "layer4.2" in out.read_text()
