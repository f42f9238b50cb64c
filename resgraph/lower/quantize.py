"""int8 static quantisation of a lowered module, calibrated on batches the caller gives.

Two engines, one calibration contract (a sequence of fp32 NCHW batches):

- ONNX Runtime: the fp32 ONNX export, ``quant_pre_process`` (shape inference and
  graph optimisation), then ``quantize_static`` in QDQ format with per-channel
  int8 weights and uint8 activations (MinMax calibration). The file is written
  with its weights inside: ``quant_pre_process`` fails on external data.
- PT2E: ``torch.export`` of the module, torchao's ``X86InductorQuantizer``
  (its default static config: per-channel int8 weights, uint8 activations
  observed by histogram), ``prepare_pt2e``, calibration, ``convert_pt2e``. The
  result is meant for ``torch.compile`` with freezing on, where inductor fuses
  the quantise/dequantise pairs into oneDNN int8 convolutions.

torchao's quantiser cannot annotate one ReLU module called in several places
("Input partition has more than one output node"). resgraph's lowering calls
each ReLU module once, so its modules quantise as they are; another module
(torchvision's Bottleneck calls its ``relu`` three times) is traced and given
one copy of such a module per call first (:func:`unshare_modules`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.fx as fx
from torch import nn

__all__ = ["quantize_onnx", "quantize_pt2e", "random_batches", "unshare_modules"]


def random_batches(count: int, batch: int, shape: Sequence[int], seed: int) -> list[torch.Tensor]:
    """``count`` seeded standard-normal batches of ``batch`` images of ``shape`` (C, H, W)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *shape, generator=g) for _ in range(count)]


def quantize_onnx(model: nn.Module, input_shape: Sequence[int], calibration: Sequence[torch.Tensor]) -> bytes:
    """The model as a statically quantised (QDQ, per-channel) ONNX file's bytes, dynamic batch axis."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from resgraph.lower.export import onnx_program

    if not calibration:
        raise ValueError("int8 quantisation needs at least one calibration batch")
    program = onnx_program(model.float().eval(), tuple(input_shape))
    name = program.model_proto.graph.input[0].name

    class Batches(CalibrationDataReader):  # the reader ONNX Runtime's calibrator pulls from
        def __init__(self) -> None:
            self._it = iter(calibration)

        def get_next(self) -> dict[str, Any] | None:
            x = next(self._it, None)
            return None if x is None else {name: x.detach().cpu().float().numpy()}

    with tempfile.TemporaryDirectory(prefix="resgraph-int8-") as tmp, _quiet():
        fp32, pre, q = (Path(tmp) / f for f in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        program.save(fp32, external_data=False)
        quant_pre_process(fp32, pre)
        quantize_static(pre, q, Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        return q.read_bytes()


def quantize_pt2e(model: nn.Module, example: torch.Tensor, calibration: Sequence[torch.Tensor]) -> nn.Module:
    """The model exported, annotated by X86InductorQuantizer, calibrated and converted (Q/DQ ops in fp32 graph)."""
    with _quiet_logger("torch.utils._pytree"):  # torchao's import registers an Enum that torch now warns about
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
        from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
            X86InductorQuantizer,
            get_default_x86_inductor_quantization_config,
        )

    if not calibration:
        raise ValueError("int8 quantisation needs at least one calibration batch")
    quantizer = X86InductorQuantizer()
    quantizer.set_global(get_default_x86_inductor_quantization_config())
    with _quiet(), torch.no_grad():
        exported = torch.export.export(unshare_modules(model.eval()), (example,)).module()
        prepared = prepare_pt2e(exported, quantizer)
        for x in calibration:
            prepared(x.to(example.device))
        return convert_pt2e(prepared)


def unshare_modules(model: nn.Module) -> nn.Module:
    """``model``, or a traced copy in which every module called from several places has one copy per call.

    Same function, same weights; what torchao's quantiser needs to annotate each
    call on its own. A module that symbolic tracing cannot follow is returned as is.
    """
    try:
        gm = model if isinstance(model, fx.GraphModule) else fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - data-dependent control flow: let torch.export have it
        return model
    calls = Counter(n.target for n in gm.graph.nodes if n.op == "call_module")
    if all(c == 1 for c in calls.values()):
        return model
    if gm is model:
        gm = copy.deepcopy(gm)  # the caller's module stays as it was
    seen: Counter[str] = Counter()
    for node in gm.graph.nodes:
        if node.op == "call_module" and calls[node.target] > 1:
            seen[node.target] += 1
            if seen[node.target] > 1:
                name = f"{node.target}_call{seen[node.target]}"
                gm.add_submodule(name, copy.deepcopy(gm.get_submodule(str(node.target))))
                node.target = name
                # torch.export keeps a traced node's module stack: the copy's call must not claim the original
                node.meta.pop("nn_module_stack", None)
                node.meta.pop("source_fn_stack", None)
    gm.recompile()
    return gm


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """The logger ``name`` says only errors for the duration."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The quantisers print progress and warn per op (an unquantised max-pool input); a row says what matters."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
