"""Sweeps: record fields, failures, mismatches, interruption and resume, whole-line writes."""

import json
import warnings

import pytest
import torch
from record_helpers import append_raw, append_record

from resgraph.bench import backends, roofline
from resgraph.bench.backends import Backend, Prepared
from resgraph.bench.record import KEY_FIELDS, SCHEMA_VERSION, STATUSES, Record
from resgraph.bench.record import read_results as read_records
from resgraph.bench.row import ModelEntry
from resgraph.bench.sweep import plan, run_sweep
from resgraph.bench.timing import TimingConfig
from resgraph.bench.toy import tiny_resnet

FAST = TimingConfig(warmup=1, iters=3, min_time_s=None, drift_max=None)  # counts builds: no speed-index re-measure
SHAPE = (3, 32, 32)


def _entry(name="tiny", factory=tiny_resnet, **kw):
    return ModelEntry(name, factory, spec_hash="abc123", macs=1.2e6, input_shape=SHAPE, **kw)


def _sweep(jobs, path, **kw):
    kw.setdefault("timing", FAST)
    kw.setdefault("progress", False)
    kw.setdefault("roofline", False)
    kw.setdefault("threads", 1)  # robust on a shared 2-core box; thread fixing is checked below
    return run_sweep(jobs, path, **kw)


def test_sweep_writes_one_valid_record_per_row(tmp_path, monkeypatch):
    monkeypatch.setattr(roofline, "measure_peak_gflops", lambda device, precision, engine="torch": 50.0)  # measured in its own test
    out = tmp_path / "r.jsonl"
    jobs = plan([_entry(depth=4)], ["eager", "folded", "cuda_graphs"], [1, 2], ["fp32"])
    rows = _sweep(jobs, out, threads=2, roofline=True, peak_cache=tmp_path / "peak.json")
    lines = out.read_text().splitlines()
    assert len(lines) == len(jobs) == 6
    records = [json.loads(line) for line in lines]
    assert records == [r.model_dump(mode="json") for r in rows]
    for r in records:
        assert set(r) == set(Record.model_fields) and r["schema_version"] == SCHEMA_VERSION
        assert r["status"] in STATUSES
        assert r["spec"] == "tiny" and r["spec_hash"] == "abc123" and r["threads"] == 2
        assert r["env"]["torch"] == torch.__version__ and "hostname" not in r["env"]
    ok = [r for r in records if r["status"] == "ok"]
    assert {(r["backend"], r["batch"]) for r in ok} == {("eager", 1), ("eager", 2), ("folded", 1), ("folded", 2)}
    for r in ok:
        assert r["reason"] is None
        assert 0 < r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"]
        assert r["throughput"] == pytest.approx(r["batch"] / (r["p50_ms"] / 1e3))
        assert r["gflops"] == pytest.approx(2 * 1.2e6 * r["batch"] / (r["p50_ms"] / 1e3) / 1e9)
        assert r["peak_gflops"] == 50.0
        assert r["pct_peak"] == pytest.approx(100 * r["gflops"] / 50.0)
        assert r["first_result_s"] > 0 and r["peak_mem_bytes"] is not None
        assert r["params"] == sum(p.numel() for p in tiny_resnet().parameters())
        assert r["max_rel_err"] <= 1e-4 and r["depth"] == 4 and r["samples"] == 3
    skipped = [r for r in records if r["backend"] == "cuda_graphs"]
    assert all(r["status"] == "skipped" and "cuda" in r["reason"] for r in skipped)


def test_failure_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    def broken(model, x, ctx):
        raise RuntimeError("kernel exploded\nsecond line of detail")

    monkeypatch.setitem(backends._REGISTRY, "broken", Backend("broken", broken, {"cpu": ("fp32",)}))

    def bad_factory():
        raise ValueError("spec is bad")

    jobs = plan([_entry(), _entry("nospec", bad_factory)], ["broken", "eager"], [1])
    rows = _sweep(jobs, tmp_path / "r.jsonl")
    by = {(r["spec"], r["backend"]): r for r in rows}
    assert by["tiny", "broken"]["status"] == "failed"
    assert by["tiny", "broken"]["reason"] == "RuntimeError: kernel exploded"  # one line
    assert by["tiny", "eager"]["status"] == "ok"
    assert by["nospec", "eager"]["status"] == "failed"
    assert by["nospec", "eager"]["reason"] == "ValueError: spec is bad"
    assert len(read_records(tmp_path / "r.jsonl")) == 4


def test_wrong_backend_is_a_mismatch_not_a_success(tmp_path, monkeypatch):
    def off_by_a_bit(model, x, ctx):
        def fn(a):
            with torch.inference_mode():
                return model(a) * 1.01  # 1% off: fast-looking, wrong

        return Prepared(fn, x)

    monkeypatch.setitem(backends._REGISTRY, "wrong", Backend("wrong", off_by_a_bit, {"cpu": ("fp32", "bf16")}))
    rows = _sweep(plan([_entry()], ["wrong"], [1], ["fp32", "bf16"]), tmp_path / "r.jsonl")
    fp32, bf16 = rows
    assert fp32["status"] == "mismatch"
    assert fp32["max_rel_err"] == pytest.approx(0.01, rel=0.05)
    assert "max rel err" in fp32["reason"]
    assert fp32["p50_ms"] > 0  # still timed, but flagged
    assert bf16["status"] == "ok"  # the same 1% is within the bf16 tolerance


def test_interrupted_sweep_keeps_rows_and_resume_skips_them(tmp_path):
    out = tmp_path / "r.jsonl"
    calls = {"n": 0}

    def interrupting():
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return tiny_resnet()

    def counting():
        calls["n"] += 1
        return tiny_resnet()

    jobs = plan([_entry(factory=interrupting)], ["eager", "folded", "channels_last"], [1, 2])
    with pytest.raises(KeyboardInterrupt):
        _sweep(jobs, out, progress=True)
    finished = read_records(out)
    assert [(r["backend"], r["batch"]) for r in finished] == [("eager", 1), ("eager", 2)]
    assert all(r["status"] == "ok" for r in finished)

    calls["n"] = 0
    jobs = plan([_entry(factory=counting)], ["eager", "folded", "channels_last"], [1, 2])
    rows = _sweep(jobs, out, resume=True)
    assert calls["n"] == 4  # only the four unfinished rows were built
    assert len(rows) == 6 and rows[:2] == finished
    assert len(read_records(out)) == 6
    keys = [tuple(r[k] for k in KEY_FIELDS) for r in read_records(out)]
    assert len(set(keys)) == 6

    calls["n"] = 0
    again = _sweep(jobs, out, resume=True)
    assert calls["n"] == 0 and again == rows  # nothing left to do


def test_resume_does_not_mix_spec_versions(tmp_path):
    out = tmp_path / "r.jsonl"
    _sweep(plan([_entry()], ["eager"], [1]), out)
    changed = ModelEntry("tiny", tiny_resnet, spec_hash="def456", input_shape=SHAPE)
    rows = _sweep(plan([changed], ["eager"], [1]), out, resume=True)
    assert rows[0]["spec_hash"] == "def456"
    assert len(read_records(out)) == 2


def test_half_written_line_is_skipped_and_not_continued(tmp_path):
    out = tmp_path / "r.jsonl"
    row = {"status": "ok", "backend": "eager", "batch": 1}
    append_record(out, {"spec": "a", **row})
    with out.open("a") as f:
        f.write('{"spec": "b", "sta')  # a writer killed mid-line
    append_record(out, {"spec": "c", **row, "cv": float("nan")})
    append_raw(out, {"spec": "d", **row, "cv": "fast"})  # a hand edit: the wrong type for a number
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        recs = read_records(out)
    assert [r["spec"] for r in recs] == ["a", "c"]
    assert recs[1].cv is None and '"cv":null' in out.read_text()  # NaN is stored as null: the file stays strict JSON
    assert any(f"{out}:2: skipping a line that is not valid JSON" in str(x.message) for x in w)
    assert any(f"{out}:4: skipping a malformed record: cv: input should be a valid number" in str(x.message)
               for x in w)


def test_plan_validates_before_anything_runs():
    with pytest.raises(ValueError, match="'eagr'"):
        plan([_entry()], ["eagr"], [1])
    with pytest.raises(ValueError, match="batch"):
        plan([_entry()], ["eager"], [0])
    jobs = plan([_entry()], ["eager", "eager"], [1, 1], ["fp32"])
    assert len(jobs) == 1


def test_a_roofline_that_cannot_be_measured_does_not_fail_the_row(tmp_path, monkeypatch):
    def no_peak(device, precision, engine="torch"):
        raise RuntimeError("no matmul here")

    monkeypatch.setattr(roofline, "measure_peak_gflops", no_peak)
    (row,) = _sweep(plan([_entry()], ["eager"], [1]), tmp_path / "r.jsonl", roofline=True, peak_cache=tmp_path / "p.json")
    assert row["status"] == "ok"
    assert row["gflops"] > 0 and row["peak_gflops"] is None and row["pct_peak"] is None


def test_a_finished_resume_says_how_many_rows_it_skipped(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    jobs = plan([_entry()], ["eager"], [1, 2])
    _sweep(jobs, out)
    capsys.readouterr()
    _sweep(jobs, out, resume=True, progress=True, threads=1)
    err = capsys.readouterr().err
    assert f"resume: 2 of 2 rows already in {out}, skipped; 0 to measure" in err
    assert "row/s" not in err  # no empty progress bar


def test_the_package_docstring_lists_every_public_name():
    import re

    import resgraph.bench as bench

    doc = bench.__doc__ or ""
    missing = [n for n in bench.__all__ if not re.search(rf"\b{n}\b", doc)]
    assert not missing, f"resgraph.bench's docstring does not describe {missing}"
    for name in bench.__all__:
        assert getattr(bench, name) is not None
