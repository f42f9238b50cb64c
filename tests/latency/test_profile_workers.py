"""profile --workers/--scheduler: entries timed on Dask workers are the in-process ones; a worker unlike the rest
is refused before anything is timed; a lost worker's entry is timed again, and only whole entries are written."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from resgraph.bench.dask_runner import WorkerInfo, core_sets
from resgraph.cli.main import main
from resgraph.errors import UsageError

distributed = pytest.importorskip("distributed")
FAST = ["--warmup", "1", "--iters", "3", "--min-time", "0"]
SPACE = "presets: false\nspecs: [resnet20]\nsamples: 0\ncalibration: [resnet20]\ncalibration_samples: 0\n"


def _run(*args: str):
    return CliRunner().invoke(main, ["profile", *args], catch_exceptions=False)


def _has_cores(n: int) -> bool:
    try:
        return len(core_sets(n)) == n
    except UsageError:
        return False


def _entries(path: Path) -> tuple[dict[str, Any], list[str]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return lines[0], [e.get("signature") or f"network {e['spec']}" for e in lines[1:]]


@pytest.mark.skipif(not _has_cores(2), reason="two workers need two physical cores")
def test_two_local_workers_time_the_in_process_entries_once_each(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    here, there = tmp_path / "here.jsonl", tmp_path / "there.jsonl"
    assert _run("--space", str(space), "-o", str(here), "--threads", "1", *FAST).exit_code == 0
    res = _run("--space", str(space), "-o", str(there), "--workers", "2", *FAST)
    assert res.exit_code == 0, res.output
    (h1, ours), (h2, theirs) = _entries(here), _entries(there)
    assert len(theirs) == len(set(theirs)) == 8 and set(theirs) == set(ours)  # 7 segments and resnet20, once each
    assert h2["threads"] == 1  # each worker's slot is one of this host's two cores: the profile's threads
    same = ("backend", "precision", "batch", "device", "threads", "host", "device_model", "cpu_flags", "versions")
    assert {k: h1[k] for k in same} == {k: h2[k] for k in same}
    dry = _run("--space", str(space), "-o", str(there), "--resume", "--dry-run", "--threads", "1", *FAST)
    assert dry.exit_code == 0 and "engine: this process" in dry.output
    assert "0 segment(s) and 0 network(s) to time, 8 already in" in dry.output


class _Client:
    """What cluster_header and on_workers ask of a Dask client; nothing may be submitted unless allowed."""

    def __init__(self, headers: dict[str, Any], submit: Any = None) -> None:
        self.headers, self._submit, self.cancelled = headers, submit, 0

    def run(self, fn: Any, *args: Any, workers: list[str]) -> dict[str, Any]:
        return {a: self.headers[a] for a in workers}

    def submit(self, fn: Any, *args: Any, **kw: Any) -> Any:
        assert self._submit is not None, "an entry was submitted before the workers were checked"
        return self._submit(args[0])

    def cancel(self, futures: list[Any]) -> None:
        self.cancelled += len(futures)


class _Runner:
    name, threads, slots, timeout, resources = "Dask scheduler tcp://127.0.0.1:1", None, None, None, {"slot": 1.0}

    def __init__(self, client: _Client) -> None:
        self.client = client

    def workers(self, device: str) -> list[WorkerInfo]:
        return [WorkerInfo(n, a, "vm", "AMD EPYC", "cpus 0", 1, {"slot": 1.0}, None)
                for n, a in (("a", "tcp://127.0.0.1:2"), ("b", "tcp://127.0.0.1:3"))]


def _header(**kw: Any) -> Any:
    from resgraph.latency.profile import ProfileHeader

    return ProfileHeader(**{"backend": "eager", "precision": "fp32", "batch": 1, "device": "cpu", "threads": 1,
                            "host": "vm", "device_model": "AMD EPYC", "created": "now", **kw})


@pytest.mark.parametrize(("other", "said"), [
    ({"threads": 2}, "threads 2, not 1"),
    ({"device_model": "Intel Xeon"}, "device_model 'Intel Xeon', not 'AMD EPYC'"),
])
def test_a_worker_unlike_the_first_is_refused_before_anything_is_timed(tmp_path: Path, monkeypatch, other,
                                                                       said) -> None:
    import resgraph.cli.engine

    heads = {"tcp://127.0.0.1:2": ("ok", {"header": _header(), "cpus": 1, "slot": "cpus 0"}),
             "tcp://127.0.0.1:3": ("ok", {"header": _header(**other), "cpus": 2, "slot": "cpus 1"})}
    runner = _Runner(_Client(heads))
    monkeypatch.setattr(resgraph.cli.engine, "open_runner", lambda *a: contextlib.nullcontext(runner))
    space, out = tmp_path / "space.yaml", tmp_path / "p.jsonl"
    space.write_text(SPACE)
    res = _run("--space", str(space), "-o", str(out), "--scheduler", "tcp://127.0.0.1:1", *FAST)
    assert res.exit_code == 2 and not out.exists()
    assert res.output.strip() == (f"Dask scheduler tcp://127.0.0.1:1: worker b (tcp://127.0.0.1:3) is not the device "
                                  f"worker a (tcp://127.0.0.1:2) is: {said}; a profile describes one device: use "
                                  "workers alike, or profile each kind apart (its own -o)"), res.output


def test_a_lost_workers_entry_is_timed_again_and_only_whole_entries_are_written(tmp_path: Path, monkeypatch) -> None:
    from distributed import KilledWorker

    from resgraph.latency import workers
    from resgraph.latency.profile import EntryTask, run_profile
    from resgraph.spec import load_spec

    class Done:
        def __init__(self, got: Any) -> None:
            self.got = got

        def result(self) -> Any:
            if isinstance(self.got, BaseException):
                raise self.got
            return self.got

    class AsCompleted(list):
        def __init__(self, futures: list[Any]) -> None:
            super().__init__(futures)

        def add(self, f: Any) -> None:
            self.append(f)

    tries: list[str] = []

    def submit(task: EntryTask) -> Done:  # each entry's first try loses its worker; the second gives a fake timing
        tries.append(task.name)
        if tries.count(task.name) == 1:
            return Done(KilledWorker("resgraph-profile-0", SimpleNamespace(address="tcp://127.0.0.1:2"), 3))
        from resgraph.latency.profile import NetworkTiming, SegmentTiming

        seg = task.segment
        if seg is None:
            return Done(("ok", NetworkTiming(spec=task.name, signatures=[], macs=1, p50_ms=1.0)))
        return Done(("ok", SegmentTiming(signature=seg.signature, part=seg.part, kind=seg.kind, input_shape=[1],
                                         c_in=1, c_out=1, stride=1, macs=1, params=1, act_bytes=1, ops=1, convs=1,
                                         p50_ms=1.0)))

    monkeypatch.setattr(distributed, "as_completed", AsCompleted)
    runner = _Runner(_Client({}, submit))
    out, spec = tmp_path / "p.jsonl", load_spec("resnet20")
    prof = run_profile([spec], [spec], out, backend="eager", precision="fp32", batch=1, device="cpu", threads=1,
                       timing=None, header=_header(), run=workers.on_workers(runner, _header(), None), progress=False)
    assert len(prof.segments) == 7 and len(prof.networks) == 1 and len(tries) == 16
    assert len(out.read_text().splitlines()) == 9  # the header and each entry once


def test_an_entry_still_failed_is_not_written_and_the_profile_says_so(tmp_path: Path, monkeypatch) -> None:
    from resgraph.latency import workers
    from resgraph.latency.profile import NetworkTiming, run_profile
    from resgraph.spec import load_spec

    class Done:
        def __init__(self, got: Any) -> None:
            self.got = got

        def result(self) -> Any:
            return self.got

    class AsCompleted(list):
        def add(self, f: Any) -> None:
            self.append(f)

    def submit(task: Any) -> Done:  # only the network is timed; every segment fails on its (live) worker
        if task.segment is None:
            return Done(("ok", NetworkTiming(spec=task.name, signatures=[], macs=1, p50_ms=1.0)))
        return Done(("error", "RuntimeError: boom"))

    monkeypatch.setattr(distributed, "as_completed", AsCompleted)
    out, spec = tmp_path / "p.jsonl", load_spec("resnet20")
    with pytest.raises(workers.EntriesFailed, match=r"^7 entries not timed \(first: .*: RuntimeError: boom\); "
                                                     r"`--resume` times them again$"):
        run_profile([spec], [spec], out, backend="eager", precision="fp32", batch=1, device="cpu", threads=1,
                    timing=None, header=_header(), run=workers.on_workers(_Runner(_Client({}, submit)), _header(), None),
                    progress=False)
    assert [json.loads(line)["record"] for line in out.read_text().splitlines()] == ["profile", "network"]


def test_dry_run_on_workers_shows_the_device_and_the_workers_and_times_nothing(tmp_path: Path, monkeypatch) -> None:
    import resgraph.cli.engine

    heads = {a: ("ok", {"header": _header(), "cpus": 1, "slot": "cpus 0"})
             for a in ("tcp://127.0.0.1:2", "tcp://127.0.0.1:3")}
    runner = _Runner(_Client(heads))  # submit() fails the test
    monkeypatch.setattr(resgraph.cli.engine, "open_runner", lambda *a: contextlib.nullcontext(runner))
    space, out = tmp_path / "space.yaml", tmp_path / "p.jsonl"
    space.write_text(SPACE)
    res = _run("--space", str(space), "-o", str(out), "--scheduler", "tcp://127.0.0.1:1", "--dry-run", *FAST)
    assert res.exit_code == 0 and not out.exists(), res.output
    assert res.output.splitlines()[:3] == [
        "engine: Dask scheduler tcp://127.0.0.1:1", "device: AMD EPYC on vm (eager, fp32, batch 1, 1 thread(s) an entry)",
        "each entry asks a worker for slot=1 and is timed in its own process there"]
    assert "7 segment(s) and 1 network(s) to time" in res.output and "b       vm    AMD EPYC      cpus 0" in res.output


def test_engine_options_need_a_cluster(tmp_path: Path) -> None:
    for flag in (["--retries", "1"], ["--entry-timeout", "5"]):
        res = _run("-o", str(tmp_path / "p.jsonl"), *flag)
        assert res.exit_code == 2 and f"{flag[0]}: profile times entries in this process unless --workers or " \
            "--scheduler is given" in res.output, res.output
