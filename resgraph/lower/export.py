"""Export a lowered module: ONNX (checked in ONNX Runtime) and TensorRT (torch_tensorrt, dynamo IR).

Files are written atomically: into a temporary folder beside the target, then
moved into place with ``os.replace``, so a failed or interrupted export never
leaves a half-written file under the requested name.
"""

from __future__ import annotations

import contextlib
import copy
import io
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
from resgraph.precision import torch_dtype

__all__ = ["ExportCheckError", "OnnxExport", "TensorRTExport", "TENSORRT_PRECISIONS", "check_onnx", "compile_tensorrt",
           "export_onnx", "export_tensorrt", "onnx_program", "tensorrt_missing"]

ONNX_TOLERANCE = 1e-4
TENSORRT_PRECISIONS = ("fp32", "fp16")  # what TensorRT export and the tensorrt backend build (resgraph.precision names)


class ExportCheckError(ResgraphError):
    """An exported file that does not reproduce PyTorch's outputs; nothing was written."""


@dataclass(frozen=True)
class OnnxExport:
    """A written ONNX file and how closely ONNX Runtime reproduced PyTorch on it."""

    path: Path
    opset: int
    batches: tuple[int, ...]    # batch sizes the check ran (the file has a dynamic batch axis)
    max_abs_error: float        # max |onnxruntime - pytorch| over all checked outputs
    output_scale: float         # max |pytorch|: random-weight logits can be large

    @property
    def max_rel_error(self) -> float:
        """The max error relative to the largest output."""
        return self.max_abs_error / self.output_scale if self.output_scale else self.max_abs_error

    @property
    def ok(self) -> bool:
        """Within 1e-4: absolute for outputs up to magnitude 1, relative to the largest output above that."""
        return self.max_abs_error <= ONNX_TOLERANCE * max(1.0, self.output_scale)


@dataclass(frozen=True)
class TensorRTExport:
    """A written TensorRT ExportedProgram and its agreement with PyTorch on CUDA."""

    path: Path
    precision: str
    batch_range: tuple[int, int, int]
    max_abs_error: float        # max |tensorrt - pytorch| at the opt batch, on CUDA
    output_scale: float         # max |pytorch|

    @property
    def max_rel_error(self) -> float:
        """The max error relative to the largest output."""
        return self.max_abs_error / self.output_scale if self.output_scale else self.max_abs_error


def export_onnx(model: nn.Module, path: str | os.PathLike[str], input_shape: Sequence[int], *,
                check_batches: Sequence[int] = (1, 3), opset: int | None = None,
                metadata: dict[str, str] | None = None) -> OnnxExport:
    """Write ``model`` (float32, eval mode) as ONNX with a dynamic batch axis, then check it in ONNX Runtime.

    ``input_shape`` is one image's (C, H, W). The file is exported from a batch
    of 2 (so the batch axis cannot be specialised to 0/1) and checked at each
    of ``check_batches``; it is moved into place only if every output is within
    1e-4 of PyTorch's, else :class:`ExportCheckError` is raised and nothing is written.
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
        if not result.ok:
            raise ExportCheckError(f"{target}: ONNX Runtime disagrees with PyTorch: max error "
                                   f"{result.max_abs_error:.2e} (relative {result.max_rel_error:.2e}) > "
                                   f"{ONNX_TOLERANCE:g}; not written")
    return OnnxExport(target, _default_opset(program), result.batches, result.max_abs_error, result.output_scale)


def check_onnx(path: str | os.PathLike[str], model: nn.Module, input_shape: Sequence[int],
               batches: Sequence[int] = (1, 3), seed: int = 0) -> OnnxExport:
    """Run an ONNX file in ONNX Runtime (CPU) and compare it with ``model`` on random inputs."""
    import numpy as np
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
        if out.shape != ref.shape:
            raise ExportCheckError(f"{path}: ONNX Runtime output shape {out.shape} != PyTorch's {ref.shape} at batch {b}")
        abs_err = max(abs_err, float(np.abs(out - ref).max()))
        scale = max(scale, float(np.abs(ref).max()))
    return OnnxExport(Path(path), 0, tuple(batches), abs_err, scale)


def tensorrt_missing() -> str | None:
    """Why TensorRT export cannot run here (one line), or None when CUDA and torch_tensorrt are present."""
    missing = []
    if not torch.cuda.is_available():
        missing.append("no CUDA device (torch.cuda.is_available() is False)")
    try:
        import torch_tensorrt  # noqa: F401
    except ImportError:
        missing.append("torch_tensorrt is not installed (pip install 'resgraph[tensorrt]')")
    return "; ".join(missing) or None


def export_tensorrt(model: nn.Module, path: str | os.PathLike[str], input_shape: Sequence[int], *,
                    precision: str = "fp32", batch_range: tuple[int, int, int] = (1, 8, 32)) -> TensorRTExport:
    """Compile ``model`` with torch_tensorrt (``ir="dynamo"``) for a (min, opt, max) batch profile and save it.

    The result is a ``torch.export`` ExportedProgram file (load it with
    ``torch_tensorrt.load(path).module()``). fp16 casts the weights and input to
    half, which TensorRT honours whether it types the network weakly or strongly.
    Raises :class:`UsageError` where CUDA or torch_tensorrt is missing.
    """
    why = tensorrt_missing()
    if why:
        raise UsageError(f"TensorRT export needs CUDA and torch_tensorrt: {why}")
    lo, opt, hi = batch_range
    if not 1 <= lo <= opt <= hi:
        raise UsageError(f"batch range must satisfy 1 <= MIN <= OPT <= MAX (received {lo},{opt},{hi})")
    import torch_tensorrt

    shapes = tuple((b, *input_shape) for b in (lo, opt, hi))
    trt_gm = compile_tensorrt(model, shapes, precision)  # type: ignore[arg-type]
    dtype = torch_dtype(precision)
    model = copy.deepcopy(model).eval().to("cuda", dtype)
    spec = torch_tensorrt.Input(min_shape=shapes[0], opt_shape=shapes[1], max_shape=shapes[2], dtype=dtype)
    x = torch.randn(opt, *input_shape, device="cuda", dtype=dtype)
    with torch.no_grad():
        ref, out = model(x).float(), trt_gm(x).float()
    abs_err = (out - ref).abs().max().item()
    scale = ref.abs().max().item()
    target = Path(path)
    ensure_folder(target.parent)
    with atomic_path(target) as tmp:
        torch_tensorrt.save(trt_gm, str(tmp), inputs=[spec])
    return TensorRTExport(target, precision, (lo, opt, hi), abs_err, scale)


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


def _default_opset(program: object) -> int:
    """The default-domain opset of an exported ONNX program (0 if it cannot be read)."""
    try:
        return int(program.model.opset_imports[""])  # type: ignore[attr-defined]
    except (AttributeError, KeyError, TypeError, ValueError):
        return 0


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
