"""Inference passes: BN folding, channels_last, float16/bfloat16 casting."""

from __future__ import annotations

import pytest
import torch
import torchvision
from lower_helpers import randomize_bn, rel_err
from torch import nn

from resgraph.lower import build_model, cast, fold_bn, to_channels_last


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet20", "plain20", "resnet18_C"])
def test_fold_bn_removes_every_bn_and_keeps_outputs(name):
    model = randomize_bn(build_model(name, seed=0), seed=1)  # left in train mode on purpose
    size = 32 if "20" in name else 64
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    folded = fold_bn(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert not folded.training
    assert model.training and any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # input untouched
    with torch.no_grad():
        assert rel_err(folded(x), model.eval()(x)) <= 1e-4
    keys = folded.state_dict()
    assert "conv1.bias" in keys and "bn1.weight" not in keys
    if name == "resnet18":
        assert "layer2.0.downsample.0.bias" in keys and "layer2.0.downsample.1.weight" not in keys


def test_fold_bn_on_a_torchvision_model():
    tv = randomize_bn(torchvision.models.resnet18(), seed=0).eval()
    folded = fold_bn(tv)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert rel_err(folded(x), tv(x)) <= 1e-4
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())


def test_fold_bn_generated_code_has_no_bn():
    code = fold_bn(build_model("resnet18", device="meta")).code
    assert "bn" not in code
    assert "layer1_0_relu1 = layer1_0_conv1.relu_()" in code


def test_channels_last_stores_weights_nhwc_and_keeps_outputs():
    model = randomize_bn(build_model("resnet18", seed=0)).eval()
    cl = to_channels_last(model)
    assert cl.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.conv1.weight.is_contiguous()  # input untouched
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = cl(x.to(memory_format=torch.channels_last))
        assert rel_err(out, model(x)) <= 1e-5


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float16, 5e-3), (torch.bfloat16, 3e-2), ("bf16", 3e-2)])
def test_cast_runs_in_half_precision_close_to_float32(dtype, tol):
    model = randomize_bn(build_model("resnet20", seed=0)).eval()
    half = cast(model, dtype)
    want = {"bf16": torch.bfloat16}.get(dtype, dtype)  # type: ignore[call-overload]
    assert {p.dtype for p in half.parameters()} == {want}
    assert model.conv1.weight.dtype == torch.float32  # input untouched
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        out = half(x.to(want))
        assert out.dtype == want
        assert rel_err(out, model(x)) <= tol


def test_cast_rejects_non_float_dtypes():
    model = build_model("resnet20", device="meta")
    with pytest.raises(ValueError, match="not a floating dtype"):
        cast(model, torch.int8)
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        cast(model, "fp8")
