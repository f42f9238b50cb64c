"""One row in its own process: a segfault, a kill, an ``os._exit`` or a hang fails that row, not the sweep.

Rows are forked from a forkserver that has already imported torch and resgraph, so a row pays
a fork and its model's rebuild, not a Python start and a torch import (seconds) each time. The
server imports only: it never runs a torch op, so no OpenMP or CUDA state is forked.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from resgraph.bench.env import cpu_model
from resgraph.bench.record import Cause, Record
from resgraph.bench.row import failed_record, one_line
from resgraph.bench.task import RowTask, Slot, describe_slot, enter_slot, run_task
from resgraph.errors import UsageError

__all__ = ["PRELOAD", "run_isolated", "call_in_slot", "can_isolate", "exit_cause", "exit_reason", "probe_slot"]

PRELOAD = ["resgraph.bench.preload"]  # imported once by the forkserver; every row's process starts with it loaded
_JOIN_S = 10.0  # how long a row's process may take to exit after sending its record
_PR_SET_PDEATHSIG = 1
# Signals another process sends (an operator, the OOM killer, a job scheduler's pre-emption): the row itself was
# fine, so it is worth measuring again. A SIGSEGV, SIGABRT, SIGBUS or SIGFPE is the row's own crash.
_KILLS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                    signal.SIGUSR2, signal.SIGALRM, signal.SIGXCPU})


def _context() -> Any:
    """The forkserver context, its server started (once per process): its start is not a row's time."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
    return ctx


def can_isolate() -> str | None:
    """Why this process cannot start a row's process (a daemonic one, as Dask's nanny makes by default), or None."""
    if multiprocessing.current_process().daemon:
        return ("this process is daemonic and may not start a row's process: start Dask workers with "
                "DASK_DISTRIBUTED__WORKER__DAEMON=False")
    return None


def exit_reason(exitcode: int | None) -> str:
    """How a row's process ended, in words: the signal's name, or the exit code."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed: out of memory, or by another process)" if -exitcode == signal.SIGKILL else ""
        return f"the row's process died of {name}{hint}"
    return f"the row's process exited with code {exitcode} before sending its record"


def exit_cause(exitcode: int | None) -> Cause:
    """A dead row's cause (resgraph.bench.record.CAUSES): 'killed' by a signal from outside, else 'crashed'."""
    if exitcode is not None and exitcode < 0 and -exitcode in {int(s) for s in _KILLS}:
        return "killed"
    return "crashed"


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies, so a lost worker leaves no row running."""
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _child(task: RowTask, slot: Slot, conn: multiprocessing.connection.Connection) -> None:
    """The row's process: enter the slot, say where it is, measure, send the record."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the sweep's to handle: it kills this process
    _die_with_parent()
    enter_slot(slot)
    from resgraph.bench.env import device_name

    conn.send(("started", {"device_model": device_name(task.job.device), "slot": describe_slot()}))
    try:
        rec = run_task(task, slot.worker)
    except Exception as e:  # noqa: BLE001 - a plugin that cannot be imported, say: the row fails, with why
        rec = _failed(task, slot, one_line(e), "error", None)
    conn.send(("done", rec))
    conn.close()


def _failed(task: RowTask, slot: Slot, reason: str, cause: Cause, started: dict[str, Any] | None) -> Record:
    """The record of a row whose process could not give one."""
    device_model = (started or {}).get("device_model") or (cpu_model() if task.job.device == "cpu" else None)
    return failed_record(task.job, task.timing, task.threads, reason, cause, device_model=device_model,
                         host=socket.gethostname(), worker=slot.worker, slot=(started or {}).get("slot"))


def run_isolated(task: RowTask, slot: Slot = Slot(), timeout: float | None = None) -> Record:
    """Measure ``task`` in a fresh process forked from the preloaded server; never raises for the row's failure.

    A process that dies, exits early or runs past ``timeout`` seconds (then killed) gives a 'failed'
    record saying which. ``wall_s`` is the whole span seen from here, process start included.
    KeyboardInterrupt kills the row's process and is re-raised.
    """
    if (why := can_isolate()) is not None:
        return _failed(task, slot, why, "error", None)
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(task, slot, send), name=f"resgraph-row {task.job.label}")
    t0 = time.perf_counter()
    started: dict[str, Any] | None = None
    rec: Record | None = None
    timed_out = ""
    try:
        proc.start()
        send.close()  # our copy: EOF on recv once the child's end is gone
        deadline = None if timeout is None else t0 + timeout
        while rec is None:
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            if not recv.poll(left):
                timed_out = f"timed out: no result after {timeout:g} s (--row-timeout); the row's process was killed"
                proc.kill()
                break
            try:
                kind, payload = recv.recv()
            except (EOFError, OSError):
                break  # the process is gone without its record
            if kind == "started":
                started = payload
            else:
                rec = payload
        proc.join(_JOIN_S)
        if proc.exitcode is None:  # sent its record, then hung on the way out
            proc.kill()
            proc.join()
    except BaseException:
        if proc.pid is not None:
            proc.kill()
            proc.join()
        raise
    finally:
        recv.close()
    if rec is None and timed_out:
        rec = _failed(task, slot, timed_out, "timeout", started)
    elif rec is None:
        rec = _failed(task, slot, exit_reason(proc.exitcode), exit_cause(proc.exitcode), started)
    return rec.evolve(wall_s=round(time.perf_counter() - t0, 4))


def _call_child(fn: Callable[[Any], Any], arg: Any, slot: Slot, conn: multiprocessing.connection.Connection) -> None:
    """The called process: enter the slot, run ``fn(arg)``, send ('ok', result) or ('usage' | 'error', why)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle: it kills this process
    _die_with_parent()
    enter_slot(slot)
    try:
        got: tuple[str, Any] = ("ok", fn(arg))
    except UsageError as e:
        got = ("usage", str(e))
    except Exception as e:  # noqa: BLE001 - the call fails with why; whoever asked lives on
        got = ("error", one_line(e))
    with contextlib.suppress(OSError):  # the caller is gone (a lost worker): nobody to tell
        conn.send(got)
        conn.close()


def call_in_slot(fn: Callable[[Any], Any], arg: Any, slot: Slot = Slot(), timeout: float | None = None,
                 what: str = "call", timeout_option: str = "") -> tuple[str, Any]:
    """``fn(arg)`` in a fresh process forked from the preloaded server, in ``slot``: ('ok', result), or
    ('usage' | 'error', why) when it raised, died or ran past ``timeout`` seconds; never raises for it.

    ``what`` names it in those reasons ("the entry's process died of SIGKILL"), ``timeout_option`` the option
    that set ``timeout`` ("--entry-timeout"). ``fn`` and ``arg`` must pickle.
    """
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_call_child, args=(fn, arg, slot, send), name=f"resgraph-{what}")
    proc.start()
    send.close()
    try:
        if not recv.poll(timeout):
            proc.kill()
            flag = f" ({timeout_option})" if timeout_option else ""
            return "error", f"timed out: no result after {timeout:g} s{flag}; its process was killed"
        try:
            return recv.recv()
        except (EOFError, OSError):
            proc.join(_JOIN_S)
            return "error", exit_reason(proc.exitcode).replace("the row's", f"the {what}'s")
    finally:
        recv.close()
        proc.join(_JOIN_S)
        if proc.exitcode is None:
            proc.kill()
            proc.join()


def _probe(device: str) -> dict[str, Any]:
    from resgraph.bench.env import default_threads, device_name

    return {"device_model": device_name(device), "slot": describe_slot(), "threads": default_threads()}


def probe_slot(device: str, slot: Slot = Slot(), timeout: float = 120.0) -> dict[str, Any]:
    """What a row's process in ``slot`` sees: device model, slot, default threads (CUDA starts only in the child)."""
    status, got = call_in_slot(_probe, device, slot, timeout, "probe")
    if status == "ok":
        return dict(got)
    return {"device_model": None, "slot": f"(no answer: {got})", "threads": 0}
