"""Rows on Dask: a local cluster on 127.0.0.1 gives the in-process records; a killed worker loses only its row."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest
import row_faults  # noqa: F401  (test_* backends, here and in every row's process)
from click.testing import CliRunner

from resgraph.bench import TimingConfig, plan, run_sweep
from resgraph.bench.dask_runner import connect, core_sets, parse_address, parse_resources
from resgraph.bench.record import read_results as read_records
from resgraph.cli.main import main
from resgraph.entries import spec_entry
from resgraph.errors import UsageError

distributed = pytest.importorskip("distributed")
FAST = ["--warmup", "1", "--iters", "3", "--min-time", "0", "--threads", "1", "--no-roofline"]
# What a row's timing, its machine's load and its placement decide; everything else must match field for field.
VARIES = {"min_ms", "p10_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "cv", "throughput", "samples",
          "load_before", "load_after", "cpu_ratio", "steal", "speed_ms", "unstable", "first_result_s", "peak_mem_bytes", "gflops",
          "timestamp", "wall_s", "slot", "worker", "env"}


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _loopback_only() -> None:
    """Every socket of this process and its children is on 127.0.0.1, at both ends."""
    procs = [psutil.Process()] + psutil.Process().children(recursive=True)
    for p in procs:
        try:
            conns = p.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for c in conns:
            assert c.laddr.ip == "127.0.0.1", (p.pid, c)
            assert not c.raddr or c.raddr.ip == "127.0.0.1", (p.pid, c)


def _has_cores(n: int) -> bool:
    try:
        return len(core_sets(n)) == n
    except UsageError:
        return False


@pytest.mark.skipif(not _has_cores(2), reason="two workers need two physical cores")
def test_two_local_workers_give_the_in_process_records(tmp_path: Path) -> None:
    sweep = ["bench", "resnet20", "--backend", "eager,channels_last,test_kill", "--batch", "1", *FAST]
    here, there = tmp_path / "here.jsonl", tmp_path / "there.jsonl"
    assert _run(*sweep, "--out", str(here), "--in-process", "--backend", "eager,channels_last").exit_code == 0
    res = _run(*sweep, "--out", str(there), "--workers", "2")
    assert res.exit_code == 3  # the killed row is failed; the sweep finished
    assert "failed: resnet20/test_kill/fp32/b1: the row's process died of SIGKILL" in res.output
    ours = {r["backend"]: r for r in map(json.loads, here.read_text().splitlines())}
    theirs = {r["backend"]: r for r in map(json.loads, there.read_text().splitlines())}
    assert set(theirs) == {"eager", "channels_last", "test_kill"}
    for b, r in ours.items():
        assert {k: v for k, v in r.items() if k not in VARIES} == {k: v for k, v in theirs[b].items() if k not in VARIES}
        assert theirs[b]["worker"] in ("0", "1") and theirs[b]["slot"].startswith("cpus ")
        assert theirs[b]["env"]["torch"] == r["env"]["torch"]
    slots = {r["worker"]: r["slot"] for r in theirs.values()}
    cpus = [set(_cpus(s)) for s in set(slots.values())]
    assert all(not (a & b) for i, a in enumerate(cpus) for b in cpus[i + 1:])  # each worker its own cores


def _cpus(slot: str) -> list[int]:
    """``cpus 0-2,5`` -> [0, 1, 2, 5]."""
    out = []
    for part in slot.removeprefix("cpus ").split(";")[0].split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


@pytest.fixture
def cluster():
    """Two workers on 127.0.0.1 as `dask worker --resources slot=1` would start them (rows may have children)."""
    import dask

    with dask.config.set({"distributed.worker.daemon": False}), distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, resources={"slot": 1},
            memory_limit=0) as c:
        yield c


def test_a_killed_worker_loses_only_its_row_and_resume_finishes(tmp_path: Path, cluster, monkeypatch) -> None:
    out = tmp_path / "r.jsonl"
    jobs = plan([spec_entry("resnet20")], ["eager", "test_slow", "channels_last"], [1])
    timing = TimingConfig(warmup=1, iters=3, min_time_s=None)
    addr = cluster.scheduler_address
    assert addr.startswith("tcp://127.0.0.1:")
    dry = _run("bench", "resnet20", "--scheduler", addr, "--out", str(out), "--dry-run", "--threads", "1")
    assert dry.exit_code == 0 and f"engine: Dask scheduler {addr}" in dry.output
    assert re.search(r"^resnet20/eager/fp32/b1 +worker 0 \(starts at once\)$", dry.output, re.M), dry.output
    assert re.search(r"^0 +127\.0\.0\.1|^0 +\S+ +.+ +cpus ", dry.output, re.M), dry.output
    assert not out.exists()  # a dry run measures nothing

    with connect(addr, threads=1) as runner:
        runner.check({"cpu"})
        _loopback_only()
        pids = runner.client.run(os.getpid)
        killed: list[int] = []

        def kill_the_slow_rows_worker() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not killed:
                for addr_, tasks in runner.client.processing().items():
                    if any("test_slow" in str(t) for t in tasks):
                        time.sleep(1.0)  # the row is in its process, building
                        os.kill(pids[addr_], signal.SIGKILL)
                        killed.append(pids[addr_])
                        return
                time.sleep(0.1)

        t = threading.Thread(target=kill_the_slow_rows_worker)
        t.start()
        rows = run_sweep(jobs, out, timing=timing, progress=False, roofline=False, runner=runner)
        t.join()
    assert killed, "the slow row was never seen running"
    by = {r["backend"]: r for r in rows}
    assert by["eager"]["status"] == by["channels_last"]["status"] == "ok"
    # Dask runs the lost row again on a worker that is up, or it fails saying so; nothing else is lost.
    assert by["test_slow"]["status"] == "ok" or "Dask worker running the row was lost" in by["test_slow"]["reason"]
    first = read_records(out)
    assert len(first) == 3

    # Resume on the cluster, then in this process: the finished rows are not measured again.
    res = _run("bench", "resnet20", "--backend", "eager,channels_last", "--scheduler", addr, "--out", str(out),
               "--resume", *FAST)
    assert res.exit_code == 0 and "resume: 2 of 2 rows already in" in res.output
    res = _run("bench", "resnet20", "--backend", "eager,channels_last", "--in-process", "--out", str(out),
               "--resume", *FAST)
    assert res.exit_code == 0 and "resume: 2 of 2 rows already in" in res.output
    assert read_records(out) == first


def test_cluster_options_are_checked_before_anything_starts(tmp_path: Path) -> None:
    out = str(tmp_path / "r.jsonl")
    for args, message in [
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers and --scheduler: choose one"),
        (["--workers", "64"], "--workers 64: this host has"),
        (["--scheduler", "127.0.0.1:8786"], "--scheduler: expected tcp://HOST:PORT (received '127.0.0.1:8786')"),
        (["--scheduler", "tcp://127.0.0.1:9", "--resources", "slot"], "--resources: expected NAME=AMOUNT"),
        (["--scheduler", "tls://127.0.0.1:8786"], "tls:// needs certificates resgraph cannot pass"),
        (["--scheduler", "tcp://127.0.0.1:0"], "--scheduler: port 0 is not from 1 to 65535"),
        (["--scheduler", "tcp://127.0.0.1:99999"], "--scheduler: port 99999 is not from 1 to 65535"),
        (["--scheduler", "tcp://:8786"], "--scheduler: expected tcp://HOST:PORT"),
        (["--in-process", "--row-timeout", "5"], "--row-timeout needs rows in their own processes"),
        (["--workers", "1", "--device", "cuda:1"], "--device cuda:1 with --workers: each worker sees only its own GPU"),
    ]:
        res = CliRunner().invoke(main, ["bench", "resnet20", "--out", out, *args])
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert parse_address("tcp://[::1]:8786") == ("::1", 8786)
    assert parse_resources("slot=1,GPU=0.5") == {"slot": 1.0, "GPU": 0.5}
    with pytest.raises(UsageError):
        parse_resources("slot=0")
    assert sum(len(s) for s in core_sets(1)) == len(os.sched_getaffinity(0))


def test_an_unreachable_scheduler_fails_at_once(tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        t0 = time.perf_counter()
        res = CliRunner().invoke(main, ["bench", "resnet20", "--out", str(tmp_path / "r.jsonl"), "--scheduler",
                                        f"tcp://127.0.0.1:{port}"])
        took = time.perf_counter() - t0
    assert res.exit_code == 2 and f"--scheduler tcp://127.0.0.1:{port}: cannot reach the scheduler (Connection " \
        "refused)" in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert took < 5, took  # Dask's client would have retried for its whole 10 s timeout


@pytest.mark.skipif(not __import__("torch").cuda.is_available() or __import__("torch").cuda.device_count() < 2,
                    reason="needs two CUDA GPUs")
def test_each_local_worker_times_on_its_own_gpu(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    res = _run("bench", "resnet20", "--device", "cuda", "--batch", "1,2", "--workers", "2", "--out", str(out), *FAST)
    assert res.exit_code == 0, res.output
    recs = read_records(out)
    assert {r["slot"].split("CUDA_VISIBLE_DEVICES=")[1] for r in recs} == {"0", "1"}
    assert all(r["status"] == "ok" and r["device_model"] for r in recs)
