"""Environment metadata recorded with every row, so results from different machines aren't mixed up."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import platform
from typing import Iterator

import torch

__all__ = ["cpu_model", "device_name", "package_version", "environment", "default_threads", "fixed_threads"]


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
    if device.startswith("cuda") and torch.cuda.is_available():
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
    """The thread count used when the caller doesn't fix one: torch's current setting."""
    return torch.get_num_threads()


@contextlib.contextmanager
def fixed_threads(n: int) -> Iterator[int]:
    """Run a block with torch's intra-op thread count set to n, restoring it afterwards."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str | None], ...]:
    """Package versions, looked up once per process (importing them is slow)."""
    return (
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        *((name, package_version(name)) for name in ("torchvision", "onnxruntime", "tensorrt", "torch_tensorrt", "numpy")),
    )


def environment(device: str, threads: int) -> dict[str, object]:
    """Versions, device and CPU model, and threads; deliberately no hostname or user."""
    return {
        **dict(_versions()),
        "device": device,
        "device_name": device_name(device),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
    }
