"""Rows on a Dask cluster: one exclusive device slot per row, each row in its own process on its worker.

Every row asks for one unit of a resource (``slot=1`` by default) and every worker offers one unit
per device slot it owns, so no two rows ever time on the same GPU or the same CPU cores at once.
A local cluster (``--workers N``) binds 127.0.0.1 only, has no dashboard, and gives worker i the
i-th share of this host's physical cores (and the i-th GPU on a CUDA sweep). On an existing cluster
(``--scheduler``), each worker's own affinity mask and ``CUDA_VISIBLE_DEVICES`` are its slot.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from resgraph.bench.isolate import can_isolate, probe_slot, run_isolated
from resgraph.bench.record import Record
from resgraph.bench.row import failed_record, one_line
from resgraph.bench.settings import DEFAULT_RESOURCES
from resgraph.bench.task import RowTask, Slot, cpu_ranges
from resgraph.errors import UsageError

__all__ = ["DEFAULT_RESOURCES", "DaskRunner", "WorkerInfo", "connect", "core_sets", "local_cluster", "parse_address",
           "parse_resources", "worker_slot"]

_CONNECT_S = 10  # seconds to reach a scheduler before saying it can't be reached


def parse_resources(text: str) -> dict[str, float]:
    """``slot=1,GPU=1`` -> {'slot': 1.0, 'GPU': 1.0}: what each row asks of a worker (Dask abstract resources)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        name, eq, amount = part.partition("=")
        try:
            value = float(amount) if eq else float("nan")
        except ValueError:
            value = float("nan")
        if not name.strip() or not value > 0:
            raise UsageError(f"--resources: expected NAME=AMOUNT[,NAME=AMOUNT...] with amounts > 0 (received {text!r})")
        out[name.strip()] = value
    return out


def parse_address(text: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` -> (HOST, PORT), refused in one line before any connection is tried.

    Only ``tcp://``: a ``tls://`` scheduler needs certificates resgraph has no option for, and Dask would fail
    deep inside the connection instead of saying so.
    """
    scheme, sep, rest = text.partition("://")
    host, colon, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]
    if not sep or scheme != "tcp" or not colon or not host or not port.isdigit() or any(c.isspace() or c in "/@"
                                                                                          for c in host):
        why = " (tls:// needs certificates resgraph cannot pass; use tcp://)" if scheme == "tls" else ""
        raise UsageError(f"--scheduler: expected tcp://HOST:PORT (received {text!r}){why}")
    if not 1 <= int(port) <= 65535:
        raise UsageError(f"--scheduler: port {int(port)} is not from 1 to 65535 (received {text!r})")
    return host, int(port)


def _reachable(address: str) -> None:
    """Fail at once when nothing listens at ``address`` (Dask's client would retry for the whole timeout)."""
    import socket

    host, port = parse_address(address)
    try:
        socket.create_connection((host, port), timeout=_CONNECT_S).close()
    except OSError as e:
        why = e.strerror or (str(e) if str(e) else type(e).__name__)
        raise UsageError(f"--scheduler {address}: cannot reach the scheduler ({why})") from None


def core_sets(n: int) -> list[tuple[int, ...]]:
    """This process's CPUs in ``n`` disjoint sets of whole physical cores (hyper-thread siblings stay together)."""
    allowed = sorted(os.sched_getaffinity(0))
    cores: dict[tuple[str, str], list[int]] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            blocks = f.read().split("\n\n")
    except OSError:
        blocks = []
    for block in blocks:
        fields = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in block.splitlines())}
        cpu = fields.get("processor", "")
        if cpu.isdigit() and int(cpu) in allowed:
            cores.setdefault((fields.get("physical id", "0"), fields.get("core id", cpu)), []).append(int(cpu))
    groups = sorted(cores.values()) or [[c] for c in allowed]
    if n > len(groups):
        raise UsageError(f"--workers {n}: this host has {len(groups)} physical cores available to resgraph, and each "
                         "worker needs cores of its own")
    k = len(groups) // n
    return [tuple(sorted(c for g in groups[i * k:(i + 1) * k] for c in g)) for i in range(n)]


@dataclass(frozen=True)
class WorkerInfo:
    """A worker as a row would see it: where it is, which slot it hands out, what it offers."""

    name: str
    address: str
    host: str
    device_model: str | None
    slot: str
    threads: int
    resources: dict[str, float]
    problem: str | None  # why it cannot run rows (None: it can)


def _shell_environ() -> None:
    """Drop what Dask's nanny put in this worker's environment (``distributed.nanny.pre-spawn-environ``:
    ``MALLOC_TRIM_THRESHOLD_=65536``, ``OMP/MKL/OPENBLAS_NUM_THREADS=1``) before the worker's forkserver
    starts, so rows run as from a shell: with that malloc trim threshold eager CPU rows timed 2-3x slower."""
    import dask

    for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ", None) or {}).items():
        if os.environ.get(k) == str(v):
            del os.environ[k]


def _run_on_worker(task: RowTask, timeout: float | None, slots: dict[str, Slot] | None) -> Record:
    """The Dask task: measure the row in its own process, in this worker's slot."""
    from distributed import get_worker

    _shell_environ()
    w = get_worker()
    slot = replace((slots or {}).get(str(w.name), Slot()), worker=str(w.name))
    return run_isolated(task, slot, timeout)


def worker_slot(slots: dict[str, Slot] | None, worker: Any = None) -> Slot:
    """This Dask worker's slot, its environment first made a shell's: what a task that is not a row (a profile
    entry) hands to the process it times in. ``worker``: the one ``Client.run`` passes (default: this task's)."""
    from distributed import get_worker

    _shell_environ()
    w = worker or get_worker()
    return replace((slots or {}).get(str(w.name), Slot()), worker=str(w.name))


def _probe_worker(device: str, slots: dict[str, Slot] | None, dask_worker: Any = None) -> dict[str, Any]:
    """Run on each worker (``Client.run`` passes it as ``dask_worker``): its host, and its slot and device model
    as a row's process sees them."""
    import socket

    _shell_environ()
    w = dask_worker
    problem = can_isolate()
    slot = (slots or {}).get(str(w.name), Slot())
    seen = probe_slot(device, slot) if problem is None else {"device_model": None, "slot": "", "threads": 0}
    return {"name": str(w.name), "host": socket.gethostname(), "problem": problem, **seen}


class DaskRunner:
    """Rows as Dask tasks, each asking for ``resources``; records come back to the driver as rows finish."""

    remote = True

    def __init__(self, client: Any, name: str, resources: dict[str, float], timeout: float | None = None,
                 slots: dict[str, Slot] | None = None, threads: int | None = None) -> None:
        self.client = client
        self.name = name
        self.resources = resources
        self.timeout = timeout
        self.slots = slots
        self.threads = threads
        self._workers: dict[str, list[WorkerInfo]] = {}

    def workers(self, device: str) -> list[WorkerInfo]:
        """Every worker now in the cluster, probed once per device."""
        if device not in self._workers:
            info = self.client.scheduler_info(n_workers=-1)["workers"]
            seen = self.client.run(_probe_worker, device, self.slots)
            self._workers[device] = sorted(
                (WorkerInfo(s["name"], addr, s["host"], s["device_model"], s["slot"], s["threads"],
                            dict(info.get(addr, {}).get("resources") or {}), s["problem"]) for addr, s in seen.items()),
                key=lambda w: (w.host, len(w.name), w.name))
        return self._workers[device]

    def check(self, devices: Iterable[str]) -> None:
        """Refuse, before measuring, a cluster whose workers cannot take these rows."""
        for d in devices:
            ws = self.workers(d)
            if not ws:
                raise UsageError(f"{self.name}: the cluster has no workers")
            fit = [w for w in ws if all(w.resources.get(k, 0) >= v for k, v in self.resources.items())]
            if not fit:
                want = ",".join(f"{k}={v:g}" for k, v in self.resources.items())
                raise UsageError(f"{self.name}: no worker offers the resources each row asks for ({want}); start "
                                 f"workers with --resources {want}, or pass --resources to match theirs")
            bad = next((w for w in fit if w.problem), None)
            if bad:
                raise UsageError(f"{self.name}: worker {bad.name} ({bad.address}): {bad.problem}")

    def placements(self, devices: Iterable[str]) -> set[tuple[str | None, str | None]]:
        return {(w.host, w.device_model) for d in devices for w in self.workers(d)}

    def run(self, tasks: list[RowTask]) -> Iterator[tuple[RowTask, Record]]:
        from distributed import as_completed

        futures = {self.client.submit(_run_on_worker, t, self.timeout, self.slots, resources=self.resources,
                                      key=f"resgraph-row-{t.job.label}-{uuid.uuid4().hex[:8]}", pure=False): t
                   for t in tasks}
        try:
            for fut in as_completed(futures):
                task = futures[fut]
                try:
                    rec = fut.result()
                except Exception as e:  # noqa: BLE001 - a lost worker (KilledWorker) fails the row, not the sweep
                    rec = _lost(task, e)
                yield task, rec
        finally:
            self.client.cancel([f for f in futures if not f.done()])


def _lost(task: RowTask, e: BaseException) -> Record:
    """The record of a row whose worker was lost (or could not run the task): where it ran is unknown, so
    --resume measures it again. A task that failed on a live worker (it could not unpickle, say) is the
    row's own 'error'."""
    from distributed import KilledWorker

    lost = isinstance(e, (KilledWorker, OSError, TimeoutError))  # OSError: CommClosedError, a dropped connection
    what = "the Dask worker running the row was lost" if lost else "the row's Dask task failed on its worker"
    return failed_record(task.job, task.timing, task.threads, f"{what}: {one_line(e)}", "lost" if lost else "error",
                         host=None, device_model=None)


def _local_slots(n: int, device: str) -> dict[str, Slot]:
    """Worker i's slot: the i-th share of the physical cores, and on CUDA the i-th visible GPU."""
    cpus = core_sets(n)
    gpus: list[str | None] = [None] * n
    if device.startswith("cuda"):
        if device not in ("cuda", "cuda:0"):
            raise UsageError(f"--device {device} with --workers: each worker sees only its own GPU, as cuda; "
                             "use --device cuda")
        import torch

        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        ids = [g.strip() for g in visible.split(",")] if visible else [str(i) for i in range(torch.cuda.device_count())]
        if n > len(ids):
            raise UsageError(f"--workers {n}: {len(ids)} GPU(s) visible here, and each worker needs one of its own")
        gpus = list(ids[:n])
    return {str(i): Slot(cpus[i], gpus[i]) for i in range(n)}


@contextlib.contextmanager
def local_cluster(n: int, device: str = "cpu", threads: int | None = None, timeout: float | None = None,
                  resources: str = DEFAULT_RESOURCES) -> Iterator[DaskRunner]:
    """A cluster of ``n`` single-threaded workers on 127.0.0.1 (no dashboard), one device slot each."""
    import dask
    from distributed import Client, LocalCluster

    slots = _local_slots(n, device)
    asked = parse_resources(resources)
    # Workers must be allowed children (a row's process), also when the nanny restarts one.
    with contextlib.ExitStack() as stack:
        stack.enter_context(dask.config.set({"distributed.worker.daemon": False}))
        with _workers_ignore_ctrl_c():
            cluster = stack.enter_context(LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                resources=asked, memory_limit=0, silence_logs=logging.ERROR))
        client = stack.enter_context(Client(cluster))
        per_slot = {len(s.cpus or ()) for s in slots.values()}
        slot_threads = threads or (per_slot.pop() if len(per_slot) == 1 else None)
        described = "; ".join(f"worker {k}: cpus {cpu_ranges(s.cpus or ())}" + (f", GPU {s.gpu}" if s.gpu else "")
                              for k, s in slots.items())
        try:
            yield DaskRunner(client, f"local Dask cluster at {cluster.scheduler_address} ({described})", asked,
                             timeout, slots, slot_threads)
        except KeyboardInterrupt:  # tearing down mid-task makes distributed log cancelled tasks: not news to the user
            logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)
            raise


@contextlib.contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Start the cluster's processes with SIGINT ignored (inherited), so Ctrl-C reaches the driver alone.

    The terminal sends Ctrl-C to the whole process group; workers that got it too would each print
    their own tracebacks. The driver stops them when it unwinds.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@contextlib.contextmanager
def connect(address: str, threads: int | None = None, timeout: float | None = None,
            resources: str = DEFAULT_RESOURCES) -> Iterator[DaskRunner]:
    """A client of an existing scheduler (``dask scheduler``, dask-jobqueue, dask-kubernetes)."""
    from distributed import Client

    asked = parse_resources(resources)
    _reachable(address)
    try:
        client = Client(address, timeout=_CONNECT_S)
    except (OSError, TimeoutError, ValueError) as e:
        raise UsageError(f"--scheduler {address}: cannot reach the scheduler ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else 'no answer'})") from None
    with client:
        yield DaskRunner(client, f"Dask scheduler {address}", asked, timeout, None, threads)

