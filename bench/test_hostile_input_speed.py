"""How fast hostile or huge input is answered: time bounds as benchmarks, not as timed tests.

    .venv/bin/python -m pytest bench/test_hostile_input_speed.py -p no:cacheprovider --benchmark-columns=min,median,max,rounds

Targets (issue #10): any file resgraph accepts for reading (under 1 MB) is
answered in well under a second; `lower` of a valid 10,000-block spec within a
few times `summary`. ``make test`` runs the ``bench_smoke`` case once.
Figures are recorded in docs/graph.md.
"""

from __future__ import annotations

import pytest

from resgraph.errors import SpecError
from resgraph.graph import compile_spec
from resgraph.graph.analyze import analyze
from resgraph.spec import load_spec
from resgraph.spec.source import MAX_FILE_BYTES

FILES = {
    "flat list of 330,000 ones": "name: x\nstages: [" + ", ".join(["1"] * 330_000) + "]\n",
    "38,000 stages": "name: x\nstages:\n" + "  - {blocks: 1, width: 8}\n" * 38_000,
    "hex integer of 900,000 digits": "name: x\nstages: [{blocks: 0x" + "f" * 900_000 + ", width: 8}]\n",
    "1 MB comment": "name: x\nstages: [{blocks: 1, width: 8}]\n" + ("# " + "x" * 98 + "\n") * 9_000,
    "1 MB of blank lines": "name: x\nstages: [{blocks: 1, width: 8}]\n" + "\n" * 900_000,
}


@pytest.mark.parametrize("case", FILES)
def test_a_file_under_the_size_limit_is_answered_fast(benchmark, tmp_path, case):
    path = tmp_path / "s.yaml"
    path.write_text(FILES[case])
    assert path.stat().st_size < MAX_FILE_BYTES
    benchmark.group = "answer a file just under 1 MB"

    def answer() -> str:
        try:
            return load_spec(path).name
        except SpecError as exc:
            return str(exc)

    benchmark.pedantic(answer, rounds=3, iterations=1)


@pytest.mark.bench_smoke
def test_smoke_a_long_flat_list_is_refused(benchmark, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(FILES["flat list of 330,000 ones"])
    benchmark.pedantic(lambda: pytest.raises(SpecError, load_spec, path), rounds=1, iterations=1)


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    path = tmp_path_factory.mktemp("huge") / "huge.yaml"
    path.write_text("extends: resnet20\nname: huge\nstages: [{blocks: 3334}, {blocks: 3333}, {blocks: 3333}]\n")
    return path


def test_summary_of_10000_blocks(benchmark, huge):
    benchmark.group = "10,000 blocks: summary vs lower"
    benchmark.pedantic(lambda: analyze(compile_spec(load_spec(huge))), rounds=3, iterations=1)


def test_lower_of_10000_blocks(benchmark, huge):
    from resgraph.lower import build_model

    benchmark.group = "10,000 blocks: summary vs lower"
    benchmark.pedantic(lambda: build_model(compile_spec(load_spec(huge)), device="meta"), rounds=3, iterations=1)
