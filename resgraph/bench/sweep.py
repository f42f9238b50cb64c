"""Sweeps: the product of models x backends x batches x precisions, one appended record per row."""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from resgraph.bench.env import default_threads, environment, fixed_threads
from resgraph.bench.results import append_record, latest_by_key, read_records, sweep_lock
from resgraph.bench.roofline import peak_gflops
from resgraph.bench.rounds import measured
from resgraph.bench.row import Job, ModelEntry, run_row, validate_job
from resgraph.bench.timing import TimingConfig
from resgraph.precision import CALIBRATION_BATCHES

__all__ = ["plan", "run_sweep"]


def plan(
    models: Sequence[ModelEntry],
    backends: Sequence[str],
    batches: Sequence[int],
    precisions: Sequence[str] = ("fp32",),
    device: str = "cpu",
    calibration: int = CALIBRATION_BATCHES,
) -> list[Job]:
    """The sweep's rows in order (model, backend, precision, batch), validated, duplicates dropped.

    ``calibration``: batches an int8 row calibrates on (ignored by the other precisions).
    """
    jobs: list[Job] = []
    seen: set[tuple[Any, ...]] = set()
    for m, b, p, n in itertools.product(models, backends, precisions, batches):
        job = Job(m, b, device, int(n), p, calibration)
        validate_job(job)
        if job.key not in seen:
            seen.add(job.key)
            jobs.append(job)
    return jobs


def run_sweep(
    jobs: Iterable[Job],
    out_path: str | os.PathLike[str],
    resume: bool = False,
    progress: bool = True,
    *,
    timing: TimingConfig = TimingConfig(),
    threads: int | None = None,
    roofline: bool = True,
    peak_cache: Path | None = None,
    replace: bool = False,
) -> list[dict[str, Any]]:
    """Run every job, appending each finished row to `out_path` (JSON lines); return all jobs' records.

    resume=True skips jobs whose key already has a record (measured with the same
    thread count) in the file and returns that record instead. A failing row becomes a 'failed' record and
    the sweep goes on. On KeyboardInterrupt the finished rows are on disk; the
    progress bar is closed and the interrupt re-raised. replace=True starts the file afresh (the demo's),
    once the lock is held: another sweep's file is never removed under it.
    """
    jobs = list(jobs)
    for job in jobs:
        validate_job(job)
    out_path = Path(out_path)
    threads = threads or default_threads()
    with sweep_lock(out_path):  # one sweep per results file; refused before measuring if it cannot be written
        if replace:
            out_path.unlink(missing_ok=True)
        return _run(jobs, out_path, resume, progress, timing, threads, roofline, peak_cache)


def _run(jobs: list[Job], out_path: Path, resume: bool, progress: bool, timing: TimingConfig, threads: int,
         roofline: bool, peak_cache: Path | None) -> list[dict[str, Any]]:
    done = latest_by_key(read_records(out_path)) if resume else {}
    # A row measured with another thread count is not this row: measure it again.
    done = {k: r for k, r in done.items() if r.get("threads") == threads}
    todo = [j for j in jobs if j.key not in done]
    if resume and progress:
        skipped = len(jobs) - len(todo)
        print(f"resume: {skipped} of {len(jobs)} rows already in {out_path}, skipped; {len(todo)} to measure",
              file=sys.stderr)
    envs: dict[str, dict[str, Any]] = {}
    peaks: dict[tuple[str, str, str], float | None] = {}

    def peak(device: str, precision: str, engine: str = "torch") -> float | None:
        """Matmul peak for the roofline, measured at most once per sweep (and cached on disk)."""
        if not roofline:
            return None
        if (device, precision, engine) not in peaks:
            try:
                peaks[device, precision, engine] = peak_gflops(device, threads, precision, cache_path=peak_cache,
                                                               engine=engine)
            except Exception:  # noqa: BLE001 - don't retry a peak that can't be measured on every row
                peaks[device, precision, engine] = None
        return peaks[device, precision, engine]

    new: dict[tuple[Any, ...], dict[str, Any]] = {}

    def run(job: Job) -> dict[str, Any]:
        if job.device not in envs:
            envs[job.device] = environment(job.device, threads)
        return run_row(job, timing, threads, envs[job.device], peak)

    with fixed_threads(threads):
        for job, rec in measured(todo, timing.repeat, progress, run):  # a row is written once, after its last round
            append_record(out_path, rec)
            new[job.key] = rec
    return [new.get(j.key) or done[j.key] for j in jobs]
