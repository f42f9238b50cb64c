"""A row as plain data, and how any process runs one: in the driver, in an isolated child, on a Dask worker.

A :class:`RowTask` pickles (its model factory is data: see ``resgraph.entries.SpecFactory``), so the same
row can be measured wherever a slot is free. :func:`run_task` is the one way a task is measured; only
where it runs differs.
"""

from __future__ import annotations

import importlib
import os
import pickle
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resgraph.bench.backends import get_backend
from resgraph.bench.env import available_cpus, default_threads, environment, fixed_threads
from resgraph.bench.record import Record
from resgraph.bench.roofline import peak_gflops
from resgraph.bench.row import Job, run_row
from resgraph.bench.timing import TimingConfig

__all__ = ["RowTask", "Slot", "make_tasks", "run_task", "enter_slot", "describe_slot", "cpu_ranges"]



@dataclass(frozen=True)
class RowTask:
    """Everything a process needs to measure one row, and nothing it could not pickle."""

    job: Job  # model (a picklable factory and its counts), backend, device, batch, precision
    timing: TimingConfig
    threads: int | None = None  # intra-op threads; None: every CPU of the slot the row runs on
    roofline: bool = True
    peak_cache: str | None = None  # peak.json to use (None: the user's cache folder)
    plugins: tuple[str, ...] = ()  # modules imported first: they register the row's backend if it is not built in


@dataclass(frozen=True)
class Slot:
    """Where a row runs: the CPUs it is pinned to and the GPU it sees; None leaves what the process inherited."""

    cpus: tuple[int, ...] | None = None
    gpu: str | None = None  # CUDA_VISIBLE_DEVICES of the row's process
    worker: str | None = None  # the Dask worker handing the slot out (None: this driver)


def plugins_for(backends: Iterable[str]) -> tuple[str, ...]:
    """Modules that registered these backends, when they are not resgraph's own: a fresh process imports them."""
    mods = {get_backend(b).build.__module__ for b in backends}
    return tuple(sorted(m for m in mods if m != "__main__" and not m.startswith("resgraph.")))


def make_tasks(jobs: Iterable[Job], timing: TimingConfig, threads: int | None, roofline: bool,
               peak_cache: Path | None, picklable: bool) -> list[RowTask]:
    """One task per job; ``picklable=True`` checks now that each can leave this process (a lambda factory cannot)."""
    jobs = list(jobs)
    plugins = plugins_for({j.backend for j in jobs})
    tasks = [RowTask(j, timing, threads, roofline, str(peak_cache) if peak_cache else None, plugins) for j in jobs]
    if picklable:
        for t in tasks:
            try:
                pickle.dumps(t)
            except Exception as e:  # noqa: BLE001 - pickle raises several types for the same mistake
                raise ValueError(f"row {t.job.label} cannot leave this process ({type(e).__name__}: {e}): give its "
                                 "ModelEntry a picklable factory (resgraph.entries.spec_entry, or a module-level "
                                 "function) or run it in-process") from None
    return tasks


def cpu_ranges(cpus: Iterable[int]) -> str:
    """CPU numbers as ``0-3,8``."""
    runs: list[list[int]] = []
    for c in sorted(set(cpus)):
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def enter_slot(slot: Slot) -> None:
    """Pin this process to the slot's CPUs and show it only the slot's GPU; call before CUDA or OpenMP start."""
    if slot.cpus:
        os.sched_setaffinity(0, slot.cpus)
    if slot.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = slot.gpu
    available_cpus.cache_clear()  # the thread default follows the new affinity mask


def describe_slot() -> str:
    """The slot this process runs in, as a record names it: its CPUs, and its GPU when one is set."""
    try:
        text = f"cpus {cpu_ranges(os.sched_getaffinity(0))}"
    except (AttributeError, OSError):
        text = f"cpus {os.cpu_count()}"
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES")
    return text if gpu is None else f"{text}; CUDA_VISIBLE_DEVICES={gpu}"


def run_task(task: RowTask, worker: str | None = None, peaks: dict[tuple[str, str, str], float | None] | None = None,
             envs: dict[tuple[str, int, tuple[str, ...]], dict[str, Any]] | None = None) -> Record:
    """Measure one row here (plugins imported, threads fixed) and say where: host, device model, slot, worker.

    ``peaks`` and ``envs`` cache the matmul peak and the environment across the rows of one process.
    """
    for mod in task.plugins:
        importlib.import_module(mod)
    threads = task.threads or default_threads()
    peaks = {} if peaks is None else peaks
    envs = {} if envs is None else envs
    job = task.job

    def peak(device: str, precision: str, engine: str = "torch") -> float | None:
        """Matmul peak for the roofline through ``engine``, measured at most once per process (and cached on disk)."""
        if not task.roofline:
            return None
        if (device, precision, engine) not in peaks:
            try:
                cache = Path(task.peak_cache) if task.peak_cache else None
                peaks[device, precision, engine] = peak_gflops(device, threads, precision, cache_path=cache,
                                                               engine=engine)
            except Exception:  # noqa: BLE001 - don't retry a peak that can't be measured on every row
                peaks[device, precision, engine] = None
        return peaks[device, precision, engine]

    where = (job.device, threads, job.packages)
    if where not in envs:
        envs[where] = environment(*where)
    t0 = time.perf_counter()
    with fixed_threads(threads):
        rec = run_row(job, task.timing, threads, envs[where], peak)
    return rec.evolve(slot=describe_slot(), worker=worker, wall_s=round(time.perf_counter() - t0, 4))
