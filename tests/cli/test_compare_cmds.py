"""compare: lists of backends and batches like bench, the same messages for the same mistakes, intervals and
verdicts, --torchvision beside specs without a twin."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from resgraph.cli.main import main

FAST = ["--warmup", "1", "--iters", "3", "--min-time", "0", "--threads", "1"]
SPECS = Path(__file__).resolve().parents[2] / "specs"


def _row(out: str, name: str) -> str:
    return next(ln for ln in out.splitlines() if ln.split() and ln.split()[0] == name)


def test_same_network_twice_and_a_deeper_one_each_get_an_interval_and_a_verdict(tmp_path: Path) -> None:
    copy = tmp_path / "resnet20_copy.yaml"
    shutil.copy(SPECS / "resnet20.yaml", copy)
    res = CliRunner().invoke(main, ["compare", "resnet20", str(copy), "resnet56", "--repeat", "3", *FAST])
    assert res.exit_code == 0, res.output
    header = res.stdout.splitlines()[0]
    for col in ("p50 ms", "cv %", "img/s", "speed vs first (x)", "interval (x)", "verdict vs first",
                "rounds spread %"):
        assert col in header
    twin = _row(res.stdout, "resnet20#2")  # the same spec twice is two rows
    low, high = (float(x) for x in twin.split("x  ")[1].split()[0].split("-"))
    assert low <= high and any(v in twin for v in ("no significant difference", "faster", "slower"))
    deeper = _row(res.stdout, "resnet56")  # 2.8x the MACs: slower beyond any noise of three paired rounds
    assert "slower" in deeper
    assert "interval and verdict at 95.0%: a paired t-test" in res.stdout


def test_compare_takes_lists_of_backends_and_batches() -> None:
    res = CliRunner().invoke(main, ["compare", "resnet20", "plain20", "--backend", "eager,channels_last",
                                    "--batch", "1,2", "--repeat", "1", *FAST])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ["model", "backend", "batch"]
    rows = [ln.split()[:3] for ln in lines[2:10]]
    assert {tuple(r) for r in rows} == {(s, b, n) for s in ("resnet20", "plain20") for b in ("eager", "channels_last")
                                        for n in ("1", "2")}
    assert "one round: no interval (--repeat)" in res.stdout  # rows compared, but no verdict from one round


@pytest.mark.parametrize("args", [["--batch", "abc"], ["--batch", "0"], ["--backend", "onnx"], ["--repeat", "x"]])
def test_compare_and_bench_say_the_same_for_the_same_mistake(args: list[str]) -> None:
    said = []
    for cmd in ("bench", "compare"):
        res = CliRunner().invoke(main, [cmd, "resnet20", *args])
        assert res.exit_code == 2 and "Traceback" not in res.output
        said.append(res.output.strip().splitlines()[-1].replace(f"resgraph {cmd}", "resgraph CMD"))
    assert said[0] == said[1]


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="needs torchvision (the dev extra)")
def test_torchvision_adds_the_baselines_that_exist_and_names_the_specs_without_one() -> None:
    res = CliRunner().invoke(main, ["compare", "resnet18", "resnet20", "--torchvision", "--repeat", "1", *FAST])
    assert res.exit_code == 0, res.output
    assert "no torchvision twin of resnet20" in res.stderr
    names = [ln.split()[0] for ln in res.stdout.splitlines()[2:5]]
    assert names == ["torchvision:resnet18", "resnet18", "resnet20"]
