"""Environment metadata recorded with every row, so results from different machines aren't mixed up."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import platform
from collections.abc import Iterable, Iterator

__all__ = ["available_cpus", "cpu_model", "device_name", "package_version", "environment", "default_threads",
           "fixed_threads"]


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_name(device: str) -> str:
    """A human name for a torch device string: the GPU's name on CUDA, the CPU model otherwise."""
    if not device.startswith("cuda"):  # the CPU's model needs no torch (predict, profile's header, --dry-run)
        return cpu_model()
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return cpu_model()


def package_version(name: str) -> str | None:
    """A package's __version__, or None when it is not importable (absent is data, not an error)."""
    try:
        mod = importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a broken optional install counts as absent
        return None
    return str(getattr(mod, "__version__", "unknown"))


def default_threads() -> int:
    """The thread count used when the caller doesn't fix one: the CPUs this process can actually use.

    torch's own default counts logical CPUs, which overcommits a container with a CPU quota,
    a process pinned to fewer cores, or hyper-threads sharing a core.
    """
    return available_cpus()[0]


@functools.lru_cache(maxsize=1)
def available_cpus() -> tuple[int, str]:
    """(CPUs, why): the least of the physical cores, the affinity mask and the cgroup CPU quota."""
    limits: dict[str, int] = {}
    with contextlib.suppress(AttributeError, OSError):
        limits["affinity mask"] = len(os.sched_getaffinity(0))
    if (cores := _physical_cores()) is not None:
        limits["physical cores"] = cores
    if (quota := _cgroup_quota()) is not None:
        limits["cgroup quota"] = quota
    n = max(1, min(limits.values(), default=os.cpu_count() or 1))
    return n, ", ".join(f"{k} {v}" for k, v in limits.items()) or f"os.cpu_count() {n}"


def _physical_cores() -> int | None:
    """Distinct (package, core) pairs in /proc/cpuinfo among the CPUs of the affinity mask: hyper-threads of
    one core count once."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    try:
        allowed: set[int] | None = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        allowed = None
    cores = set()
    for block in text.split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        cpu = fields.get("processor", "")
        if allowed is not None and cpu.isdigit() and int(cpu) not in allowed:
            continue  # a core this process may not run on
        if "core id" in fields:
            cores.add((fields.get("physical id", "0"), fields["core id"]))
    return len(cores) or None


def _cgroup_quota() -> int | None:
    """CPUs allowed by the cgroup's CPU quota (v2 ``cpu.max``, or v1 ``cfs_quota_us``), rounded up; None: no quota."""
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="utf-8") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, -(-int(quota) // int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="utf-8") as f:
            quota_us = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="utf-8") as f:
            period_us = int(f.read())
        return max(1, -(-quota_us // period_us)) if quota_us > 0 else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def fixed_threads(n: int) -> Iterator[int]:
    """Run a block with torch's intra-op thread count set to n, restoring it afterwards."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


BASE_PACKAGES = ("torch", "numpy")  # every row runs through these; a backend's own come from its requirements


@functools.cache
def _versions(packages: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    """Package versions, looked up once per process (importing them is slow)."""
    return (("python", platform.python_version()), *((name, package_version(name)) for name in packages))


def environment(device: str, threads: int, packages: Iterable[str] = ()) -> dict[str, object]:
    """Versions (python, torch, numpy and ``packages``: the row's backend's requirements), device and CPU
    model, and threads; deliberately no hostname or user."""
    import torch

    wanted = tuple(dict.fromkeys((*BASE_PACKAGES, *packages)))
    return {
        **dict(_versions(wanted)),
        "device": device,
        "device_name": device_name(device),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": available_cpus()[1],
        "threads": threads,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
    }
