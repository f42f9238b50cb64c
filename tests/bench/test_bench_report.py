"""Reports: Markdown, CSV and plot files that exist and parse."""

import csv
import sys

import pytest
from record_helpers import append_record

from resgraph.bench.report import load_results, write_report


def _record(spec, backend, batch, p50, status="ok", macs=1.8e9, precision="fp32"):
    return {
        "spec": spec, "spec_hash": "h", "backend": backend, "device": "cpu", "batch": batch, "precision": precision,
        "status": status, "reason": None if status == "ok" else "max rel err 0.1 > 0.0001 (fp32)",
        "min_ms": p50 * 0.9, "p10_ms": p50 * 0.95, "p50_ms": p50, "p90_ms": p50 * 1.1, "p99_ms": p50 * 1.2, "mean_ms": p50, "std_ms": 0.1,
        "cv": 0.01, "throughput": batch / (p50 / 1e3), "macs": macs, "params": 11_689_512, "threads": 2,
        "input_shape": [3, 224, 224], "env": {"torch": "2.x", "device_name": "cpu0", "device": "cpu"},
        "timestamp": "2026-11-25T03:00:00+00:00",
    }


@pytest.fixture
def results(tmp_path):
    path = tmp_path / "results.jsonl"
    for spec, scale, macs in (("resnet20_A", 1.0, 41e6), ("resnet20_B", 1.1, 42e6), ("plain20", 0.9, 40e6)):
        for backend in ("eager", "folded"):
            for batch in (1, 8, 32):
                append_record(path, _record(spec, backend, batch, scale * batch ** 0.8, macs=macs))
    append_record(path, _record("resnet20_A", "onnxruntime", 1, 0.1, status="mismatch"))
    append_record(path, _record("resnet20_A", "eager", 1, 1.5))  # a re-run supersedes the first record
    return path


def test_report_writes_tables_and_plots(results, tmp_path):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (pip install 'resgraph[plot]')")
    from matplotlib.image import imread

    out = tmp_path / "report"
    paths = write_report(results, out)
    names = {p.name for p in paths}
    for stem in ("latency_vs_batch", "throughput_vs_batch", "specs_batch1", "macs_vs_latency_batch1"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert {"results.md", "results.csv"} <= names
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)

    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 19  # 3 specs x 2 backends x 3 batches + 1 mismatch; the re-run replaced a row
    first = next(r for r in rows if (r["spec"], r["backend"], r["batch"]) == ("resnet20_A", "eager", "1"))
    assert float(first["p50_ms"]) == 1.5
    assert first["env.torch"] == "2.x" and first["input_shape"] == "3x224x224"

    md = (out / "results.md").read_text()
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| spec | backend | device |"))
    table = [line for line in lines[start:] if line.startswith("| ")]
    assert len(table) == 1 + 19
    assert any("mismatch" in line and "onnxruntime" in line for line in table)
    assert "top-1 agree" not in table[0] and "test err" not in table[0]  # empty in every row: left out
    # spec x backend, per batch: the fastest in bold and named; a mismatch is never the fastest
    assert "| spec | eager | folded | onnxruntime | fastest |" in lines
    assert "| resnet20_A | 1.5 | **1** | 0.1 (mismatch) | folded |" in lines

    img = imread(out / "specs_batch1.png")
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert (out / "latency_vs_batch.svg").read_text().lstrip().startswith("<?xml")


def test_a_percent_of_peak_over_100_is_flagged_with_its_note(tmp_path):
    from resgraph.bench.record import Record
    from resgraph.bench.report import markdown_table

    over = Record.from_json({**_record("resnet20_A", "onnxruntime", 1, 1.0), "pct_peak": 121.0})
    text = markdown_table([over, Record.from_json({**_record("resnet20_A", "eager", 1, 2.0), "pct_peak": 80.0})])
    assert "| 121.0 ‡ |" in text and "| 80 |" in text and "‡ above 100 % of the cached `torch.mm` peak" in text
    assert "‡" not in markdown_table([Record.from_json(_record("resnet20_A", "eager", 1, 2.0))])


def test_bar_batch_selects_the_compared_batch(results, tmp_path):
    pytest.importorskip("matplotlib")
    paths = write_report(results, tmp_path / "r8", bar_batch=8, formats=("png",))
    assert {"specs_batch8.png", "macs_vs_latency_batch8.png"} <= {p.name for p in paths}
    assert not any(p.suffix == ".svg" for p in paths)


def test_tables_only_without_plots(results, tmp_path):
    paths = write_report(results, tmp_path / "t", plots=False)
    assert [p.name for p in paths] == ["results.md", "results.csv"]


def test_missing_matplotlib_names_the_plot_extra(results, tmp_path, monkeypatch):
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r"resgraph\[plot\]"):
        write_report(results, tmp_path / "x")
    assert not (tmp_path / "x").exists()  # failed before writing anything


def test_load_results_keeps_the_latest_record_per_row(results):
    recs = load_results(results)
    assert len(recs) == 19
    assert next(r for r in recs if (r["spec"], r["backend"], r["batch"]) == ("resnet20_A", "eager", 1))["p50_ms"] == 1.5


def test_empty_results_file_is_an_error(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    with pytest.raises(ValueError, match="no records"):
        write_report(tmp_path / "e.jsonl", tmp_path / "o", plots=False)


def test_plots_carry_whiskers_and_a_caption_and_no_one_point_lines(results, tmp_path):
    pytest.importorskip("matplotlib")
    write_report(results, tmp_path / "w", formats=("svg",))
    svg = (tmp_path / "w" / "latency_vs_batch.svg").read_text()
    assert "whiskers: p10 to p90 of the samples" in svg and "cpu0" in svg and "2026-11-25" in svg
    one = tmp_path / "one.jsonl"
    for spec in ("a", "b"):
        append_record(one, _record(spec, "eager", 1, 2.0))
    names = {p.name for p in write_report(one, tmp_path / "o", formats=("svg",))}
    assert "latency_vs_batch.svg" not in names and "specs_batch1.svg" in names  # one batch: bars, no lines


def test_an_unstable_row_reads_unstable_in_the_markdown(tmp_path):
    """As the CLI's tables show it: a row measured on a busy machine is not a plain 'ok'."""
    import json

    from resgraph.bench import write_report

    res = tmp_path / "r.jsonl"
    rows = [{"spec": "a", "backend": "eager", "batch": 1, "status": "ok", "p50_ms": 1.0},
            {"spec": "b", "backend": "eager", "batch": 1, "status": "ok", "p50_ms": 2.0, "unstable": "cv 0.2 > 0.10"}]
    res.write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_report(res, tmp_path / "rep", plots=False)
    md = (tmp_path / "rep" / "results.md").read_text()
    assert "2 rows (1 ok, 1 unstable)" in md
    assert md.count("| unstable |") == 1 and md.count("| ok |") == 1
