"""Where a sweep's rows run: in this process, or one isolated process per row (Dask: ``dask_runner``).

A runner takes a batch of tasks and yields ``(task, record)`` as each row finishes, in any order;
only the sweep writes records. Rounds (``--repeat``) and retries (``--retries``) work the same on
every runner: :func:`run_all`.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from tqdm import tqdm

from resgraph.bench.env import device_name, fixed_threads
from resgraph.bench.isolate import run_isolated
from resgraph.bench.record import Attempt, Place, Record
from resgraph.bench.rounds import measure_rounds
from resgraph.bench.significance import settled
from resgraph.bench.task import RowTask, Slot, run_task

__all__ = ["Runner", "InProcess", "Isolated", "run_all"]



class Runner(Protocol):
    """What a sweep needs from wherever its rows run."""

    @property
    def name(self) -> str:
        """In words, for messages and --dry-run."""
        ...

    @property
    def threads(self) -> int | None:
        """Intra-op threads every row gets; None: each slot's own CPU count."""
        ...

    @property
    def remote(self) -> bool:
        """Whether rows leave this process (tasks must pickle)."""
        ...

    def placements(self, devices: Iterable[str]) -> set[Place]:
        """The (host, device model) pairs rows may be measured on: --resume reuses only their records."""
        ...

    def run(self, tasks: list[RowTask]) -> Iterator[tuple[RowTask, Record]]:
        """Measure ``tasks``, yielding each record as it arrives."""
        ...


class InProcess:
    """Every row in this process, one after another (the harness as a library uses it; a crash ends the sweep)."""

    remote = False

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.name = f"in-process on {socket.gethostname()}"
        self._peaks: dict[tuple[str, str, str], float | None] = {}
        self._envs: dict[tuple[str, int, tuple[str, ...]], dict[str, Any]] = {}

    def placements(self, devices: Iterable[str]) -> set[Place]:
        return {(socket.gethostname(), device_name(d)) for d in devices}

    def run(self, tasks: list[RowTask]) -> Iterator[tuple[RowTask, Record]]:
        with fixed_threads(self.threads):
            for t in tasks:
                yield t, run_task(t, None, self._peaks, self._envs)


class Isolated(InProcess):
    """Every row in its own process on this host, one at a time; a row that dies or hangs fails alone."""

    remote = True

    def __init__(self, threads: int, timeout: float | None = None) -> None:
        super().__init__(threads)
        self.timeout = timeout
        self.name = f"isolated processes on {socket.gethostname()}, one row at a time"

    def run(self, tasks: list[RowTask]) -> Iterator[tuple[RowTask, Record]]:
        for t in tasks:
            yield t, run_isolated(t, Slot(), self.timeout)


def _with_retries(runner: Runner, tasks: list[RowTask], retries: int,
                  say: Any) -> Iterator[tuple[RowTask, Record]]:
    """Run ``tasks``; a 'failed' row runs again, up to ``retries`` more times, after the others. The record that
    stands keeps the failed attempts before it (``earlier``)."""
    pending, attempt = tasks, 1
    tried: dict[tuple[Any, ...], list[Attempt]] = {}
    while pending:
        again = []
        for task, rec in runner.run(pending):
            history = tried.setdefault(task.job.key, [])
            if rec.status == "failed" and attempt <= retries:
                say(f"retrying {task.job.label} (attempt {attempt + 1} of {retries + 1}): {rec.reason}")
                history.append(rec.as_attempt())
                again.append(task)
                continue
            yield task, rec.evolve(attempts=attempt).after(history)
        pending, attempt = again, attempt + 1


def run_all(runner: Runner, tasks: list[RowTask], repeat: int = 1, retries: int = 0,
            progress: bool = True, *, adaptive: bool = False,
            decided: Callable[[list[Record]], bool] | None = None) -> Iterator[tuple[RowTask, Record]]:
    """Every task in ``repeat`` interleaved rounds (each round ends before the next starts), with retries and the
    speed-index re-measure (resgraph.bench.rounds); yields each task's combined record after its last round.

    ``adaptive`` (--repeat auto): ``repeat`` is the cap, and rounds stop once ``decided`` holds (default: every
    row's rounds pin its p50 within +-5 %, resgraph.bench.significance.settled).
    """
    with tqdm(total=len(tasks) * repeat, unit="row", file=sys.stderr, disable=not progress or not tasks,
              dynamic_ncols=True) as bar:
        say = (lambda msg: bar.write(msg, file=sys.stderr)) if progress else (lambda _msg: None)

        def measure(batch: list[RowTask]) -> Iterator[tuple[RowTask, Record]]:
            for task, rec in _with_retries(runner, batch, retries, say):
                if bar.total is not None and bar.n >= bar.total:  # a re-measured row
                    bar.total += 1
                bar.set_postfix_str(task.job.label, refresh=False)
                bar.update(1)
                yield task, rec

        drift_max = tasks[0].timing.drift_max if tasks else None
        yield from measure_rounds(tasks, lambda t: t.job.key, measure, repeat, adaptive=adaptive,
                                  decided=decided or _rows_settled, say=say, drift_max=drift_max)


def _rows_settled(recs: list[Record]) -> bool:
    """--repeat auto in a sweep: every measured row's rounds pin its p50 down."""
    return all(settled(r.round_p50_ms) for r in recs if r.status == "ok")
