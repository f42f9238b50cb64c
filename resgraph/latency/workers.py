"""``resgraph profile --workers N | --scheduler tcp://HOST:PORT``: each entry timed on a Dask worker, one per slot.

The cluster is the bench harness's (``resgraph.cli.engine.open_runner``: a local cluster or an existing
one, checked as for rows), and so is the way into a slot: each entry asks a worker for the runner's
resources (one ``slot``), runs in a fresh process forked from that worker's preloaded forkserver (as a
row does, :mod:`resgraph.bench.isolate`), pinned to the worker's CPUs (and GPU), and is timed there by
:func:`resgraph.latency.profile.time_entry`, the in-process code. Only the driver writes the profile.

A profile describes one device, so before anything is timed every worker that can take an entry writes
the profile header as its slot sees it (host, device model, CPU flags, versions, threads), and a worker
whose header differs from the first's is refused in one line naming it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from resgraph.bench.task import Slot
from resgraph.errors import UsageError
from resgraph.latency.profile import EntryTask, ProfileHeader, Run, Timed

__all__ = ["EntriesFailed", "cluster_header", "differences", "on_workers"]

_PROBE_S = 120.0  # seconds a worker may take to write its header (a fresh process importing the backend)
_SAME = ("backend", "precision", "batch", "device", "threads", "host", "device_model", "cpu_flags", "versions")


class EntriesFailed(RuntimeError):
    """Entries that stayed failed after their retries: not written, so ``--resume`` times them again."""


def in_slot(fn: Callable[[Any], Any], arg: Any, slot: Slot, timeout: float | None) -> tuple[str, Any]:
    """``fn(arg)`` in a fresh process in ``slot`` (resgraph.bench.isolate.call_in_slot, as a row's probe)."""
    from resgraph.bench.isolate import call_in_slot

    return call_in_slot(fn, arg, slot, timeout, "entry", "--entry-timeout")


def _timed(header: ProfileHeader, timing: Any, task: EntryTask) -> Timed:
    from resgraph.bench.env import fixed_threads
    from resgraph.latency.profile import time_entry

    with fixed_threads(header.threads):
        return time_entry(task, header, timing)


def _entry_on_worker(task: EntryTask, header: ProfileHeader, timing: Any, slots: dict[str, Slot] | None,
                     timeout: float | None) -> tuple[str, Any]:
    """The Dask task: time one entry in this worker's slot."""
    from resgraph.bench.dask_runner import worker_slot

    return in_slot(functools.partial(_timed, header, timing), task, worker_slot(slots), timeout)


def _probe(kw: dict[str, Any]) -> dict[str, Any]:
    import os

    from resgraph.bench.env import default_threads
    from resgraph.bench.task import describe_slot
    from resgraph.latency.profile import _header

    header = _header(**{**kw, "threads": kw["threads"] or default_threads()})
    return {"header": header, "cpus": len(os.sched_getaffinity(0)), "slot": describe_slot()}


def _header_on_worker(kw: dict[str, Any], slots: dict[str, Slot] | None, dask_worker: Any = None) -> tuple[str, Any]:
    from resgraph.bench.dask_runner import worker_slot

    return in_slot(_probe, kw, worker_slot(slots, dask_worker), _PROBE_S)


def differences(first: ProfileHeader, other: ProfileHeader) -> list[str]:
    """What a worker's header says unlike the first's (the fields a profile is applied by), as 'field A, not B'."""
    return [f"{k} {getattr(other, k)!r}, not {getattr(first, k)!r}" for k in _SAME
            if getattr(other, k) != getattr(first, k)]


def cluster_header(runner: Any, *, backend: str, precision: str, batch: int, device: str, threads: int | None,
                   timing: Any) -> ProfileHeader:
    """The header every worker that can take an entry gives, or one line naming the first worker that differs."""
    kw = {"backend": backend, "precision": precision, "batch": batch, "device": device,
          "threads": threads or runner.threads, "timing": timing}
    names = {w.address: w for w in runner.workers(device)
             if all(w.resources.get(k, 0) >= v for k, v in runner.resources.items())}
    seen = runner.client.run(_header_on_worker, kw, runner.slots, workers=list(names))
    first: tuple[str, ProfileHeader] | None = None
    for addr in names:  # in runner.workers' order: by host, then name
        who = f"worker {names[addr].name} ({addr})"
        kind, got = seen[addr]
        if kind != "ok":
            raise UsageError(f"{runner.name}: {who} cannot time a profile entry: {got}")
        h = got["header"]
        if got["cpus"] < h.threads:
            raise UsageError(f"{runner.name}: {who}: its slot ({got['slot']}) has {got['cpus']} CPU(s), fewer than "
                             f"--threads {h.threads}")
        if first is None:
            first = (who, h)
        elif diff := differences(first[1], h):
            raise UsageError(f"{runner.name}: {who} is not the device {first[0]} is: {'; '.join(diff)}; a profile "
                             "describes one device: use workers alike, or profile each kind apart (its own -o)")
    assert first is not None  # runner.check refused a cluster without a worker that fits
    return first[1]


def on_workers(runner: Any, header: ProfileHeader, timing: Any, retries: int = 0) -> Run:
    """A ``run(tasks)`` for :func:`run_profile`: each task on a worker, yielded as it finishes, in any order.

    A task whose worker was lost is run again (Dask itself first reruns a task whose worker died, up to
    ``distributed.scheduler.allowed-failures``), as is a failed one, up to ``retries`` more times each; a
    ``UsageError`` (the backend cannot time this) stops the profile as it does here. Entries still failed
    raise :class:`EntriesFailed` once every other entry is done.
    """

    def run(tasks: list[EntryTask]) -> Iterator[tuple[EntryTask, Timed]]:
        from distributed import as_completed

        def submit(i: int) -> Any:
            return runner.client.submit(_entry_on_worker, tasks[i], header, timing, runner.slots, runner.timeout,
                                        resources=runner.resources, pure=False,
                                        key=f"resgraph-profile-{i}-{uuid.uuid4().hex[:8]}")

        futures = {submit(i): i for i in range(len(tasks))}
        tries = [0] * len(tasks)
        failed: list[str] = []
        pending = as_completed(list(futures))
        try:
            for fut in pending:
                i = futures.pop(fut)
                try:
                    kind, got = fut.result()
                except Exception as e:  # noqa: BLE001 - a lost worker (KilledWorker, a closed comm) loses the entry
                    from resgraph.bench.row import one_line

                    kind, got = "error", f"the Dask worker timing it was lost: {one_line(e)}"
                if kind == "ok":
                    yield tasks[i], got
                elif kind == "usage":
                    raise UsageError(got)
                elif tries[i] < max(retries, 1 if "was lost" in got else 0):
                    tries[i] += 1
                    again = submit(i)
                    futures[again] = i
                    pending.add(again)
                else:
                    failed.append(f"{tasks[i].label}: {got}")
        finally:
            runner.client.cancel(list(futures))
        if failed:
            raise EntriesFailed(f"{len(failed)} entr{'y' if len(failed) == 1 else 'ies'} not timed (first: "
                                f"{failed[0]}); `--resume` times them again")

    return run
