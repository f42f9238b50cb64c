"""Peak memory of one benchmark row: CUDA allocator peak, or the process's peak RSS growth on the CPU."""

from __future__ import annotations

import ctypes
import gc
import sys

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]  # no resource module on Windows: _maxrss_bytes reads 0

import torch

__all__ = ["PeakMemory"]


class PeakMemory:
    """Context manager; after exit, `.peak_bytes` is the row's peak memory and `.method` how it was read.

    CUDA: torch.cuda.max_memory_allocated after a reset (tensors only).
    CPU, Linux: return freed heap to the OS (malloc_trim), reset the kernel's
    peak-RSS mark (/proc/self/clear_refs, "5"), then peak RSS (VmHWM) minus
    RSS at entry. Elsewhere: growth of ru_maxrss,
    which only shows memory above the process's previous peak (a lower bound).
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.peak_bytes: int | None = None
        self.method: str = ""
        self._start = 0

    def __enter__(self) -> PeakMemory:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.method = "cuda_max_memory_allocated"
        elif _trim_heap() and _reset_hwm():
            self._start = _status_bytes("VmRSS") or 0
            self.method = "vmhwm"
        else:
            self._start = _maxrss_bytes()
            self.method = "ru_maxrss_delta"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.method == "cuda_max_memory_allocated":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = int(torch.cuda.max_memory_allocated(self.device))
        elif self.method == "vmhwm":
            hwm = _status_bytes("VmHWM")
            self.peak_bytes = max(0, hwm - self._start) if hwm is not None else None
        else:
            self.peak_bytes = max(0, _maxrss_bytes() - self._start)


def _trim_heap() -> bool:
    """Collect garbage and hand freed heap pages back to the OS (glibc), so RSS at entry is the live set.

    Without this, a row that reuses memory freed by the previous row shows no growth.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return True


def _reset_hwm() -> bool:
    """Reset the peak-RSS mark of this process; False where the kernel doesn't allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return _status_bytes("VmHWM") is not None
    except OSError:
        return False


def _status_bytes(field: str) -> int | None:
    """A 'kB' field of /proc/self/status in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _maxrss_bytes() -> int:
    """ru_maxrss in bytes (kilobytes on Linux, bytes on macOS)."""
    if resource is None:
        return 0
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r) if sys.platform == "darwin" else int(r) * 1024
