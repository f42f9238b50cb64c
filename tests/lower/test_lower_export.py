"""ONNX export checked in ONNX Runtime; TensorRT export (skips without CUDA + torch_tensorrt); atomic writes."""

from __future__ import annotations

import pytest
import torch

from resgraph.errors import UsageError
from resgraph.lower import build_model
from resgraph.lower import export as ex
from resgraph.precision import get_precision, torch_dtype

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx extra: pip install 'resgraph[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="needs onnxruntime: pip install 'resgraph[onnx]'")

TRT_MISSING = ex.tensorrt_missing()


@pytest.fixture(scope="module")
def resnet20_onnx(tmp_path_factory):
    model = build_model("resnet20", seed=0)
    path = tmp_path_factory.mktemp("onnx") / "resnet20.onnx"
    return model, path, ex.export_onnx(model, path, (3, 32, 32), check_batches=(1, 3))


def test_onnx_matches_pytorch_in_onnx_runtime(resnet20_onnx):
    model, path, result = resnet20_onnx
    assert result.ok and result.max_abs_error <= 1e-4
    assert result.batches == (1, 3) and result.opset >= 17
    assert model.training  # export_onnx restores the caller's mode
    # Independent re-check at another batch size.
    again = ex.check_onnx(path, model, (3, 32, 32), batches=(7,), seed=5)
    assert again.max_abs_error <= 1e-4 * max(1.0, again.output_scale)


def test_check_onnx_reports_the_files_own_opset(resnet20_onnx):
    model, path, result = resnet20_onnx
    (default,) = [o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx")]
    again = ex.check_onnx(path, model, (3, 32, 32), batches=(2,))
    assert again.opset == result.opset == default >= 17  # not a placeholder 0


def test_onnx_batch_axis_is_dynamic_and_names_are_stable(resnet20_onnx):
    _, path, _ = resnet20_onnx
    m = onnx.load(str(path))
    (inp,), (out,) = m.graph.input, m.graph.output
    assert inp.name == "input" and out.name == "logits"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 32, 32]
    assert {n.op_type for n in m.graph.node} >= {"Conv", "Relu", "Add", "Pad", "Gemm"}  # Pad: option A


def test_onnx_write_is_atomic(tmp_path):
    # A failed check leaves neither the file nor any temporary behind.
    model = build_model("resnet20", seed=0)
    target = tmp_path / "bad.onnx"
    real = ex.check_onnx

    def bad_check(*args, **kwargs):
        r = real(*args, **kwargs)
        return ex.OnnxExport(r.path, r.opset, r.batches, 1.0, 1.0)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ex, "check_onnx", bad_check)
        with pytest.raises(ex.ExportCheckError, match=r"bad.onnx: ONNX Runtime disagrees .* not written"):
            ex.export_onnx(model, target, (3, 32, 32))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_onnx_imagenet_model(tmp_path):
    model = build_model("resnet18", seed=0)
    r = ex.export_onnx(model, tmp_path / "resnet18.onnx", (3, 224, 224), check_batches=(2,))
    assert r.ok and r.max_abs_error <= 1e-4


@pytest.mark.skipif(TRT_MISSING is None, reason="CUDA and torch_tensorrt are present")
def test_tensorrt_export_without_cuda_or_torch_tensorrt_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="TensorRT export needs CUDA and torch_tensorrt: "):
        ex.export_tensorrt(build_model("resnet20", device="meta"), tmp_path / "x.ep", (3, 32, 32))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(TRT_MISSING is not None, reason=f"TensorRT export unavailable: {TRT_MISSING}")
@pytest.mark.parametrize(("precision", "tol"), [("fp32", 1e-2), ("fp16", 5e-2)])
def test_tensorrt_export_round_trip(tmp_path, precision, tol):
    import torch_tensorrt

    model = build_model("resnet20", seed=0)
    path = tmp_path / f"resnet20_{precision}.ep"
    r = ex.export_tensorrt(model, path, (3, 32, 32), precision=precision, batch_range=(1, 4, 8))
    assert path.is_file() and r.max_rel_error <= tol
    assert r.ok and r.tolerance == get_precision(precision).tolerance_on("cuda")  # enforced before the save
    loaded = torch_tensorrt.load(str(path)).module()
    dtype = torch_dtype(precision)
    ref_model = model.eval().cuda().to(dtype)
    for b in (1, 8):  # both ends of the profile
        x = torch.randn(b, 3, 32, 32, device="cuda", dtype=dtype)
        with torch.no_grad():
            out, ref = loaded(x).float(), ref_model(x).float()
        assert (out - ref).abs().max().item() <= tol * ref.abs().max().item()
