"""Where `resgraph bench` runs its rows: options, the runner they choose, and the --dry-run view."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from resgraph.bench.settings import DEFAULT_RESOURCES, EngineSettings
from resgraph.cli.values import finite
from resgraph.errors import UsageError


def engine_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--workers, --scheduler, --resources, --in-process, --row-timeout, --retries, --dry-run."""
    f = click.option("--dry-run", is_flag=True,
                     help="show the workers, their device slots and where each row would run; measure nothing")(f)
    f = click.option("--retries", type=click.IntRange(min=0), default=0, show_default=True,
                     help="run a failed row up to N more times (after the other rows)")(f)
    f = click.option(
        "--row-timeout",
        type=click.FloatRange(min=0, min_open=True, max=7 * 24 * 3600),
        callback=finite,
        default=None,
        metavar="SECONDS",
        help="kill a row still running after this many seconds and record it failed [default: no limit]",
    )(f)
    f = click.option("--in-process", is_flag=True,
                     help="run rows in this process, one after another (no isolation: a crashing backend ends the "
                          "sweep) [default: each row in its own process]")(f)
    f = click.option(
        "--resources",
        default=DEFAULT_RESOURCES,
        show_default=True,
        metavar="NAME=N[,...]",
        help="the Dask resources each row asks for: workers offering one unit each run one row at a time",
    )(f)
    f = click.option("--scheduler", metavar="tcp://HOST:PORT", default=None,
                     help="run rows on an existing Dask cluster (dask scheduler + dask worker, dask-jobqueue, ...)")(f)
    f = click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="run rows on a local Dask cluster of N workers on 127.0.0.1, each with its own share of "
                          "the physical cores (and its own GPU on --device cuda)")(f)
    return f


@contextlib.contextmanager
def open_runner(engine: EngineSettings, threads: int | None, device: str) -> Iterator[Any]:
    """The runner the options ask for, checked before anything is measured; a cluster is closed afterwards."""
    from resgraph.bench.dask_runner import connect, local_cluster, parse_address, parse_resources
    from resgraph.bench.env import default_threads
    from resgraph.bench.runners import InProcess, Isolated

    workers, scheduler, resources = engine.workers, engine.scheduler, engine.resources
    in_process, row_timeout = engine.in_process, engine.row_timeout

    if workers and scheduler:
        raise UsageError("--workers and --scheduler: choose one (a local cluster, or an existing one)")
    if in_process and (workers or scheduler):
        raise UsageError("--in-process runs rows here; it cannot be combined with --workers or --scheduler")
    if in_process and row_timeout:
        raise UsageError("--row-timeout needs rows in their own processes: drop --in-process")
    if scheduler:
        parse_address(scheduler)
    parse_resources(resources)
    if workers or scheduler:
        cm = local_cluster(workers, device, threads, row_timeout, resources) if workers else \
            connect(str(scheduler), threads, row_timeout, resources)
        with cm as runner:
            runner.check({device})
            yield runner
    elif in_process:
        yield InProcess(threads or default_threads())
    else:
        yield Isolated(threads or default_threads(), row_timeout)


def dry_run(runner: Any, jobs: list[Any], out: Path, resume: bool, retry_failed: bool = False,
            timing: Any = None) -> str:
    """Workers, their slots, and where each row would run: what `bench` would do, with nothing measured."""
    from resgraph.bench.sweep import resume_split
    from resgraph.bench.task import describe_slot

    device = jobs[0].device if jobs else "cpu"
    lines = [f"engine: {runner.name}"]
    if hasattr(runner, "workers"):
        ask = ",".join(f"{k}={v:g}" for k, v in runner.resources.items())
        lines.append(f"each row asks a worker for {ask} and runs in its own process there")
        rows = [("worker", "host", "device model", "slot", "threads", "resources")]
        for w in runner.workers(device):
            rows.append((w.name, w.host, w.device_model or "?", w.slot, str(runner.threads or w.threads),
                         ",".join(f"{k}={v:g}" for k, v in w.resources.items()) or "-"))
        slots = [w.name for w in runner.workers(device)
                 if all(w.resources.get(k, 0) >= v for k, v in runner.resources.items())]
    else:
        import socket

        from resgraph.bench.env import device_name

        rows = [("worker", "host", "device model", "slot", "threads", "resources"),
                ("this process" if not runner.remote else "a process per row", socket.gethostname(),
                 device_name(device), describe_slot(), str(runner.threads), "-")]
        slots = []
    lines += _table(rows)
    resume = resume or retry_failed
    done, again = resume_split(out, jobs, runner, retry_failed) if resume else ({}, {})
    todo = [j for j in jobs if j.key not in done]
    rows_ = f"{len(jobs)} row{'s' if len(jobs) != 1 else ''}"
    also = f" ({len(again)} of them again: their last attempt failed)" if again else ""
    lines.append(f"{rows_}: {len(done)} already in {out}, {len(todo)} to measure{also}" if resume
                 else f"{rows_} to measure")
    if todo and todo[0].device == "cpu" and not hasattr(runner, "workers"):  # the speed index is this host's
        lines.append(_eta(todo, timing, runner.threads))
    where = []
    for i, j in enumerate(todo):
        if not slots:
            place = f"{'this process' if not runner.remote else 'its own process'}, row {i + 1} of {len(todo)}"
        elif i < len(slots):
            place = f"worker {slots[i]} (starts at once)"
        else:
            place = "the first worker to free its slot"
        where.append((j.label + (f" (again: {again[j.key].cause or again[j.key].status})" if j.key in again else ""),
                      place))
    where += [(j.label, "done: already in the results file") for j in jobs if j.key in done]
    lines += _table([("row", "runs on")] + where)
    return "\n".join(lines)


def _eta(todo: list[Any], timing: Any, threads: int) -> str:
    from resgraph.bench.eta import machine_speed_ms, sweep_seconds
    from resgraph.bench.settings import TimingConfig
    from resgraph.units import human_duration

    speed = machine_speed_ms(threads)
    took = human_duration(sweep_seconds(todo, timing or TimingConfig(), speed))
    return f"time: {took} on this machine now (its speed index {speed:.2g} ms; estimated from the rows' MACs)"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows]
