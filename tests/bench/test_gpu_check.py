"""bench/gpu_check.sh, the sweep a lent GPU runs: tested here for what needs no GPU.

Its commands parse, its dry run lists every row (specs x backends x precisions x batches) on the CPU and
writes nothing, and without a GPU the real run refuses in one line. The real run itself is only
collected on a CUDA machine with RESGRAPH_GPU_CHECK=1 (it takes about 8 minutes).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "gpu_check.sh"
SPECS = ("resnet18", "resnet50", "resnet152")
BATCHES = (1, 8, 64)
GROUPS = {  # group -> (backend, precision) pairs, as docs/results-gpu.md lists them
    "eager": [("eager", "fp32")],
    "layouts": [("channels_last", "fp32"), ("cuda_graphs", "fp32")],
    "amp_fp16": [("amp_fp16", "fp16")],
    "amp_bf16": [("amp_bf16", "bf16")],
    "inductor": [("inductor", "fp32")],
    "tensorrt": [("tensorrt", "fp16"), ("tensorrt", "int8")],
}
ROW = re.compile(r"^(\S+)\s+its own process, row \d+ of \d+$")


def _run(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESGRAPH": str(Path(sys.executable).with_name("resgraph"))}
    return subprocess.run(["bash", str(SCRIPT), *args, "--out", str(tmp / "gpu"), "--doc", str(tmp / "gpu.md")],
                          capture_output=True, text=True, env=env, timeout=120)


def _expected(group: str) -> set[str]:
    models = [f"torchvision:{s}" if tv else s for s in SPECS for tv in ((True, False) if group == "eager" else (False,))]
    return {f"{m}/{b}/{p}/b{n}" for m in models for b, p in GROUPS[group] for n in BATCHES}


def test_its_commands_parse() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


def test_the_dry_run_lists_every_row_and_measures_nothing(tmp_path: Path) -> None:
    done = _run("--dry-run", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    rows: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("== "):
            group = line[3:].split(":")[0]
            rows[group] = set()
            assert "--device cuda" in line and "--row-timeout 120" in line, line
        elif m := ROW.match(line):
            rows[group].add(m.group(1))
    assert rows == {g: _expected(g) for g in GROUPS}
    assert sum(map(len, rows.values())) == 81
    assert list(tmp_path.iterdir()) == []  # no results file, lock, tables or doc
    assert "p50" not in done.stdout


def test_a_bad_option_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (["--budget", "8min"], ["--frobnicate"], ["--device"]):
        done = _run(*args, tmp=tmp_path)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, (args, done.stderr)
        assert done.stderr.startswith("gpu_check: ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible here: the refusal is not reachable")
def test_without_a_gpu_the_real_run_refuses_in_one_line(tmp_path: Path) -> None:
    done = _run(tmp=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no CUDA GPU" in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not torch.cuda.is_available() or os.environ.get("RESGRAPH_GPU_CHECK") != "1",
                    reason="the real GPU check needs a CUDA GPU and RESGRAPH_GPU_CHECK=1 (about 8 minutes): "
                           "no GPU has been lent to this project, so it has never run")
def test_the_real_run_on_a_gpu(tmp_path: Path) -> None:  # pragma: no cover - needs a GPU
    done = subprocess.run(["bash", str(SCRIPT), "--out", str(tmp_path / "gpu"), "--doc", str(tmp_path / "gpu.md")],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / "gpu" / "sweep.jsonl").read_text().splitlines()]
    assert any(r["status"] == "ok" and r["device"].startswith("cuda") for r in records)
    assert (tmp_path / "gpu.md").read_text().startswith("# Measured results: GPU")
