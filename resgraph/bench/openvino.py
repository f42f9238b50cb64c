"""OpenVINO backend: the lowered module converted by ``openvino.convert_model``, int8 through NNCF, on the CPU.

fp32 is ``convert_model`` of the fx module's ``torch.export`` program on the row's input (no ONNX file
in between: the numbers are the module's to ~1e-6), reshaped to the row's exact input shape, compiled
with ``INFERENCE_PRECISION_HINT=f32`` (OpenVINO would otherwise pick bf16 on a CPU that has it). int8 is
``nncf.quantize`` of that model on the row's calibration batches (NNCF's default for a CNN: the
performance preset, symmetric int8 weights per channel and activations, fast bias correction), then
compiled the same way; bf16 is the
fp32 model compiled with ``INFERENCE_PRECISION_HINT=bf16``, only where OpenVINO reports the CPU has it.

The row's hint is OpenVINO's ``PERFORMANCE_HINT``: ``latency`` (one stream, every thread on one
request) or ``throughput`` (the streams OpenVINO chooses; the row's batch is split over that many
requests running at once, each a static sub-batch, and gathered in order). Threads are
``INFERENCE_NUM_THREADS``. What the compiled model reports (hint, streams, threads, precision, the
device's full name) goes into the row's environment.

``openvino`` and ``nncf`` are imported in the functions: the registry lists the backend without them.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:  # the registry imports this module: Prepared is imported where it is built
    from resgraph.bench.backends import Context, Prepared

__all__ = ["HINTS", "INSTALL", "bf16_check", "build", "convert", "quantize", "matmul_peak"]

HINTS = ("latency", "throughput")  # a row's hint: OpenVINO's PERFORMANCE_HINT, the first is the default
INSTALL = "pip install 'resgraph[openvino]'"
_PRECISION_HINT = {"fp32": "f32", "int8": "f32", "bf16": "bf16"}  # int8: the layers NNCF leaves in float run f32


@functools.cache
def _core() -> Any:
    """One OpenVINO Core per process (it loads the CPU plugin once)."""
    import openvino as ov

    return ov.Core()


def bf16_check(ctx: Context) -> str | None:
    """bf16 only where OpenVINO says the CPU runs it (AVX512_BF16 or AMX); other precisions pass."""
    if ctx.precision != "bf16":
        return None
    caps = _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "BF16" not in caps:
        return f"OpenVINO reports no bf16 on this CPU (OPTIMIZATION_CAPABILITIES: {', '.join(caps)})"
    return None


def convert(model: nn.Module, example: torch.Tensor) -> Any:
    """The module as an ``openvino.Model``: its ``torch.export`` program (shapes of ``example``) converted.

    ``convert_model`` on the module itself would go through ``torch.jit.trace``, which torch deprecates.
    """
    import openvino as ov

    with torch.inference_mode(False), torch.no_grad():
        program = torch.export.export(model.float().eval(), (example.float(),))
        return ov.convert_model(program)


def quantize(ov_model: Any, calibration: Sequence[torch.Tensor]) -> Any:
    """The model statically quantised by NNCF on these fp32 batches (all of them: ``subset_size`` is their images)."""
    import nncf

    if not calibration:
        raise ValueError("int8 quantisation needs at least one calibration batch")
    nncf.set_log_level(logging.ERROR)  # its notes and progress bars (on stdout) would fill every row's log
    data = nncf.Dataset([c.detach().cpu().float().numpy() for c in calibration])
    images = sum(int(c.shape[0]) for c in calibration)
    with contextlib.redirect_stdout(io.StringIO()):
        return nncf.quantize(ov_model, data, subset_size=images)


def _compile(ov_model: Any, shape: Sequence[int], ctx: Context, hint: str) -> Any:
    """A static-shape copy of the model compiled for the CPU with the row's hint, threads and precision."""
    static = ov_model.clone()
    static.reshape(list(shape))
    config = {"PERFORMANCE_HINT": hint.upper(), "INFERENCE_NUM_THREADS": ctx.threads,
              "INFERENCE_PRECISION_HINT": _PRECISION_HINT[ctx.precision]}
    return _core().compile_model(static, "CPU", config)


def _parts(batch: int, requests: int) -> int:
    """How many equal sub-batches a batch splits into: the most requests that divide it (1: no split)."""
    return max(k for k in range(1, max(1, min(batch, requests)) + 1) if batch % k == 0)


def _runner(compiled: Any, parts: int) -> Callable[[np.ndarray], np.ndarray]:
    """One call: the batch on one request, or split over ``parts`` requests started together and gathered."""
    if parts == 1:
        request = compiled.create_infer_request()

        def one(a: np.ndarray) -> np.ndarray:
            return request.infer({0: a}, share_inputs=True)[0]

        return one
    requests = [compiled.create_infer_request() for _ in range(parts)]

    def split(a: np.ndarray) -> np.ndarray:
        for r, chunk in zip(requests, np.split(a, parts), strict=True):
            r.start_async({0: chunk}, share_inputs=True)
        for r in requests:
            r.wait()
        return np.concatenate([r.get_output_tensor(0).data for r in requests])  # concatenate copies

    return split


def _reported(compiled: Any, parts: int) -> dict[str, object]:
    """What OpenVINO says it compiled, for the row's environment."""
    def prop(name: str) -> str:
        try:
            value = compiled.get_property(name)
        except RuntimeError:  # a property this version does not report
            return "unknown"
        return str(value.to_string() if hasattr(value, "to_string") else value)  # an element type: "f32"

    return {"openvino_hint": prop("PERFORMANCE_HINT"), "openvino_streams": prop("NUM_STREAMS"),
            "openvino_threads": prop("INFERENCE_NUM_THREADS"),
            "openvino_precision": prop("INFERENCE_PRECISION_HINT"), "openvino_requests": parts,
            "openvino_device": str(_core().get_property("CPU", "FULL_DEVICE_NAME"))}


def build(model: nn.Module, x: torch.Tensor, ctx: Context) -> Prepared:
    """Convert, quantise for int8, compile for the row's hint; numpy in, numpy out (as ONNX Runtime's rows)."""
    from resgraph.bench.backends import Prepared

    hint = ctx.hint or HINTS[0]
    ov_model = convert(model, x.cpu())
    if ctx.precision == "int8":
        ov_model = quantize(ov_model, ctx.calibration)
    shape = tuple(x.shape)
    parts = 1
    compiled = _compile(ov_model, shape, ctx, hint)
    if hint == "throughput":
        parts = _parts(shape[0], int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        if parts > 1:  # each request takes a static sub-batch
            compiled = _compile(ov_model, (shape[0] // parts, *shape[1:]), ctx, hint)
    return Prepared(_runner(compiled, parts), x.detach().cpu().float().numpy(),
                    lambda a: a.detach().cpu().float().numpy(), info=_reported(compiled, parts))


def matmul_peak(n: int, precision: str, threads: int) -> Callable[[], Any]:
    """One n x n MatMul through OpenVINO on the CPU: fp32 x fp32 constant weights, or, for int8, the
    FakeQuantize pattern NNCF leaves in a quantised layer (OpenVINO runs it as an int8 x int8 kernel)."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    a = ops.parameter([n, n], ov.Type.f32, name="A")
    w = ops.constant(rng.standard_normal((n, n), dtype=np.float32))
    if precision == "int8":
        lo, hi = ops.constant(np.float32(-4.0)), ops.constant(np.float32(4.0))
        a_q = ops.fake_quantize(a, lo, hi, lo, hi, 256)
        w_q = ops.fake_quantize(w, lo, hi, lo, hi, 255)
        y = ops.matmul(a_q, w_q, False, True)
    elif precision == "fp32":
        y = ops.matmul(a, w, False, True)
    else:
        raise ValueError(f"the openvino peak engine measures fp32 and int8, not {precision!r}")
    model = ov.Model([y], [a], "peak")
    compiled = _core().compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads,
                                                    "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    x = rng.standard_normal((n, n), dtype=np.float32)
    return functools.partial(request.infer, {0: x}, share_inputs=True)
