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

__all__ = ["plan", "run_sweep", "finished_rows", "resume_split", "stands"]


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
    retry_failed: bool = False,
) -> list[Record]:
    """Run every job, appending each finished row to `out_path` (JSON lines); return all jobs' records.

    `out_path` is a results file (locked for the sweep) or a :class:`resgraph.records.Writer` the caller
    already holds (the command line locks the file before it starts a cluster, and keeps it to the end).

    `runner` says where rows run (default: this process, with `threads`; see resgraph.bench.runners and
    resgraph.bench.dask_runner); records are appended here, as they arrive, whatever the runner.
    resume=True skips jobs that already have a record (measured with the same thread count, on a host and
    device model this runner measures on) and returns that record instead, except a failure from outside the
    row (killed by a signal, timed out, its worker lost: Record.transient), which is measured again;
    retry_failed=True (implies resume) measures every row again whose record is not 'ok'. A re-measured
    row's record keeps the attempts before it (``earlier``). A failing row becomes a
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
        resume = resume or retry_failed
        done, again = resume_split(out.path, jobs, where, retry_failed) if resume else ({}, {})
        todo = [t for t in tasks if t.job.key not in done]
        if resume and progress:
            rerun = f"{len(again)} measured again ({_why_again(again.values(), retry_failed)}); " if again else ""
            print(f"resume: {len(done)} of {len(jobs)} rows already in {out.path}, skipped; {rerun}"
                  f"{len(todo) - len(again)} to measure", file=sys.stderr)
        new: dict[tuple[Any, ...], Record] = {}
        # each row is written after its last round
        for task, rec in run_all(where, todo, timing.repeat, retries, progress, adaptive=timing.adaptive):
            if (before := again.get(task.job.key)) is not None:
                rec = rec.after([*(before.earlier or []), before.as_attempt()])
            out.append(rec)
            new[task.job.key] = rec
        return [new.get(j.key) or done[j.key] for j in jobs]


def resume_split(out_path: Path, jobs: list[Job], runner: Runner, retry_failed: bool = False
                 ) -> tuple[dict[tuple[Any, ...], Record], dict[tuple[Any, ...], Record]]:
    """What --resume does with the rows already in the file, by job key: (kept, measured again)."""
    found = finished_rows(out_path, jobs, runner)
    kept = {k: r for k, r in found.items() if stands(r, retry_failed)}
    return kept, {k: r for k, r in found.items() if k not in kept}


def stands(rec: Record, retry_failed: bool = False) -> bool:
    """Whether --resume keeps a row's record: any but a failure from outside the row; only 'ok' with --retry-failed."""
    return rec.status == "ok" if retry_failed else not rec.transient


def _why_again(recs: Iterable[Record], retry_failed: bool) -> str:
    if retry_failed:
        return "not ok, --retry-failed"
    causes = sorted({r.cause or "failed from outside" for r in recs})
    return "failed from outside the row: " + ", ".join(causes)


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
