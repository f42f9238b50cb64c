"""The front end (help, spec and graph commands) runs where torch and the other heavy packages cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "torchvision", "onnx", "onnxruntime", "onnxscript", "dask", "distributed", "torchao", "matplotlib")

# A meta-path finder that refuses the heavy packages, installed before resgraph is imported.
BLOCK = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {HEAVY!r}:
            raise ModuleNotFoundError(f'{{name}} is blocked in this test', name=name)
        return None
sys.meta_path.insert(0, Block())
from resgraph.cli import main
sys.exit(main(sys.argv[1:], prog_name='resgraph'))
"""


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("args, expect", [
    (["--help"], "summary"),
    (["bench", "--help"], "--backend"),
    (["validate", "resnet18"], "ok    resnet18: resnet18, depth 18"),
    (["show", "resnet18", "--json"], '"name": "resnet18"'),
    (["schema"], '"properties"'),
    (["presets"], "resnet50"),
    (["kinds"], "bottleneck"),
    (["summary", "resnet50"], "25.56 M"),
    (["summary", "resnet50", "--json"], "25557032"),
    (["spaces"], "imagenet_resnet"),
    (["space", "imagenet_resnet", "-n", "2"], "2 valid network(s)"),
    (["search", "--help"], "--budget-ms"),
    (["predict", "resnet18", "--profile", str(Path(__file__).parents[2] / "docs/data/latency/profile-eager-fp32-b1.jsonl")],
     "resnet18"),  # a prediction builds no module: no torch
])
def test_front_end_commands_run_without_torch(tmp_path: Path, args: list[str], expect: str) -> None:
    res = _run(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert expect in res.stdout, res.stdout[:500]
    assert "blocked" not in res.stderr


@pytest.mark.parametrize("name, flags", [
    ("g.dot", []), ("g.graphml", []), ("g.json", []), ("b.dot", ["--view", "block"]), ("c.dot", ["--collapse"]),
])
def test_graph_exports_run_without_torch(tmp_path: Path, name: str, flags: list[str]) -> None:
    res = _run("graph", "resnet50", "-o", name, *flags, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / name).read_text()
    assert text.strip()
    if name.endswith(".json"):
        assert json.loads(text)["nodes"]


def test_a_command_that_needs_torch_says_so_in_one_line(tmp_path: Path) -> None:
    res = _run("lower", "resnet18", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("resgraph: this command needs the package 'torch', which cannot be imported")
    assert len(res.stderr.splitlines()) == 1


def test_a_picture_without_dot_or_matplotlib_is_one_line(tmp_path: Path) -> None:
    """dot off the PATH and matplotlib blocked: exit 2 naming both ways out, nothing written."""
    import os

    res = subprocess.run([sys.executable, "-c", BLOCK, "graph", "resnet50", "-o", "g.svg"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path, env={**os.environ, "PATH": str(tmp_path)})
    assert res.returncode == 2 and len(res.stderr.splitlines()) == 1, res.stderr
    assert "Graphviz 'dot' is not on PATH and matplotlib is not installed" in res.stderr
    assert not (tmp_path / "g.svg").exists()
