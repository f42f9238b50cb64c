"""Backends: BN folding, numerical agreement with eager, and skips with reasons."""

import copy

import pytest
import torch
from torch import nn

from resgraph.bench.backends import Prepared, Skip, backend_names, prepare, unmet_requirement
from resgraph.bench.check import check_output, to_tensor
from resgraph.bench.toy import tiny_resnet
from resgraph.lower.inference import fold_bn

X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def _ref(model: nn.Module) -> torch.Tensor:
    with torch.inference_mode():
        return model(X)


def test_fold_bn_matches_unfolded_and_removes_every_bn():
    model = tiny_resnet()
    before = copy.deepcopy(model.state_dict())
    folded = fold_bn(model)
    ref, out = _ref(model), _ref(folded)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.Conv2d) for m in folded.modules()) == 3
    assert (out - ref).abs().max() / ref.abs().max() <= 1e-4
    # The BN statistics are far from identity, so folding really changed the convs ...
    assert not torch.allclose(folded.conv1.weight, model.conv1.weight)
    # ... and the input module is untouched.
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_fold_bn_keeps_bn_whose_conv_output_is_used_twice():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x):
            y = self.conv(x)
            return self.bn(y) + y  # the raw conv output is still needed

    m = Branchy().eval()
    with torch.no_grad():
        m.bn.running_mean.fill_(0.5)
        m.bn.running_var.fill_(2.0)
    folded = fold_bn(m)
    assert any(isinstance(x, nn.BatchNorm2d) for x in folded.modules())
    assert torch.allclose(_ref(folded), _ref(m), atol=1e-6)


@pytest.mark.parametrize("backend", ["eager", "channels_last", "folded"])
def test_cpu_backends_match_eager_fp32(backend):
    ref = _ref(tiny_resnet())
    prepared = prepare(backend, tiny_resnet(), X, "cpu", "fp32")
    assert isinstance(prepared, Prepared)
    result = check_output(prepared.fn(prepared.input), ref, "fp32")
    assert result.ok, result.reason
    assert result.max_rel_err <= 1e-4


def test_channels_last_input_is_converted_once_outside_timing():
    prepared = prepare("channels_last", tiny_resnet(), X, "cpu", "fp32")
    assert prepared.input.is_contiguous(memory_format=torch.channels_last)


def test_bf16_on_cpu_passes_its_looser_tolerance():
    ref = _ref(tiny_resnet())
    prepared = prepare("eager", tiny_resnet(), X, "cpu", "bf16")
    assert prepared.input.dtype == torch.bfloat16
    result = check_output(prepared.fn(prepared.input), ref, "bf16")
    assert result.ok, result.reason
    assert 0 < result.max_rel_err  # bf16 really ran: not bit-identical to fp32


def test_onnxruntime_matches_eager():
    pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'resgraph[onnx]')")
    pytest.importorskip("onnxscript", reason="onnxscript not installed (pip install 'resgraph[onnx]')")
    ref = _ref(tiny_resnet())
    prepared = prepare("onnxruntime", tiny_resnet(), X, "cpu", "fp32", threads=1)
    assert isinstance(prepared, Prepared), prepared
    out = prepared.fn(prepared.input)
    result = check_output(out, ref, "fp32")
    assert result.ok, result.reason
    # dynamic batch: the same session takes another batch size
    out5 = to_tensor(prepared.fn(torch.randn(5, 3, 32, 32).numpy()))
    assert out5.shape == (5, 10)


def test_unsupported_combinations_skip_with_a_reason():
    assert isinstance(prepare("onnxruntime", tiny_resnet(), X, "cpu", "bf16"), Skip)
    reason = unmet_requirement("eager", "cpu", "fp16")
    assert reason and "fp16" in reason and "bf16" in reason
    for name in ("amp_fp16", "amp_bf16", "cuda_graphs", "tensorrt"):
        skip = prepare(name, tiny_resnet(), X, "cpu", "fp32")
        assert isinstance(skip, Skip) and "cuda" in skip.reason
    if not torch.cuda.is_available():
        skip = prepare("eager", tiny_resnet(), X, "cuda", "fp32")
        assert isinstance(skip, Skip) and "CUDA is not available" in skip.reason
        assert "CUDA" in unmet_requirement("cuda_graphs", "cuda", "fp32")
    assert "amp_fp16" in backend_names() and "inductor" in backend_names()


def test_unknown_backend_and_precision_are_errors_naming_the_value():
    with pytest.raises(ValueError, match="'nope'.*eager"):
        unmet_requirement("nope", "cpu", "fp32")
    with pytest.raises(ValueError, match="'fp8'"):
        unmet_requirement("eager", "cpu", "fp8")


def test_check_flags_wrong_values_shapes_and_nans():
    ref = torch.tensor([[1.0, -2.0, 4.0]])
    eps = 2.0**-16  # exact in fp32 at these magnitudes
    ok = check_output(ref + eps, ref, "fp32")
    assert ok.ok and ok.max_abs_err == eps
    assert ok.max_rel_err == eps / 4  # relative to the reference's largest magnitude
    bad = check_output(ref + 0.01, ref, "fp32")
    assert not bad.ok and "max rel err" in bad.reason
    assert check_output(ref + 0.01, ref, "bf16").ok  # same error is fine at bf16
    assert "shape" in check_output(torch.zeros(1, 4), ref, "fp32").reason
    assert "NaN" in check_output(torch.full((1, 3), float("nan")), ref, "fp32").reason
    assert check_output([ref.numpy()], ref, "fp32").ok  # ONNX Runtime style output
