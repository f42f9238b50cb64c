"""Roofline reference: the device's measured matmul peak (cached), and a row's achieved GFLOP/s.

A floating precision's peak is an n x n ``torch.mm`` in its dtype. int8 has no
such common engine, so its peak is measured through the engine the row's
backend runs (its ``peak_engine``): ``torch._int_mm`` (int8 x int8 -> int32, the
oneDNN/MKL kernels inductor's int8 code calls) or ONNX Runtime's
``MatMulInteger`` (uint8 x int8 -> int32, the MLAS kernels of its quantised
convolutions). "GFLOP/s" of an int8 row counts integer multiply-adds as 2 ops.
OpenVINO rows compare with a MatMul compiled by OpenVINO itself, fp32 or int8
(resgraph.bench.openvino.matmul_peak): its oneDNN kernels are neither torch's nor MLAS's.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resgraph.atomic import ensure_folder, write_bytes_atomic
from resgraph.bench.env import device_name
from resgraph.bench.timing import time_callable
from resgraph.precision import get_precision, torch_dtype

__all__ = ["ENGINES", "cache_dir", "peak_key", "measure_peak_gflops", "peak_gflops", "achieved_gflops"]

ENGINES = ("torch", "onnxruntime", "openvino")  # what a peak can be measured through


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/resgraph, defaulting to ~/.cache/resgraph."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "resgraph"


def peak_key(device: str, threads: int, precision: str = "fp32", engine: str = "torch") -> str:
    """Cache key: a peak is only valid for the same device, threads, torch build, dtype and engine."""
    key = f"{device_name(device)}|{device.split(':')[0]}|threads={threads}|torch={torch.__version__}|{precision}"
    if engine == "onnxruntime":
        import onnxruntime

        key += f"|onnxruntime={onnxruntime.__version__}"
    elif engine == "openvino":
        import openvino

        key += f"|openvino={openvino.__version__}"
    return key


def measure_peak_gflops(device: str = "cpu", precision: str = "fp32", n: int | None = None, min_time_s: float = 1.0,
                        engine: str = "torch") -> float:
    """Best-case GFLOP/s of an n x n matmul (2*n^3 ops), from the fastest of ~min_time_s of calls.

    int8 needs a larger n on the CPU than fp32 (at 1024 packing the operands is a
    fifth of an int8 multiply; measured: 1.0 vs 1.9 TOP/s at 2048 on 2 cores).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown peak engine {engine!r}; expected one of {', '.join(ENGINES)}")
    int8 = get_precision(precision).dtype == "int8"
    n = n or (8192 if device.startswith("cuda") else 2048 if int8 else 1024)
    if engine == "onnxruntime":
        if not int8 or device.startswith("cuda"):
            raise ValueError("the onnxruntime peak engine measures int8 on the CPU only")
        fn = _ort_matmul_integer(n)
    elif engine == "openvino":
        if device.startswith("cuda"):
            raise ValueError("the openvino peak engine measures the CPU only")
        from resgraph.bench.openvino import matmul_peak

        fn = matmul_peak(n, precision, torch.get_num_threads())
    elif int8:
        g = torch.Generator(device="cpu").manual_seed(0)
        a = torch.randint(-128, 128, (n, n), generator=g, dtype=torch.int8).to(device)
        b = torch.randint(-128, 128, (n, n), generator=g, dtype=torch.int8).to(device)
        fn = functools.partial(torch._int_mm, a, b)
    else:
        dtype = torch_dtype(precision)
        g = torch.Generator(device="cpu").manual_seed(0)
        a = torch.randn(n, n, generator=g).to(device, dtype)
        b = torch.randn(n, n, generator=g).to(device, dtype)
        out = torch.empty(n, n, device=device, dtype=dtype)
        fn = functools.partial(torch.mm, a, b, out=out)
    with torch.inference_mode():
        samples = time_callable(fn, warmup=3, iters=5, min_time_s=min_time_s, device=device)
    return 2.0 * n**3 / float(np.min(samples)) / 1e9


def _ort_matmul_integer(n: int) -> Callable[[], Any]:
    """One ONNX Runtime MatMulInteger (uint8 activations x int8 constant weights), torch's thread count."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.integers(-128, 128, (n, n), dtype=np.int8), "B")
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "peak",
                              [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n])],
                              [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = torch.get_num_threads()
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    a = rng.integers(0, 256, (n, n), dtype=np.uint8)
    return functools.partial(sess.run, None, {"A": a})


def peak_gflops(
    device: str = "cpu",
    threads: int | None = None,
    precision: str = "fp32",
    cache_path: Path | None = None,
    refresh: bool = False,
    engine: str = "torch",
) -> float:
    """The device's matmul peak for this precision (through ``engine``), measured once and cached in peak.json.

    The cache keeps the best rate ever measured: a busy machine only ever
    measures too low, so ``refresh`` re-measures and keeps the higher value.
    """
    threads = threads or torch.get_num_threads()
    path = cache_path or cache_dir() / "peak.json"
    key = peak_key(device, threads, precision, engine)
    cache = _read_json(path)
    cached = cache.get(key)
    if not refresh and isinstance(cached, (int, float)):
        return float(cached)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        value = measure_peak_gflops(device, precision, engine=engine)
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
