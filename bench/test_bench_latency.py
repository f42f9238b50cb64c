"""Latency of models x backends x batch sizes, checked against fp32 eager before timing.

``RESGRAPH_BENCH_SLOWDOWN_MS=N`` adds an N ms sleep to every timed call: it exists to prove that
the README's regression recipe catches a slowdown (docs/bench-harness.md, "Tracking a regression").
"""

from __future__ import annotations

import os
import time

import pytest
import torch

from resgraph.bench.backends import Skip, prepare
from resgraph.bench.check import check_output
from resgraph.bench.env import environment
from resgraph.bench.row import example_input


def test_latency(benchmark, request, settings, model_and_shape, model_name: str, backend: str, batch: int) -> None:
    device, precision, threads = settings["device"], settings["precision"], settings["threads"]
    model, shape = model_and_shape
    model = model.to(device)
    x = example_input(shape, batch, device)
    with torch.inference_mode():
        ref = model(x)
    prepared = prepare(backend, model, x, device, precision, threads)
    if isinstance(prepared, Skip):
        pytest.skip(prepared.reason)
    check = check_output(prepared.fn(prepared.input), ref, precision, device)
    assert check.ok, f"{model_name}/{backend}: {check.reason}"

    fn, arg = prepared.fn, prepared.input
    if device.startswith("cuda"):
        def fn(a, _f=prepared.fn):  # pytest-benchmark reads a host clock: wait for the GPU
            out = _f(a)
            torch.cuda.synchronize(device)
            return out

    slowdown = float(os.environ.get("RESGRAPH_BENCH_SLOWDOWN_MS", "0")) / 1e3
    if slowdown:
        def fn(a, _f=fn):  # an injected regression
            time.sleep(slowdown)
            return _f(a)

    for _ in range(3):  # warm-up outside the measurement (caches, allocator, lazy init)
        fn(arg)
    benchmark.group = f"{model_name} batch {batch} {precision} {device}"
    env = environment(device, threads)
    benchmark.extra_info.update(
        model=model_name, backend=backend, batch=batch, precision=precision, device=device,
        threads=threads, max_rel_err=check.max_rel_err, torch=env["torch"], device_name=env["device_name"],
    )
    if request.node.get_closest_marker("bench_smoke"):  # CI's slice: a few fixed rounds
        benchmark.pedantic(fn, args=(arg,), rounds=5, iterations=1)
    else:
        benchmark(fn, arg)
    benchmark.extra_info["throughput"] = batch / benchmark.stats.stats.median
