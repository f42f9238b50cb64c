"""Where a study computes its trials' objectives: here, one at a time, or on Dask workers, up to one per worker.

Only the objective travels (``train``'s recipe and the spec, plain data); the counts and the latency
prediction stay with the study. The cluster is the bench harness's (:mod:`resgraph.bench.dask_runner`):
``--workers N`` starts N single-threaded workers on 127.0.0.1, ``--scheduler`` joins an existing cluster;
each trial asks a worker for one ``slot``, so a worker trains one network at a time. A worker of an
existing cluster needs resgraph with its ``train`` extra, and ``--data``'s files where a path names them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, Protocol

from resgraph.errors import UsageError

__all__ = ["Pool", "Here", "OnDask", "open_pool"]


class Pool(Protocol):
    """Submit an objective, wait for some to finish; ``size`` is how many may be in flight at once."""

    size: int
    name: str

    def submit(self, fn: Callable[..., float], *args: Any) -> Any: ...

    def wait(self, futures: Iterable[Any]) -> list[Any]: ...

    def cancel(self, futures: Iterable[Any]) -> None: ...


class Here:
    """In this process, one at a time: a submitted objective is computed before ``submit`` returns.

    An exception is the trial's (kept in its future); Ctrl-C is not: it reaches the study at once.
    """

    size = 1
    name = "this process"

    def submit(self, fn: Callable[..., float], *args: Any) -> Future[float]:
        fut: Future[float] = Future()
        try:
            fut.set_result(fn(*args))
        except Exception as e:  # noqa: BLE001 - the trial's failure, told to Optuna with its reason
            fut.set_exception(e)
        return fut

    def wait(self, futures: Iterable[Any]) -> list[Any]:
        return [f for f in futures if f.done()]

    def cancel(self, futures: Iterable[Any]) -> None:
        pass


class OnDask:
    """On a Dask cluster's workers, each trial asking for the runner's resources (one slot)."""

    def __init__(self, runner: Any, size: int) -> None:
        self.runner, self.size, self.name = runner, size, runner.name

    def submit(self, fn: Callable[..., float], *args: Any) -> Any:
        return self.runner.client.submit(fn, *args, resources=self.runner.resources, pure=False,
                                         key=f"resgraph-trial-{uuid.uuid4().hex[:12]}")

    def wait(self, futures: Iterable[Any]) -> list[Any]:
        from distributed import wait

        return list(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def cancel(self, futures: Iterable[Any]) -> None:
        self.runner.client.cancel(list(futures))


def _slots(runner: Any) -> int:
    """Workers of the cluster that offer what a trial asks for."""
    info = runner.client.scheduler_info(n_workers=-1)["workers"].values()
    fit = [w for w in info if all((w.get("resources") or {}).get(k, 0) >= v for k, v in runner.resources.items())]
    if not fit:
        want = ",".join(f"{k}={v:g}" for k, v in runner.resources.items())
        raise UsageError(f"{runner.name}: no worker offers {want}; start workers with --resources {want}")
    return len(fit)


@contextlib.contextmanager
def open_pool(workers: int | None, scheduler: str | None) -> Iterator[Pool]:
    """This process, a local cluster of ``workers`` on 127.0.0.1, or the cluster at ``scheduler``; closed after."""
    from resgraph.bench.dask_runner import connect, local_cluster, parse_address

    if workers and scheduler:
        raise UsageError("--workers and --scheduler: choose one (a local cluster, or an existing one)")
    if scheduler:
        parse_address(scheduler)
        with connect(scheduler, threads=1) as runner:
            yield OnDask(runner, _slots(runner))
    elif workers:
        with local_cluster(workers, "cpu", threads=1) as runner:
            yield OnDask(runner, workers)
    else:
        yield Here()
