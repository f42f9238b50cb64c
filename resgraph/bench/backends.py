"""Backend registry: each backend states what it needs and turns an eval fp32 module into a runnable.

A backend never crashes on an unsupported combination: `prepare` returns a
`Skip` with the reason instead (wrong device, missing package, precision it
doesn't do). Input conversion (dtype, memory format, numpy) happens once in
`build`, outside the timed region; `Prepared.input` is what the runnable takes.
"""

from __future__ import annotations

import importlib.util
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

import resgraph.bench.openvino as ov_backend
from resgraph.lower.inference import fold_bn
from resgraph.precision import get_precision, torch_dtype
from resgraph.registry import add, lookup

__all__ = [
    "Skip",
    "Prepared",
    "Context",
    "Backend",
    "register",
    "get_backend",
    "backend_names",
    "unmet_requirement",
    "prepare",
    "export_onnx",
]

_EXTRAS = {"onnxruntime": "onnx", "onnx": "onnx", "onnxscript": "onnx", "torch_tensorrt": "tensorrt",
           "torchao": "int8", "openvino": "openvino", "nncf": "openvino"}


@dataclass(frozen=True)
class Skip:
    """Why a backend cannot run here; recorded as a 'skipped' row."""

    reason: str


@dataclass(frozen=True)
class Prepared:
    """A ready runnable and the input it expects (already in its dtype, layout and array type)."""

    fn: Callable[[Any], Any]
    input: Any
    feed: Callable[[torch.Tensor], Any] | None = None  # another fp32 batch in the form `fn` takes (None: like `input`)
    info: Mapping[str, object] = field(default_factory=dict)  # what the built runtime reports: added to the row's env

    def convert(self, x: torch.Tensor) -> Any:
        """An fp32 CPU batch as `fn` takes it: the checks feed held-out images through this, untimed."""
        if self.feed is not None:
            return self.feed(x)
        if isinstance(self.input, np.ndarray):
            return x.detach().cpu().numpy().astype(self.input.dtype)
        fmt = torch.channels_last if self.input.dim() == 4 and self.input.is_contiguous(
            memory_format=torch.channels_last) and not self.input.is_contiguous() else torch.contiguous_format
        return x.to(self.input.device, self.input.dtype).contiguous(memory_format=fmt)


@dataclass(frozen=True)
class Context:
    """What a backend is built for."""

    device: str  # "cpu", "cuda", "cuda:1"
    precision: str  # a name in resgraph.precision's table
    threads: int  # intra-op threads (torch's, and ONNX Runtime's)
    calibration: Sequence[torch.Tensor] = ()  # fp32 batches for precisions that quantise statically (int8)
    hint: str | None = None  # the backend's performance hint (one of Backend.hints); None: its default

    @property
    def dtype(self) -> torch.dtype:
        """The torch dtype of the precision."""
        return torch_dtype(self.precision)

    @property
    def device_type(self) -> str:
        """'cpu' or 'cuda', without the index."""
        return self.device.split(":")[0]


@dataclass(frozen=True)
class Backend:
    """A named way to run a module, with its requirements stated up front."""

    name: str
    build: Callable[[nn.Module, torch.Tensor, Context], Prepared]
    precisions: Mapping[str, tuple[str, ...]]  # device type -> supported precisions
    packages: tuple[str, ...] = ()  # importable modules it needs
    extra_check: Callable[[Context], str | None] | None = None  # further requirement; returns a reason
    doc: str = ""
    notes: Mapping[str, str] = field(default_factory=dict)  # precision -> why it's unsupported
    precision_packages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # precision -> further modules
    peak_engines: Mapping[str, str] = field(default_factory=dict)  # precision -> roofline engine (default "torch")
    hints: tuple[str, ...] = ()  # performance hints a row may ask for (`--ov-hint`), the default first; () takes none
    build_s: float = 0.5  # typical seconds to export/compile a row on a 2-core CPU, for a sweep's ETA (bench.eta)

    def peak_engine(self, precision: str) -> str:
        """What its roofline peak in this precision is measured through (resgraph.bench.roofline.ENGINES)."""
        return self.peak_engines.get(precision, "torch")

    def requirements(self, precision: str) -> tuple[str, ...]:
        """The modules a row in ``precision`` runs through: what its record lists the versions of."""
        return (*self.packages, *self.precision_packages.get(precision, ()))


_REGISTRY: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    """Add a backend to the registry; a name already registered is a DuplicateNameError (the first one stands)."""
    return add(_REGISTRY, "backend", backend.name, backend, source=lambda b: b.build.__module__)


def get_backend(name: str, what: str = "") -> Backend:
    """The backend of that name, or an UnknownNameError (a UsageError and a ValueError) listing the known ones.

    ``what`` says where the name came from (``"--backend"``), as for ``get_precision``.
    """
    return lookup(_REGISTRY, "backend", name, what)


def backend_names() -> list[str]:
    """Registered backend names, in registration order."""
    return list(_REGISTRY)


def unmet_requirement(name: str, device: str, precision: str) -> str | None:
    """The reason this backend can't run this device/precision here, or None if it can."""
    b = get_backend(name)
    get_precision(precision)  # an unknown name is an error, not a skip
    dev = device.split(":")[0]
    if dev not in b.precisions:
        return f"backend {name!r} runs on {', '.join(b.precisions)}; device is {device}"
    if dev == "cuda" and not torch.cuda.is_available():
        return "CUDA is not available (torch.cuda.is_available() is False)"
    if precision not in b.precisions[dev]:
        why = b.notes.get(precision, "")
        supported = ", ".join(b.precisions[dev])
        return f"backend {name!r} on {dev} supports {supported}, not {precision}" + (f": {why}" if why else "")
    for pkg in b.requirements(precision):
        if importlib.util.find_spec(pkg) is None:
            extra = _EXTRAS.get(pkg)
            hint = f" (pip install 'resgraph[{extra}]')" if extra else ""
            return f"backend {name!r} needs the package {pkg!r}, which is not installed{hint}"
    if b.extra_check is not None:
        return b.extra_check(Context(device, precision, 1))
    return None


def prepare(
    name: str,
    model: nn.Module,
    example: torch.Tensor,
    device: str = "cpu",
    precision: str = "fp32",
    threads: int | None = None,
    calibration: Sequence[torch.Tensor] = (),
    hint: str | None = None,
) -> Prepared | Skip:
    """Build backend `name` from an eval fp32 module already on `device`; Skip when unsupported.

    The backend may modify `model` (cast, re-layout): pass a fresh one. A calibrated
    precision (int8) needs `calibration`: fp32 batches of the row's batch size.
    Errors while building propagate: a sweep records them as 'failed'.
    """
    reason = unmet_requirement(name, device, precision)
    if reason is not None:
        return Skip(reason)
    if get_precision(precision).calibrated and not calibration:
        raise ValueError(f"precision {precision!r} is calibrated: pass calibration batches")
    backend = get_backend(name)
    if hint is not None and hint not in backend.hints:
        takes = f"one of {', '.join(backend.hints)}" if backend.hints else "none"
        raise ValueError(f"backend {name!r} takes no hint {hint!r} ({takes})")
    ctx = Context(device, precision, threads or torch.get_num_threads(), tuple(calibration), hint)
    return backend.build(model, example.to(device), ctx)


def _run_inference(model: Callable[[torch.Tensor], Any]) -> Callable[[torch.Tensor], Any]:
    """Wrap a module so each call runs without autograd bookkeeping."""

    def fn(x: torch.Tensor) -> Any:
        with torch.inference_mode():
            return model(x)

    return fn


def _cast(model: nn.Module, x: torch.Tensor, ctx: Context) -> tuple[nn.Module, torch.Tensor]:
    """Weights and input in the row's precision (fp32 stays as is)."""
    if ctx.precision == "fp32":
        return model, x
    return model.to(ctx.dtype), x.to(ctx.dtype)


def _build_eager(model: nn.Module, x: torch.Tensor, ctx: Context) -> Prepared:
    """The baseline: the module as given, NCHW."""
    model, x = _cast(model, x, ctx)
    return Prepared(_run_inference(model), x)


def _build_channels_last(model: nn.Module, x: torch.Tensor, ctx: Context) -> Prepared:
    """NHWC weights and input: the layout oneDNN and cuDNN convolutions prefer."""
    model, x = _cast(model, x, ctx)
    model = model.to(memory_format=torch.channels_last)
    return Prepared(_run_inference(model), x.contiguous(memory_format=torch.channels_last))


def _build_folded(model: nn.Module, x: torch.Tensor, ctx: Context) -> Prepared:
    """BN folded into the preceding conv (in fp32, then cast), NCHW."""
    model, x = _cast(fold_bn(model), x, ctx)
    return Prepared(_run_inference(model), x)


def _needs_cxx(ctx: Context) -> str | None:
    """Inductor's CPU code generation needs a C++ compiler."""
    if ctx.device_type == "cpu" and not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
        return "backend 'inductor' on cpu needs a C++ compiler (g++/clang++) on PATH"
    return None


def _build_inductor(model: nn.Module, x: torch.Tensor, ctx: Context) -> Prepared:
    """torch.compile with inductor; on the CPU weights are frozen (constant-folded) during compilation."""
    import torch._dynamo
    import torch._inductor.config as inductor_config

    if ctx.precision == "int8":  # PT2E: Q/DQ pairs that inductor (with freezing) fuses into int8 kernels
        from resgraph.lower.quantize import quantize_pt2e

        model = quantize_pt2e(model, x, ctx.calibration)
    else:
        model, x = _cast(model, x, ctx)
    # A fresh cache per build: otherwise many rows compiling the same forward
    # hit dynamo's recompile limit and silently fall back to eager.
    torch._dynamo.reset()
    compiled = torch.compile(model, dynamic=False)
    fn = _run_inference(compiled)
    # Compilation is lazy: run once here, with freezing scoped to this call, so
    # the compile is part of first_result_s and the setting doesn't leak.
    with inductor_config.patch(freezing=ctx.device_type == "cpu"), warnings.catch_warnings():
        if ctx.precision == "int8":  # inductor's int8 fusion passes warn about their own tensor copies
            warnings.simplefilter("ignore", UserWarning)
        fn(x)
    return Prepared(fn, x)


def export_onnx(model: nn.Module, example: torch.Tensor) -> bytes:
    """ONNX bytes with a dynamic batch axis, from the lowering's exporter (one ONNX path in resgraph)."""
    from resgraph.lower.export import onnx_program

    return onnx_program(model.float(), tuple(example.shape[1:])).model_proto.SerializeToString()


def _ort_cuda_check(ctx: Context) -> str | None:
    """The CUDA provider ships only in onnxruntime-gpu."""
    if ctx.device_type != "cuda":
        return None
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)"
    return None


def _build_onnxruntime(model: nn.Module, x: torch.Tensor, ctx: Context) -> Prepared:
    """Export to ONNX, run in an InferenceSession with torch's thread count; numpy in, numpy out."""
    import onnxruntime as ort

    if ctx.precision == "int8":  # static QDQ, per-channel weights (resgraph.lower.quantize)
        from resgraph.lower.quantize import quantize_onnx

        data = quantize_onnx(model, tuple(x.shape[1:]), ctx.calibration)
    else:
        data = export_onnx(model, x)
    so = ort.SessionOptions()
    so.intra_op_num_threads = ctx.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    providers = (
        ["CUDAExecutionProvider", "CPUExecutionProvider"] if ctx.device_type == "cuda" else ["CPUExecutionProvider"]
    )
    sess = ort.InferenceSession(data, so, providers=providers)
    name = sess.get_inputs()[0].name
    run = sess.run

    def fn(a: Any) -> Any:
        return run(None, {name: a})[0]

    # On CUDA the numpy input means each call includes host<->device copies.
    return Prepared(fn, x.detach().cpu().numpy(), lambda a: a.detach().cpu().float().numpy())


def _build_tensorrt(model: nn.Module, x: torch.Tensor, ctx: Context) -> Prepared:
    """torch-tensorrt (dynamo frontend) engine for this exact input shape (resgraph.lower.export's compile)."""
    from resgraph.lower.export import compile_tensorrt

    shape = tuple(x.shape)
    trt = compile_tensorrt(model, (shape, shape, shape), ctx.precision, ctx.device)
    return Prepared(_run_inference(trt), x.to(ctx.dtype))


def _build_amp(dtype: torch.dtype) -> Callable[[nn.Module, torch.Tensor, Context], Prepared]:
    """fp32 weights, autocast to `dtype` on CUDA."""

    def build(model: nn.Module, x: torch.Tensor, ctx: Context) -> Prepared:
        def fn(a: torch.Tensor) -> Any:
            with torch.inference_mode(), torch.autocast("cuda", dtype=dtype):
                return model(a)

        return Prepared(fn, x)

    return build


def _build_cuda_graphs(model: nn.Module, x: torch.Tensor, ctx: Context) -> Prepared:
    """Capture one forward into a CUDA graph; each call is a replay on a static input buffer."""
    model, x = _cast(model, x, ctx)
    static_in = x.clone()
    side = torch.cuda.Stream(device=ctx.device)
    side.wait_stream(torch.cuda.current_stream(ctx.device))
    with torch.cuda.stream(side), torch.inference_mode():
        for _ in range(3):  # warm up cuDNN autotuning and the allocator outside capture
            model(static_in)
    torch.cuda.current_stream(ctx.device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.inference_mode(), torch.cuda.graph(graph):
        static_out = model(static_in)

    def fn(a: torch.Tensor) -> torch.Tensor:
        if a is not static_in:
            static_in.copy_(a)
        graph.replay()
        return static_out

    return Prepared(fn, static_in)


_ALL = ("fp32", "fp16", "bf16")
_CPU_NOTE = {"fp16": "no fast fp16 convolution kernels on the CPU; use bf16",
             "int8": "int8 runs on the onnxruntime, inductor and openvino backends"}

register(
    Backend(
        "eager", _build_eager, {"cpu": ("fp32", "bf16"), "cuda": _ALL}, notes=_CPU_NOTE, doc="the module as given, NCHW"
    )
)
register(
    Backend(
        "channels_last",
        _build_channels_last,
        {"cpu": ("fp32", "bf16"), "cuda": _ALL},
        notes=_CPU_NOTE,
        doc="NHWC weights and input",
    )
)
register(
    Backend(
        "folded",
        _build_folded,
        {"cpu": ("fp32", "bf16"), "cuda": _ALL},
        notes=_CPU_NOTE,
        doc="BatchNorm folded into convs",
    )
)
register(Backend(
    "inductor", _build_inductor, {"cpu": ("fp32", "bf16", "int8"), "cuda": _ALL}, extra_check=_needs_cxx,
    notes=_CPU_NOTE | {"int8": "PT2E int8 (X86InductorQuantizer) is for the CPU"},
    precision_packages={"int8": ("torchao",)},
    doc="torch.compile (inductor); CPU: freezing, int8 PT2E", build_s=6.0,
))
register(Backend(
    "onnxruntime", _build_onnxruntime, {"cpu": ("fp32", "int8"), "cuda": ("fp32",)},
    packages=("onnxruntime", "onnx", "onnxscript"), extra_check=_ort_cuda_check,
    notes={"fp16": "the model is exported in fp32", "bf16": "the model is exported in fp32",
           "int8": "static int8 runs on ONNX Runtime's CPU provider"},
    peak_engines={"int8": "onnxruntime"},
    doc="ONNX Runtime session; int8: static QDQ", build_s=3.5,
))
register(Backend(
    "openvino", ov_backend.build, {"cpu": ("fp32", "bf16", "int8")}, packages=("openvino",),
    extra_check=ov_backend.bf16_check, precision_packages={"int8": ("nncf",)}, hints=ov_backend.HINTS,
    notes={"fp16": "OpenVINO's CPU plugin runs fp32, bf16 and int8"},
    peak_engines={"fp32": "openvino", "int8": "openvino"},
    doc="OpenVINO (convert_model); int8: NNCF", build_s=4.0,
))
register(Backend(
    "tensorrt", _build_tensorrt, {"cuda": ("fp32", "fp16")}, packages=("torch_tensorrt",),
    notes={"bf16": "not offered by this backend"}, doc="torch-tensorrt engine", build_s=60.0,
))
register(
    Backend(
        "amp_fp16",
        _build_amp(torch.float16),
        {"cuda": ("fp16",)},
        notes={"fp32": "AMP runs in fp16", "bf16": "use amp_bf16"},
        doc="CUDA autocast fp16",
    )
)
register(
    Backend(
        "amp_bf16",
        _build_amp(torch.bfloat16),
        {"cuda": ("bf16",)},
        notes={"fp32": "AMP runs in bf16", "fp16": "use amp_fp16"},
        doc="CUDA autocast bf16",
    )
)
register(Backend("cuda_graphs", _build_cuda_graphs, {"cuda": _ALL}, doc="one forward captured as a CUDA graph"))
