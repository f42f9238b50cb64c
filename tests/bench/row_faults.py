"""Backends that misbehave inside the row's own process, for the isolation and cluster tests.

They register on import; a row's process (or a Dask worker) imports this module because the
task names the module that registered its backend (``RowTask.plugins``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import time

from resgraph.bench.backends import Backend, get_backend, register

CPU = {"cpu": ("fp32",)}


def _kill(model, x, ctx):
    os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would


def _segfault(model, x, ctx):
    ctypes.string_at(0)  # a crash in native code


def _exit(model, x, ctx):
    os._exit(7)  # a library calling exit() under us


def _hang(model, x, ctx):
    time.sleep(3600)


def _raise(model, x, ctx):
    raise RuntimeError("backend raised on purpose")


def _slow(model, x, ctx):
    time.sleep(float(os.environ.get("RESGRAPH_TEST_SLOW_S", "3")))
    return get_backend("eager").build(model, x, ctx)


for name, build in {"kill": _kill, "segfault": _segfault, "exit7": _exit, "hang": _hang, "raise": _raise,
                    "slow": _slow}.items():
    register(Backend(f"test_{name}", build, CPU, doc=f"test only: {name}"))
