"""Rows in their own processes: a row that dies, hangs or raises fails alone, with the reason; retries; plugins."""

from __future__ import annotations

import sys
import textwrap
import uuid

import pytest
import row_faults  # noqa: F401  (registers the test_* backends here; rows import it in their own processes)

from resgraph.bench import TimingConfig, plan, run_sweep
from resgraph.bench.isolate import exit_reason
from resgraph.bench.record import Record
from resgraph.bench.record import read_results as read_records
from resgraph.bench.row import ModelEntry
from resgraph.bench.runners import Isolated
from resgraph.bench.task import RowTask, make_tasks, plugins_for
from resgraph.bench.toy import tiny_resnet

FAST = TimingConfig(warmup=1, iters=3, min_time_s=None)
SHAPE = (3, 32, 32)


def _entry(name="tiny"):
    return ModelEntry(name, tiny_resnet, spec_hash="abc123", macs=1.2e6, input_shape=SHAPE)


def _sweep(jobs, path, runner, **kw):
    return run_sweep(jobs, path, timing=FAST, progress=False, roofline=False, runner=runner, **kw)


def test_a_row_that_dies_or_raises_fails_alone_with_its_reason(tmp_path):
    out = tmp_path / "r.jsonl"
    backends = ["test_kill", "test_segfault", "test_exit7", "test_raise", "eager"]
    rows = _sweep(plan([_entry()], backends, [1]), out, Isolated(1))
    by = {r["backend"]: r for r in rows}
    assert by["test_kill"]["reason"].startswith("the row's process died of SIGKILL (killed: out of memory")
    assert by["test_segfault"]["reason"] == "the row's process died of SIGSEGV"
    assert by["test_exit7"]["reason"] == "the row's process exited with code 7 before sending its record"
    assert by["test_raise"]["reason"] == "RuntimeError: backend raised on purpose"
    assert [by[b]["status"] for b in backends] == ["failed"] * 4 + ["ok"]
    assert [by[b]["cause"] for b in backends] == ["killed", "crashed", "crashed", "error", None]
    assert [by[b].transient for b in backends] == [True, False, False, False, False]
    assert read_records(out) == rows  # every row written, the dead ones too, each with where it ran
    for r in rows:
        assert r["host"] and r["device_model"] and r["attempts"] == 1 and r["wall_s"] > 0
    assert by["test_kill"]["slot"].startswith("cpus ")  # the row said where it was before it died


def test_a_hung_row_is_killed_at_the_row_timeout(tmp_path):
    (row,) = _sweep(plan([_entry()], ["test_hang"], [1]), tmp_path / "r.jsonl", Isolated(1, timeout=1.5))
    assert row["status"] == "failed"
    assert row["reason"] == "timed out: no result after 1.5 s (--row-timeout); the row's process was killed"
    assert row["cause"] == "timeout" and row.transient
    assert 1.5 <= row["wall_s"] < 30


def test_retries_rerun_a_row_that_failed_once(tmp_path, monkeypatch):
    # A backend that dies the first time and works the second
    marker = tmp_path / "failed-once"
    name = _fails_once(tmp_path, monkeypatch, "test_flaky", marker, "os._exit(3)")
    jobs = plan([_entry()], ["test_flaky"], [1])
    (row,) = _sweep(jobs, tmp_path / "r.jsonl", Isolated(1), retries=1)
    assert row["status"] == "ok" and row["attempts"] == 2
    assert [(a.status, a.cause, a.reason) for a in row["earlier"]] == [("failed", "crashed", exit_reason(3))]
    assert len(read_records(tmp_path / "r.jsonl")) == 1  # the failed attempt is not a row
    marker.unlink()
    (row,) = _sweep(jobs, tmp_path / "r2.jsonl", Isolated(1))  # no retries: the failure is the row
    assert row["status"] == "failed" and row["reason"] == exit_reason(3)
    del sys.modules[name]


def test_a_task_names_the_module_of_a_backend_that_is_not_built_in():
    assert plugins_for(["eager", "onnxruntime"]) == ()
    assert plugins_for(["test_kill", "eager"]) == ("row_faults",)


def test_a_row_that_cannot_leave_the_process_is_refused_before_anything_runs(tmp_path):
    entry = ModelEntry("lambda", lambda: tiny_resnet(), input_shape=SHAPE)
    with pytest.raises(ValueError, match=r"row lambda/eager/fp32/b1 cannot leave this process .*picklable factory"):
        _sweep(plan([entry], ["eager"], [1]), tmp_path / "r.jsonl", Isolated(1))
    assert not (tmp_path / "r.jsonl").exists()
    tasks = make_tasks(plan([_entry()], ["eager"], [1]), FAST, 1, False, None, picklable=True)
    assert isinstance(tasks[0], RowTask) and tasks[0].plugins == ()


def _fails_once(tmp_path, monkeypatch, backend, marker, how):
    """A backend whose row's process ends by ``how`` the first time, then works; returns its module's name.

    Its state is a file only this test knows, so the module registering it is written here (and imported by
    the row's process from sys.path)."""
    name = f"once_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from resgraph.bench.backends import Backend, get_backend, register

        def build(model, x, ctx):
            marker = Path({str(marker)!r})
            if not marker.exists():
                marker.touch()
                {how}
            return get_backend("eager").build(model, x, ctx)

        register(Backend({backend!r}, build, {{"cpu": ("fp32",)}}))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(name)
    return name


def test_resume_measures_again_a_row_killed_from_outside_and_keeps_the_rows_own_failures(tmp_path, monkeypatch):
    # SIGKILLed the first time, as an operator or the OOM killer does
    name = _fails_once(tmp_path, monkeypatch, "test_killed_once", tmp_path / "killed-once",
                       "os.kill(os.getpid(), signal.SIGKILL)")
    out = tmp_path / "r.jsonl"
    jobs = plan([_entry()], ["test_killed_once", "test_segfault", "test_raise", "eager"], [1])
    first = _sweep(jobs, out, Isolated(1))
    assert [(r.status, r.cause) for r in first] == [("failed", "killed"), ("failed", "crashed"),
                                                     ("failed", "error"), ("ok", None)]
    resumed = _sweep(jobs, out, Isolated(1), resume=True)
    assert len(read_records(out)) == 5  # only the killed row was measured again
    killed = resumed[0]
    assert killed.status == "ok" and killed.attempts == 2 and killed.cause is None
    assert [(a.status, a.cause, a.host) for a in killed.earlier] == [("failed", "killed", first[0].host)]
    assert resumed[1:] == first[1:]  # the row's own failures (a segfault, an exception) stand under --resume
    again = _sweep(jobs, out, Isolated(1), retry_failed=True)
    assert len(read_records(out)) == 7  # --retry-failed measured the two that were not ok, nothing else
    assert again[0] == killed and again[3] == first[3]
    assert [(r.status, r.attempts, [a.cause for a in r.earlier]) for r in again[1:3]] == [
        ("failed", 2, ["crashed"]), ("failed", 2, ["error"])]
    del sys.modules[name]


def test_a_failure_recorded_before_records_had_a_cause_is_judged_by_its_reason():
    def old(reason):
        return Record(spec="s", backend="eager", batch=1, status="failed", reason=reason, schema_version=3)

    assert old(exit_reason(-9)).transient and old("timed out: no result after 5 s (--row-timeout); killed").transient
    assert old("the Dask worker running the row was lost: KilledWorker: x").transient
    assert not old(exit_reason(-11)).transient and not old("RuntimeError: boom").transient
    assert not Record(spec="s", backend="eager", batch=1, status="skipped", cause=None).transient
