"""Export a lowered module: ONNX (checked in ONNX Runtime) and TensorRT (torch_tensorrt, dynamo IR).

Both exports are held to one rule before anything is written: the runtime's
output may differ from PyTorch's by ``tolerance`` absolute while outputs are at
most 1 in magnitude, and by ``tolerance`` relative to the largest output above
that (random-weight logits can be large); a NaN or inf is never within it.
ONNX's tolerance is 1e-4 (ONNX Runtime on the CPU, float32); TensorRT's is its
precision's CUDA tolerance in resgraph.precision's table (fp32 2e-3: TensorRT
may run fp32 as TF32; fp16 2e-2), as the bench's ``tensorrt`` rows are held to.

Files are written atomically: into a temporary folder beside the target, then
moved into place with ``os.replace``, so a failed or interrupted export never
leaves a half-written file under the requested name.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resgraph.atomic import atomic_path, ensure_folder
from resgraph.errors import ResgraphError, UsageError
from resgraph.precision import get_precision, torch_dtype

__all__ = ["ExportCheckError", "OnnxExport", "TensorRTExport", "TENSORRT_PRECISIONS", "check_onnx", "check_tensorrt",
           "compile_tensorrt", "error_bound", "export_onnx", "export_tensorrt", "onnx_program", "output_error",
           "tensorrt_missing"]

ONNX_TOLERANCE = 1e-4  # ONNX Runtime (CPU, float32) vs PyTorch: summation order only
TENSORRT_PRECISIONS = ("fp32", "fp16")  # what TensorRT export and the tensorrt backend build (resgraph.precision names)


class ExportCheckError(ResgraphError):
    """An exported file that does not reproduce PyTorch's outputs; nothing was written."""


def error_bound(output_scale: float, tolerance: float) -> float:
    """The largest accepted max |runtime - PyTorch|: ``tolerance`` x max(1, the largest output in magnitude)."""
    return tolerance * max(1.0, output_scale)


def output_error(out: Any, ref: Any, what: str) -> tuple[float, float]:
    """(max |out - ref|, max |ref|) of a runtime's output and PyTorch's (arrays or tensors), in float64.

    A NaN or inf anywhere is an infinite error (``max`` would skip a NaN); a
    shape mismatch is an :class:`ExportCheckError` naming ``what`` ("ONNX Runtime at batch 3").
    """
    import numpy as np

    a, b = _array(out), _array(ref)
    if a.shape != b.shape:
        raise ExportCheckError(f"{what}: output shape {a.shape} != PyTorch's {b.shape}")
    finite = np.isfinite(b)
    scale = float(np.abs(b[finite]).max(initial=0.0))
    if not (finite.all() and np.isfinite(a).all()):
        return math.inf, scale
    return float(np.abs(a - b).max(initial=0.0)), scale


def _array(x: Any) -> Any:
    """A tensor (any device or dtype) or array as a float64 numpy array."""
    import numpy as np

    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


class _Checked:
    """What an export measured (``max_abs_error``, ``output_scale``) and the rule it is held to (``tolerance``)."""

    max_abs_error: float
    output_scale: float
    tolerance: float

    @property
    def max_rel_error(self) -> float:
        """The max error relative to the largest output."""
        return self.max_abs_error / self.output_scale if self.output_scale else self.max_abs_error

    @property
    def bound(self) -> float:
        """The largest accepted max abs error for these outputs (:func:`error_bound`)."""
        return error_bound(self.output_scale, self.tolerance)

    @property
    def ok(self) -> bool:
        """Within the bound: ``tolerance`` absolute up to outputs of magnitude 1, relative to the largest one above."""
        return self.max_abs_error <= self.bound  # False for a NaN

    @property
    def rule(self) -> str:
        """The bound and how it was reached, for messages: ``1e-4 x max(1, largest |output| 7.02) = 7.0e-04``."""
        tol = f"{self.tolerance:.0e}".replace("e-0", "e-")  # 1e-4, 2e-3: as the docs write them
        return f"{tol} x max(1, largest |output| {self.output_scale:.3g}) = {self.bound:.1e}"


@dataclass(frozen=True)
class OnnxExport(_Checked):
    """A written ONNX file and how closely ONNX Runtime reproduced PyTorch on it."""

    path: Path
    opset: int | None           # the file's default-domain (ai.onnx) opset; None if it imports none
    batches: tuple[int, ...]    # batch sizes the check ran (the file has a dynamic batch axis)
    max_abs_error: float        # max |onnxruntime - pytorch| over all checked outputs
    output_scale: float         # max |pytorch|: random-weight logits can be large
    tolerance: float = ONNX_TOLERANCE


@dataclass(frozen=True)
class TensorRTExport(_Checked):
    """A TensorRT ExportedProgram (written once ``ok``) and its agreement with PyTorch on CUDA."""

    path: Path
    precision: str
    batch_range: tuple[int, int, int]
    max_abs_error: float        # max |tensorrt - pytorch| at the opt batch, on CUDA
    output_scale: float         # max |pytorch|
    tolerance: float            # the precision's CUDA tolerance (resgraph.precision)


def export_onnx(model: nn.Module, path: str | os.PathLike[str], input_shape: Sequence[int], *,
                check_batches: Sequence[int] = (1, 3), opset: int | None = None,
                metadata: dict[str, str] | None = None) -> OnnxExport:
    """Write ``model`` (float32, eval mode) as ONNX with a dynamic batch axis, then check it in ONNX Runtime.

    ``input_shape`` is one image's (C, H, W). The file is exported from a batch
    of 2 (so the batch axis cannot be specialised to 0/1) and checked at each
    of ``check_batches``; it is moved into place only if every output is within
    1e-4 of PyTorch's (absolute up to outputs of magnitude 1, relative to the
    largest output above), else :class:`ExportCheckError` is raised and nothing is written.
    ``metadata`` goes into the file's ``metadata_props`` (resgraph writes the spec's
    name and hash and where the weights came from).
    """
    _need("onnx", "onnxscript", "onnxruntime", what="ONNX export", extra="onnx")
    with _eval_mode(model):
        return _export_onnx(model, Path(path), tuple(input_shape), tuple(check_batches), opset, metadata or {})


def onnx_program(model: nn.Module, input_shape: Sequence[int], opset: int | None = None) -> Any:
    """The model as a ``torch.onnx.ONNXProgram`` (dynamo exporter) with a dynamic batch axis, quietly.

    Exported from a batch of 2: the exporter would specialise a batch of 0 or 1.
    """
    example = torch.randn(2, *input_shape)
    batch = torch.export.Dim("batch")
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.onnx.export(model, (example,), None, dynamo=True, input_names=["input"],
                                 output_names=["logits"], dynamic_shapes=({0: batch},), opset_version=opset,
                                 verbose=False)


def _export_onnx(model: nn.Module, target: Path, input_shape: tuple[int, ...], check_batches: tuple[int, ...],
                 opset: int | None, metadata: dict[str, str]) -> OnnxExport:
    program = onnx_program(model, input_shape, opset)
    program.model.metadata_props.update({k: str(v) for k, v in metadata.items()})
    big = sum(p.numel() * p.element_size() for p in model.state_dict().values()) >= 2**31
    ensure_folder(target.parent)
    with atomic_path(target) as tmp:
        program.save(tmp, external_data=big)  # protobuf caps a file at 2 GiB: weights go beside it then
        result = check_onnx(tmp, model, input_shape, check_batches)
        _refuse_unless_ok(result, "ONNX Runtime", target)
    return dataclasses.replace(result, path=target)


def _refuse_unless_ok(result: _Checked, runtime: str, target: Path) -> None:
    """Raise :class:`ExportCheckError` (the file is not written) unless ``result`` is within its bound."""
    if not result.ok:
        raise ExportCheckError(f"{target}: {runtime} disagrees with PyTorch: max abs error {result.max_abs_error:.2e} "
                               f"(relative {result.max_rel_error:.2e}) > {result.rule}; not written")


def check_onnx(path: str | os.PathLike[str], model: nn.Module, input_shape: Sequence[int],
               batches: Sequence[int] = (1, 3), seed: int = 0) -> OnnxExport:
    """Run an ONNX file in ONNX Runtime (CPU) and compare it with ``model`` on random inputs.

    The result's ``opset`` is the file's own (its default-domain opset import);
    ``ok`` says whether every output was within the export's bound.
    """
    import onnx
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    gen = torch.Generator().manual_seed(seed)
    abs_err, scale = 0.0, 0.0
    for b in batches:
        x = torch.randn(b, *input_shape, generator=gen)
        with torch.no_grad(), _eval_mode(model):
            ref = model(x).numpy()
        out = session.run(None, {name: x.numpy()})[0]
        err, ref_scale = output_error(out, ref, f"{path}: ONNX Runtime at batch {b}")
        abs_err, scale = max(abs_err, err), max(scale, ref_scale)  # err is inf, never NaN: max keeps it
    header = onnx.load(str(path), load_external_data=False)  # the graph only: weights past 2 GiB stay on disk
    opset = next((int(o.version) for o in header.opset_import if o.domain in ("", "ai.onnx")), None)
    return OnnxExport(Path(path), opset, tuple(batches), abs_err, scale)


def tensorrt_missing() -> str | None:
    """Why TensorRT export cannot run here (one line), or None when CUDA and torch_tensorrt are present."""
    missing = []
    if not torch.cuda.is_available():
        missing.append("no CUDA device (torch.cuda.is_available() is False)")
    try:
        import torch_tensorrt  # noqa: F401 - imported only to see whether it is installed
    except ImportError:
        missing.append("torch_tensorrt is not installed (pip install 'resgraph[tensorrt]')")
    return "; ".join(missing) or None


def export_tensorrt(model: nn.Module, path: str | os.PathLike[str], input_shape: Sequence[int], *,
                    precision: str = "fp32", batch_range: tuple[int, int, int] = (1, 8, 32)) -> TensorRTExport:
    """Compile ``model`` with torch_tensorrt (``ir="dynamo"``) for a (min, opt, max) batch profile and save it.

    The result is a ``torch.export`` ExportedProgram file (load it with
    ``torch_tensorrt.load(path).module()``). fp16 casts the weights and input to
    half, which TensorRT honours whether it types the network weakly or strongly.
    The engine is run at the opt batch and compared with PyTorch (same dtype, on
    CUDA) by :func:`check_tensorrt`; outside the bound it raises
    :class:`ExportCheckError` and nothing is written. Raises :class:`UsageError`
    where CUDA or torch_tensorrt is missing.
    """
    why = tensorrt_missing()
    if why:
        raise UsageError(f"TensorRT export needs CUDA and torch_tensorrt: {why}")
    lo, opt, hi = batch_range
    if not 1 <= lo <= opt <= hi:
        raise UsageError(f"batch range must satisfy 1 <= MIN <= OPT <= MAX (received {lo},{opt},{hi})")
    import torch_tensorrt

    shapes = ((lo, *input_shape), (opt, *input_shape), (hi, *input_shape))
    trt_gm = compile_tensorrt(model, shapes, precision)
    dtype = torch_dtype(precision)
    model = copy.deepcopy(model).eval().to("cuda", dtype)
    spec = torch_tensorrt.Input(min_shape=shapes[0], opt_shape=shapes[1], max_shape=shapes[2], dtype=dtype)
    x = torch.randn(opt, *input_shape, device="cuda", dtype=dtype)
    with torch.no_grad():
        ref, out = model(x), trt_gm(x)
    result = check_tensorrt(out, ref, precision, path, (lo, opt, hi))  # before anything is written
    ensure_folder(result.path.parent)
    with atomic_path(result.path) as tmp:
        torch_tensorrt.save(trt_gm, str(tmp), inputs=[spec])
    return result


def check_tensorrt(out: Any, ref: Any, precision: str, path: str | os.PathLike[str],
                   batch_range: tuple[int, int, int]) -> TensorRTExport:
    """TensorRT's output against PyTorch's (the opt batch), or :class:`ExportCheckError` if outside the bound.

    The tolerance is the precision's CUDA one (resgraph.precision), applied as
    ONNX's is: absolute up to outputs of magnitude 1, relative above; a NaN or inf fails.
    """
    target = Path(path)
    tolerance = get_precision(precision).tolerance_on("cuda")
    if tolerance is None:
        raise UsageError(f"TensorRT export: precision {precision!r} has no relative tolerance to check against")
    err, scale = output_error(out, ref, f"{target}: TensorRT at batch {batch_range[1]}")
    result = TensorRTExport(target, precision, batch_range, err, scale, tolerance)
    _refuse_unless_ok(result, f"TensorRT ({precision})", target)
    return result


def compile_tensorrt(model: nn.Module, shapes: tuple[Sequence[int], Sequence[int], Sequence[int]], precision: str,
                     device: str = "cuda") -> nn.Module:
    """A torch_tensorrt (``ir="dynamo"``) module for input shapes (min, opt, max): export's and the bench's one path.

    Weights and input are cast to the precision's dtype (a copy of ``model``),
    which TensorRT honours whether it types the network weakly or strongly.
    """
    if precision not in TENSORRT_PRECISIONS:
        raise UsageError(f"TensorRT precision must be one of {', '.join(TENSORRT_PRECISIONS)} (received {precision!r})")
    import torch_tensorrt

    dtype = torch_dtype(precision)
    model = copy.deepcopy(model).eval().to(device, dtype)
    lo, opt, hi = (tuple(s) for s in shapes)
    spec = torch_tensorrt.Input(min_shape=lo, opt_shape=opt, max_shape=hi, dtype=dtype)
    settings: dict[str, Any] = {"ir": "dynamo", "inputs": [spec], "enabled_precisions": {dtype}}
    try:
        return torch_tensorrt.compile(model, **settings)
    except AssertionError as exc:  # releases that type strongly reject enabled_precisions
        if "enabled_precisions" not in str(exc):
            raise
        settings.pop("enabled_precisions")
        return torch_tensorrt.compile(model, **settings)


def _need(*modules: str, what: str, extra: str) -> None:
    """Raise UsageError naming the optional packages ``what`` needs and lacks."""
    missing = []
    for name in modules:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise UsageError(f"{what} needs {', '.join(missing)}: pip install 'resgraph[{extra}]'")


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode for the duration; its train/eval mode is restored after."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)
