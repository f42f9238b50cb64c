"""Sweeps: the product of models x backends x batches x precisions, one appended record per row."""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from resgraph import records
from resgraph.bench.env import default_threads
from resgraph.bench.record import Record, load_results
from resgraph.bench.row import Job, ModelEntry, validate_job
from resgraph.bench.runners import InProcess, Runner, run_all
from resgraph.bench.task import make_tasks
from resgraph.bench.timing import TimingConfig
from resgraph.precision import CALIBRATION_BATCHES

__all__ = ["plan", "run_sweep", "finished_rows"]


def plan(
    models: Sequence[ModelEntry],
    backends: Sequence[str],
    batches: Sequence[int],
    precisions: Sequence[str] = ("fp32",),
    device: str = "cpu",
    calibration: int = CALIBRATION_BATCHES,
    hint: str | None = None,
) -> list[Job]:
    """The sweep's rows in order (model, backend, precision, batch), validated, duplicates dropped.

    ``calibration``: batches an int8 row calibrates on (ignored by the other precisions). ``hint``: the
    performance hint of the backends that take one (openvino; ignored by the others).
    """
    jobs: list[Job] = []
    seen: set[tuple[Any, ...]] = set()
    for m, b, p, n in itertools.product(models, backends, precisions, batches):
        job = Job(m, b, device, int(n), p, calibration, hint)
        validate_job(job)
        if job.key not in seen:
            seen.add(job.key)
            jobs.append(job)
    return jobs


def run_sweep(
    jobs: Iterable[Job],
    out_path: str | os.PathLike[str] | records.Writer,
    resume: bool = False,
    progress: bool = True,
    *,
    timing: TimingConfig = TimingConfig(),
    threads: int | None = None,
    roofline: bool = True,
    peak_cache: Path | None = None,
    replace: bool = False,
    runner: Runner | None = None,
    retries: int = 0,
) -> list[Record]:
    """Run every job, appending each finished row to `out_path` (JSON lines); return all jobs' records.

    `out_path` is a results file (locked for the sweep) or a :class:`resgraph.records.Writer` the caller
    already holds (the command line locks the file before it starts a cluster, and keeps it to the end).

    `runner` says where rows run (default: this process, with `threads`; see resgraph.bench.runners and
    resgraph.bench.dask_runner); records are appended here, as they arrive, whatever the runner.
    resume=True skips jobs that already have a record (measured with the same thread count, on a host and
    device model this runner measures on) and returns that record instead. A failing row becomes a
    'failed' record and the sweep goes on; `retries` re-runs it up to that many more times. On
    KeyboardInterrupt the finished rows are on disk; the progress bar is closed and the interrupt
    re-raised. replace=True starts the file afresh (the demo's), once the lock is held: another sweep's
    file is never removed under it.
    """
    jobs = list(jobs)
    for job in jobs:
        validate_job(job)
    where: Runner = runner if runner is not None else InProcess(threads or default_threads())
    tasks = make_tasks(jobs, timing, where.threads, roofline, peak_cache, picklable=where.remote)
    held = contextlib.nullcontext(out_path) if isinstance(out_path, records.Writer) else records.writer(out_path)
    with held as out:  # one sweep per results file; refused before measuring if it cannot be written
        if replace:
            out.restart()
        done = finished_rows(out.path, jobs, where) if resume else {}
        todo = [t for t in tasks if t.job.key not in done]
        if resume and progress:
            print(f"resume: {len(jobs) - len(todo)} of {len(jobs)} rows already in {out.path}, skipped; "
                  f"{len(todo)} to measure", file=sys.stderr)
        new: dict[tuple[Any, ...], Record] = {}
        # each row is written after its last round
        for task, rec in run_all(where, todo, timing.repeat, retries, progress, adaptive=timing.adaptive):
            out.append(rec)
            new[task.job.key] = rec
        return [new.get(j.key) or done[j.key] for j in jobs]


def finished_rows(out_path: Path, jobs: list[Job], runner: Runner) -> dict[tuple[Any, ...], Record]:
    """Records of these jobs already in the file, by job key, that this runner would not measure differently.

    A record counts when it was measured with the runner's thread count (when the runner fixes one) on
    a host and device model the runner measures on; a record from before resgraph named hosts counts
    when its device model is one of them.
    """
    places = runner.placements({j.device for j in jobs})
    models = {m for _, m in places}
    wanted = {j.key for j in jobs}
    done: dict[tuple[Any, ...], Record] = {}
    for rec in load_results(out_path):
        host, model = rec.placement
        here = (host, model) in places or (host is None and model in models)
        if rec.job_key in wanted and here and (runner.threads is None or rec.threads == runner.threads):
            done[rec.job_key] = rec
    return done
