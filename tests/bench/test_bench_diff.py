"""report BEFORE AFTER: rows matched by key, each with its ratio, interval and verdict; --fail-above exits 1."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from record_helpers import append_raw, append_record

from resgraph.bench.diff import diff_files, regressions
from resgraph.cli.main import main

ROUNDS = {"resnet20": [2.61, 2.58, 2.64, 2.60], "resnet56": [7.02, 7.10, 6.95, 7.05]}


def _write(path: Path, slower: dict[str, float] | None = None) -> None:
    """One onnxruntime row per spec with four rounds; ``slower`` multiplies a spec's rounds (an injected regression)."""
    for spec, rounds in ROUNDS.items():
        k = (slower or {}).get(spec, 1.0)
        vals = [v * k for v in rounds]
        append_record(path, dict(spec=spec, spec_hash="h", backend="onnxruntime", batch=1, status="ok", host="vm",
                                 device_model="cpu", p50_ms=sorted(vals)[1], round_p50_ms=vals, repeat=4))


def test_an_injected_regression_is_found_and_the_unchanged_row_is_not(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _write(a)
    _write(b, slower={"resnet56": 1.25})
    rows = {r.record.spec: r for r in diff_files(a, b)}
    assert rows["resnet56"].diff.verdict == "slower" and 1.15 < rows["resnet56"].diff.low < 1.25
    assert rows["resnet20"].diff.verdict == "no significant difference"
    assert [r.record.spec for r in regressions(list(rows.values()), 10)] == ["resnet56"]
    assert regressions(list(rows.values()), 30) == []  # 25 % slower is not beyond 30 %

    res = CliRunner().invoke(main, ["report", str(a), str(b), "--fail-above", "10"])
    assert res.exit_code == 1, res.output
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("resnet56"))
    assert "slower" in line and "1.250" in line
    assert "regression: resnet56/onnxruntime/fp32/b1: 1.250x the time before" in res.stderr
    assert CliRunner().invoke(main, ["report", str(a), str(b), "--fail-above", "30"]).exit_code == 0
    same = CliRunner().invoke(main, ["report", str(a), str(a), "--fail-above", "10"])
    assert same.exit_code == 0 and "no significant difference" in same.stdout


def test_rows_only_on_one_side_and_single_rounds_are_named(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _write(a)
    append_record(b, dict(spec="resnet20", spec_hash="h", backend="onnxruntime", batch=1, status="ok", host="vm",
                          device_model="cpu", p50_ms=3.0))
    res = CliRunner().invoke(main, ["report", str(a), str(b)])
    assert res.exit_code == 0, res.output
    assert "only before" in res.stdout and "one round: no interval" in res.stdout
    assert "1 of 1 rows have one round" in res.stderr


def test_diff_usage_errors_are_one_line(tmp_path: Path) -> None:
    a, b, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    _write(a)
    append_raw(other, {"not": "a record"})
    res = CliRunner().invoke(main, ["report", str(a), str(other)])
    assert res.exit_code == 2 and "no bench records to diff" in res.output
    res = CliRunner().invoke(main, ["report", str(a), "--fail-above", "10"])
    assert res.exit_code == 2 and "--fail-above: needs two results files" in res.output
    res = CliRunner().invoke(main, ["report", str(a), str(a), str(a)])
    assert res.exit_code == 2 and "one results file, or two" in res.output
    _write(b)
    res = CliRunner().invoke(main, ["report", str(a), str(b), "--fail-above", "nan"])
    assert res.exit_code == 2 and "finite" in res.output
