"""The rule both exports are held to before a file is written, on fake outputs (no ONNX Runtime, GPU or TensorRT).

``max |runtime - PyTorch| <= tolerance x max(1, max |PyTorch|)``: absolute while outputs are at most 1 in
magnitude, relative to the largest output above; a NaN or inf is never within it. TensorRT's tolerance is its
precision's CUDA one (resgraph.precision): fp32 2e-3, fp16 2e-2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from resgraph.errors import UsageError
from resgraph.lower import export as ex
from resgraph.precision import get_precision

REF = torch.linspace(-5.0, 5.0, 20).reshape(2, 10)  # largest |output| 5: the relative side of the rule


def test_tensorrt_within_its_precisions_bound_passes():
    r = ex.check_tensorrt(REF + 9e-3, REF, "fp32", "m.ep", (1, 2, 4))
    assert r.ok and r.tolerance == get_precision("fp32").tolerance_on("cuda") == 2e-3
    assert r.output_scale == 5.0 and r.bound == pytest.approx(1e-2) and r.max_abs_error == pytest.approx(9e-3, rel=1e-4)
    assert r.rule == "2e-3 x max(1, largest |output| 5) = 1.0e-02"
    assert (str(r.path), r.precision, r.batch_range) == ("m.ep", "fp32", (1, 2, 4))
    assert ex.check_tensorrt(REF.half() + 0.09, REF.half(), "fp16", "m.ep", (1, 2, 4)).ok  # 2e-2 x 5


def test_tensorrt_outside_the_bound_is_refused_naming_the_rule():
    with pytest.raises(ex.ExportCheckError, match=r"^out/m\.ep: TensorRT \(fp32\) disagrees with PyTorch: max abs "
                                                  r"error 2\.00e-02 \(relative 4\.00e-03\) > 2e-3 x max\(1, largest "
                                                  r"\|output\| 5\) = 1\.0e-02; not written$"):
        ex.check_tensorrt(REF + 2e-2, REF, "fp32", "out/m.ep", (1, 2, 4))


def test_below_magnitude_one_the_bound_is_absolute():
    small = REF / 50  # largest |output| 0.1
    assert ex.check_tensorrt(small + 1.5e-3, small, "fp32", "m.ep", (1, 1, 1)).ok  # 1.5% relative, 1.5e-3 absolute
    with pytest.raises(ex.ExportCheckError, match=r"> 2e-3 x max\(1, largest \|output\| 0\.1\) = 2\.0e-03"):
        ex.check_tensorrt(small + 3e-3, small, "fp32", "m.ep", (1, 1, 1))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_nan_or_inf_output_is_never_within_the_bound(bad):
    out = REF.clone()
    out[1, 3] = bad
    with pytest.raises(ex.ExportCheckError, match=r"max abs error inf .*; not written"):
        ex.check_tensorrt(out, REF, "fp32", "m.ep", (1, 2, 4))
    # ONNX's side of the same measurement: max() would have dropped a NaN and passed the file.
    err, scale = ex.output_error(out.numpy(), REF.numpy(), "ONNX Runtime at batch 2")
    assert err == math.inf and scale == 5.0
    assert not ex.OnnxExport(ex.Path("m.onnx"), 18, (2,), math.nan, 1.0).ok


def test_a_wrong_shape_is_refused_naming_the_runtime_and_batch():
    with pytest.raises(ex.ExportCheckError, match=r"^m\.ep: TensorRT at batch 2: output shape \(2, 9\) != "
                                                  r"PyTorch's \(2, 10\)$"):
        ex.check_tensorrt(REF[:, :9], REF, "fp32", "m.ep", (1, 2, 4))


def test_a_precision_without_a_relative_tolerance_is_a_usage_error():
    with pytest.raises(UsageError, match="precision 'int8' has no relative tolerance"):
        ex.check_tensorrt(REF, REF, "int8", "m.ep", (1, 2, 4))


def test_onnx_keeps_its_1e4_rule_through_the_same_bound():
    assert ex.OnnxExport(ex.Path("m.onnx"), 18, (1,), 4.9e-4, 5.0).ok
    r = ex.OnnxExport(ex.Path("m.onnx"), 18, (1,), 2e-4, 0.5)
    assert not r.ok and r.rule == "1e-4 x max(1, largest |output| 0.5) = 1.0e-04"
    assert ex.error_bound(0.5, 1e-4) == 1e-4 and ex.error_bound(7.0, 1e-4) == pytest.approx(7e-4)
    assert ex.output_error(np.zeros((0, 10)), np.zeros((0, 10)), "x") == (0.0, 0.0)
