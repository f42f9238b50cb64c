"""Roofline peak caching and arithmetic; compare() rows and the plain-text table."""

import json

import pytest

from resgraph.bench import roofline
from resgraph.bench.comparison import compare, format_table
from resgraph.bench.env import environment
from resgraph.bench.record import Record
from resgraph.bench.row import ModelEntry
from resgraph.bench.timing import TimingConfig
from resgraph.bench.toy import tiny_resnet


def test_peak_is_measured_once_and_cached_under_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def fake_measure(device, precision, engine="torch"):
        calls.append((device, precision))
        return 123.0

    monkeypatch.setattr(roofline, "measure_peak_gflops", fake_measure)
    assert roofline.peak_gflops("cpu", threads=2) == 123.0
    assert roofline.peak_gflops("cpu", threads=2) == 123.0
    assert calls == [("cpu", "fp32")]
    cache = json.loads((tmp_path / "resgraph" / "peak.json").read_text())
    assert cache == {roofline.peak_key("cpu", 2, "fp32"): 123.0}
    assert "threads=2" in next(iter(cache)) and "torch=" in next(iter(cache))
    roofline.peak_gflops("cpu", threads=1)  # another thread count is another key
    roofline.peak_gflops("cpu", threads=2, refresh=True)
    assert len(calls) == 3


def test_cache_keeps_the_best_peak_ever_measured(tmp_path, monkeypatch):
    # A busy machine measures too low: a refresh may raise the cached peak, never lower it.
    rates = iter([100.0, 60.0, 150.0])
    monkeypatch.setattr(roofline, "measure_peak_gflops", lambda device, precision, engine="torch": next(rates))
    path = tmp_path / "peak.json"
    assert roofline.peak_gflops("cpu", threads=2, cache_path=path) == 100.0
    assert roofline.peak_gflops("cpu", threads=2, cache_path=path, refresh=True) == 100.0
    assert roofline.peak_gflops("cpu", threads=2, cache_path=path, refresh=True) == 150.0
    assert roofline.peak_gflops("cpu", threads=2, cache_path=path) == 150.0


def test_real_peak_measurement_is_plausible():
    gflops = roofline.measure_peak_gflops("cpu", n=256, min_time_s=0.05)
    assert 0.1 < gflops < 1e5


def test_achieved_gflops_is_two_flops_per_mac():
    assert roofline.achieved_gflops(1.814e9, 8, 0.1) == pytest.approx(2 * 1.814e9 * 8 / 0.1 / 1e9)


def test_environment_has_versions_and_no_hostname():
    env = environment("cpu", 2)
    assert env["threads"] == 2 and env["torch"] and env["cpu_model"]
    assert "hostname" not in env and "node" not in env


def test_compare_rows_and_relative_speed():
    entries = [
        ModelEntry("narrow", lambda: tiny_resnet(4), macs=1e6, depth=4, input_shape=(3, 32, 32)),
        ModelEntry("wide", lambda: tiny_resnet(16), macs=9e6, depth=4, input_shape=(3, 32, 32)),
        ModelEntry("broken", lambda: 1 / 0, input_shape=(3, 32, 32)),
    ]
    rows = compare(entries, "eager", batch=2, timing=TimingConfig(warmup=1, iters=5, min_time_s=None), threads=1)
    assert [r["spec"] for r in rows] == ["narrow", "wide", "broken"]
    assert rows[0]["relative"] == 1.0
    assert rows[1]["relative"] == pytest.approx(rows[0]["p50_ms"] / rows[1]["p50_ms"])
    assert rows[2]["status"] == "failed" and rows[2]["relative"] is None
    assert rows[1]["params"] == sum(p.numel() for p in tiny_resnet(16).parameters())

    text = format_table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["model", "design", "params", "MACs", "depth"]
    assert lines[2].startswith("narrow") and "1.00x" in lines[2] and "1.000 M" in lines[2]
    assert "broken/eager/fp32 b2: failed: ZeroDivisionError" in text


def test_sweep_columns_table():
    from resgraph.bench.comparison import SWEEP_COLUMNS

    rows = [
        Record(spec="r18", backend="eager", precision="fp32", batch=1, p50_ms=41.234, p90_ms=45.0, p99_ms=50.0,
               throughput=24.25, pct_peak=53.71, status="ok"),
        Record(spec="r18", backend="tensorrt", precision="fp32", batch=1, status="skipped", reason="needs cuda"),
    ]
    lines = format_table(rows, SWEEP_COLUMNS).splitlines()
    assert lines[0].split() == ["model", "backend", "precision", "batch", "p50", "ms", "p90", "ms", "p99", "ms", "cv", "%",
                                "img/s", "%", "peak", "status"]
    assert lines[2].split() == ["r18", "eager", "fp32", "1", "41.2", "45.0", "50.0", "-", "24.2", "53.7", "ok"]
    assert lines[-1] == "r18/tensorrt/fp32 b1: skipped: needs cuda"
