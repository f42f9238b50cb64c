"""Roofline reference: the device's measured matmul peak (cached), and a row's achieved GFLOP/s."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from resgraph.atomic import ensure_folder, write_bytes_atomic
from resgraph.bench.env import device_name
from resgraph.bench.timing import time_callable

__all__ = ["cache_dir", "peak_key", "measure_peak_gflops", "peak_gflops", "achieved_gflops"]

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/resgraph, defaulting to ~/.cache/resgraph."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "resgraph"


def peak_key(device: str, threads: int, precision: str = "fp32") -> str:
    """Cache key: a peak is only valid for the same device, threads, torch build and dtype."""
    return f"{device_name(device)}|{device.split(':')[0]}|threads={threads}|torch={torch.__version__}|{precision}"


def measure_peak_gflops(device: str = "cpu", precision: str = "fp32", n: int | None = None, min_time_s: float = 1.0) -> float:
    """Best-case GFLOP/s of an n x n torch.mm (2*n^3 flops), from the fastest of ~min_time_s of calls."""
    if precision not in _DTYPES:
        raise ValueError(f"unknown precision {precision!r}; expected one of {sorted(_DTYPES)}")
    n = n or (8192 if device.startswith("cuda") else 1024)
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device, _DTYPES[precision])
    b = torch.randn(n, n, generator=g).to(device, _DTYPES[precision])
    out = torch.empty(n, n, device=device, dtype=_DTYPES[precision])
    with torch.inference_mode():
        samples = time_callable(lambda: torch.mm(a, b, out=out), warmup=3, iters=5, min_time_s=min_time_s, device=device)
    return 2.0 * n**3 / float(np.min(samples)) / 1e9


def peak_gflops(
    device: str = "cpu",
    threads: int | None = None,
    precision: str = "fp32",
    cache_path: Path | None = None,
    refresh: bool = False,
) -> float:
    """The device's matmul peak for this precision, measured once and cached in peak.json.

    The cache keeps the best rate ever measured: a busy machine only ever
    measures too low, so ``refresh`` re-measures and keeps the higher value.
    """
    threads = threads or torch.get_num_threads()
    path = cache_path or cache_dir() / "peak.json"
    key = peak_key(device, threads, precision)
    cache = _read_json(path)
    if not refresh and isinstance(cache.get(key), (int, float)):
        return float(cache[key])
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        value = measure_peak_gflops(device, precision)
    finally:
        torch.set_num_threads(before)
    cache = _read_json(path)  # re-read: another process may have written meanwhile
    old = cache.get(key)
    value = max(value, float(old)) if isinstance(old, (int, float)) else value
    cache[key] = value
    _write_json_atomic(path, cache)
    return value


def achieved_gflops(macs_per_image: float, batch: int, p50_s: float) -> float:
    """2 flops per multiply-add, over the whole batch, divided by the median latency."""
    return 2.0 * macs_per_image * batch / p50_s / 1e9


def _read_json(path: Path) -> dict[str, object]:
    """A JSON object from disk, or {} when absent or unreadable (a cache can always be rebuilt)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json_atomic(path: Path, data: dict[str, object]) -> None:
    """Write via a temp file and rename, so a reader never sees half a cache."""
    path = Path(path)
    ensure_folder(path.parent)
    write_bytes_atomic(path, json.dumps(data, indent=2, sort_keys=True).encode())
