"""Weight compatibility with torchvision: strict state_dict loading both ways, equal outputs and gradients."""

from __future__ import annotations

import pytest
import torch
import torchvision
from lower_helpers import randomize_bn, rel_err
from torch import nn

from resgraph.lower import build_model

IMAGENET = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


@pytest.mark.parametrize("name", IMAGENET)
def test_state_dict_round_trip_and_equal_outputs(name):
    ours = build_model(name, seed=0)
    tv = getattr(torchvision.models, name)()
    assert list(ours.state_dict()) == list(tv.state_dict())  # same keys, same order
    randomize_bn(tv, seed=1)
    ours.load_state_dict(tv.state_dict(), strict=True)
    # 64x64 keeps the heavy nets fast; both end in an adaptive average pool.
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = tv.eval()(x)
        out = ours.eval()(x)
    assert rel_err(out, ref) <= 1e-5

    # And back: torchvision loads our (re-randomised) weights strictly.
    randomize_bn(ours, seed=3)
    tv.load_state_dict(ours.state_dict(), strict=True)
    with torch.no_grad():
        assert rel_err(ours(x), tv(x)) <= 1e-5


def test_training_forward_and_gradients_match_torchvision():
    ours = build_model("resnet18", seed=0)
    tv = torchvision.models.resnet18()
    tv.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([1, 2, 3, 4])
    losses = []
    for m in (ours, tv):
        m.train()
        loss = nn.functional.cross_entropy(m(x), target)
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    tv_params = dict(tv.named_parameters())
    for k, p in ours.named_parameters():
        assert rel_err(p.grad, tv_params[k].grad) <= 1e-4, k
    tv_buffers = dict(tv.named_buffers())
    for k, b in ours.named_buffers():
        assert torch.allclose(b.float(), tv_buffers[k].float(), rtol=1e-5, atol=1e-6), k


def test_initialisation_follows_torchvision():
    model = build_model("resnet50", seed=0)
    conv = model.get_submodule("layer3.0.conv2")  # 256 -> 256, 3x3: fan_out = 2304
    std = (2 / (conv.out_channels * 9)) ** 0.5
    assert conv.weight.std().item() == pytest.approx(std, rel=0.02)
    assert conv.weight.mean().item() == pytest.approx(0, abs=std / 50)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
            assert torch.all(m.running_mean == 0) and torch.all(m.running_var == 1)
            assert m.num_batches_tracked.item() == 0
    fc = model.get_submodule("fc")
    bound = 1 / fc.in_features ** 0.5  # PyTorch's default Linear init
    assert fc.weight.abs().max().item() <= bound and fc.weight.abs().max().item() > 0.99 * bound
    assert fc.bias.abs().max().item() <= bound


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_zero_init_residual_zeroes_the_same_bns_as_torchvision(name, tmp_path):
    f = tmp_path / f"{name}_zero.yaml"
    f.write_text(f"extends: {name}\nname: {name}_zero\nzero_init_residual: true\n")
    ours = build_model(str(f), seed=0)
    tv = getattr(torchvision.models, name)(zero_init_residual=True)

    def zeroed(m: nn.Module) -> set[str]:
        return {k for k, v in m.named_modules() if isinstance(v, nn.BatchNorm2d) and not v.weight.any()}

    assert zeroed(ours) == zeroed(tv)
    assert len(zeroed(ours)) == {"resnet18": 8, "resnet50": 16}[name]  # one per block
    assert not zeroed(build_model(name, seed=0))


def test_seed_is_reproducible_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = build_model("resnet20", seed=7).state_dict()
    b = build_model("resnet20", seed=7).state_dict()
    c = build_model("resnet20", seed=8).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])
