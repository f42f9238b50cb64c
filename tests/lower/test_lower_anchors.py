"""The design space against its anchor libraries: every new preset, and depth variants that are no
preset, build the network torchvision or timm builds: the same parameter count, MACs equal to
PyTorch's FlopCounterMode, the same state_dict keys in the same order, strict loading both ways,
and outputs within 1e-5 with the same weights. Nothing is downloaded (``pretrained=False``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision
from lower_helpers import randomize_bn
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from resgraph.graph import compile_spec
from resgraph.graph.analyze import analyze
from resgraph.lower import build_model
from resgraph.spec import ResNetSpec, load_spec

timm = pytest.importorskip("timm", reason="timm is a test dependency: pip install -e '.[dev]'")
from timm.layers import BatchNormAct2d, create_conv2d  # noqa: E402
from timm.models.resnet import Bottleneck, ResNet  # noqa: E402
from timm.models.resnetv2 import ResNetV2  # noqa: E402

# Preset: (anchor factory, exact parameter count from the issue and the libraries' model cards).
PRESETS: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "resnext50_32x4d": (torchvision.models.resnext50_32x4d, 25_028_904),
    "resnext101_32x8d": (torchvision.models.resnext101_32x8d, 88_791_336),
    "resnext101_64x4d": (torchvision.models.resnext101_64x4d, 83_455_272),
    "wide_resnet50_2": (torchvision.models.wide_resnet50_2, 68_883_240),
    "wide_resnet101_2": (torchvision.models.wide_resnet101_2, 126_886_696),
    **{name: (lambda name=name: timm.create_model(name, pretrained=False), count) for name, count in {
        "resnet50d": 25_576_264, "seresnet50": 28_088_024, "seresnext50_32x4d": 27_559_896,
        "ecaresnet50d": 25_576_350, "resnetv2_50": 25_549_352, "resnetv2_50d": 25_568_584}.items()},
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def flop_macs(factory: Callable[[], nn.Module], size: int) -> int:
    """PyTorch's own count, on the meta device (nothing allocated): multiply-adds = FLOPs // 2."""
    with torch.device("meta"):
        model = factory()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.empty(1, 3, size, size, device="meta"))
    return counter.get_total_flops() // 2


def assert_same_network(spec: ResNetSpec, factory: Callable[[], nn.Module], size: int = 224,
                        test_size: int = 64) -> None:
    """``spec`` lowers to ``factory()``'s network: counts, keys, strict loading, outputs."""
    ours, theirs = build_model(spec, seed=0), factory()
    summary = analyze(compile_spec(spec))
    assert summary.params == n_params(ours) == n_params(theirs)
    assert summary.macs == flop_macs(factory, size)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # same keys, same order
    randomize_bn(theirs, seed=1)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, test_size, test_size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), rtol=1e-5, atol=1e-5)
    randomize_bn(ours, seed=3)  # and back
    theirs.load_state_dict(ours.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_the_anchor_librarys_model(name):
    factory, count = PRESETS[name]
    spec = load_spec(name)
    assert analyze(compile_spec(spec)).params == count
    assert_same_network(spec, factory)


def variant(tmp_path: Path, text: str) -> ResNetSpec:
    path = tmp_path / "variant.yaml"
    path.write_text(text)
    return load_spec(path)


TV = torchvision.models.resnet
V2 = {"conv_layer": create_conv2d, "norm_layer": BatchNormAct2d}

# Depth variants that are no preset: `extends: PRESET` plus new stages, against the library's class.
VARIANTS = {
    "resnext50_32x4d-1231": ("resnext50_32x4d", [1, 2, 3, 1],
                             lambda: TV.ResNet(TV.Bottleneck, [1, 2, 3, 1], groups=32, width_per_group=4)),
    "wide_resnet101_2-2112": ("wide_resnet101_2", [2, 1, 1, 2],
                              lambda: TV.ResNet(TV.Bottleneck, [2, 1, 1, 2], width_per_group=128)),
    "resnet50d-2222 (timm resnet26d)": ("resnet50d", [2, 2, 2, 2], lambda: timm.create_model("resnet26d")),
    "seresnet50-1121": ("seresnet50", [1, 1, 2, 1],
                        lambda: ResNet(Bottleneck, [1, 1, 2, 1], block_args={"attn_layer": "se"})),
    "seresnext50_32x4d-2111": ("seresnext50_32x4d", [2, 1, 1, 1],
                               lambda: ResNet(Bottleneck, [2, 1, 1, 1], cardinality=32, base_width=4,
                                              block_args={"attn_layer": "se"})),
    "ecaresnet50d-1111": ("ecaresnet50d", [1, 1, 1, 1],
                          lambda: ResNet(Bottleneck, [1, 1, 1, 1], stem_width=32, stem_type="deep", avg_down=True,
                                         block_args={"attn_layer": "eca"})),
    "resnetv2_50-2342": ("resnetv2_50", [2, 3, 4, 2], lambda: ResNetV2([2, 3, 4, 2], **V2)),
    "resnetv2_50d-1111": ("resnetv2_50d", [1, 1, 1, 1],
                          lambda: ResNetV2([1, 1, 1, 1], stem_type="deep", avg_down=True, **V2)),
}


@pytest.mark.parametrize("case", VARIANTS)
def test_depth_variant_of_a_preset_is_the_anchors_network_at_that_depth(tmp_path, case):
    preset, blocks, factory = VARIANTS[case]
    stages = ", ".join(f"{{blocks: {n}}}" for n in blocks)
    spec = variant(tmp_path, f"extends: {preset}\nname: v\nstages: [{stages}]\n")
    assert [s.blocks for s in spec.stages] == blocks
    assert_same_network(spec, factory)


def test_preact_basic_blocks_are_timms_resnetv2_18(tmp_path):
    spec = variant(tmp_path, "extends: resnetv2_50\nname: v2_18\nblock: preact_basic\n"
                             "stages: [{blocks: 2}, {blocks: 2}, {blocks: 2}, {blocks: 2}]\n")
    assert_same_network(spec, lambda: ResNetV2([2, 2, 2, 2], channels=(64, 128, 256, 512), basic=True,
                                               bottle_ratio=1.0, **V2))


def test_tiered_stem_is_timms_deep_tiered(tmp_path):
    spec = variant(tmp_path, "extends: resnet50d\nname: t\nstem: tiered\n")
    assert_same_network(spec, lambda: timm.create_model("resnet50t"))


# --- CIFAR pre-activation nets, as the authors' Torch code (KaimingHe/resnet-1k-layers) ------------


class _AuthorsUnit(nn.Module):
    """resnet-pre-act.lua's residual unit: a unit that increases dimensions shares one BN-ReLU
    between its branch and a 1x1 projection (no BN); others keep BN-ReLU inside the branch."""

    def __init__(self, c_in: int, c_out: int, stride: int, bottleneck: bool, stride_on_1x1: bool) -> None:
        super().__init__()
        self.project = c_in != c_out or stride != 1
        self.bn = nn.BatchNorm2d(c_in)
        w = c_out // 4 if bottleneck else c_out
        if bottleneck:
            s1, s3 = (stride, 1) if stride_on_1x1 else (1, stride)
            convs = [nn.Conv2d(c_in, w, 1, s1, bias=False), nn.Conv2d(w, w, 3, s3, 1, bias=False),
                     nn.Conv2d(w, c_out, 1, bias=False)]
        else:
            convs = [nn.Conv2d(c_in, w, 3, stride, 1, bias=False), nn.Conv2d(w, c_out, 3, 1, 1, bias=False)]
        layers: list[nn.Module] = [convs[0]]
        for conv in convs[1:]:
            layers += [nn.BatchNorm2d(conv.in_channels), nn.ReLU(), conv]
        self.convs = nn.Sequential(*layers)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False) if self.project else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = torch.relu(self.bn(x))
        return self.convs(pre) + (self.shortcut(pre) if self.shortcut is not None else x)


def authors_cifar_net(n: int, bottleneck: bool) -> nn.Sequential:
    """ResNet-164 (n=18 bottlenecks) as resnet-pre-act.lua builds it; with basic units, ResNet-110."""
    widths = [64, 128, 256] if bottleneck else [16, 32, 64]
    units: list[nn.Module] = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)]
    c = 16
    for i, w in enumerate(widths):
        for j in range(n):
            units.append(_AuthorsUnit(c, w, 2 if i and not j else 1, bottleneck, stride_on_1x1=True))
            c = w
    return nn.Sequential(*units, nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(c, 10))


def _by_shape_in_module_order(ours: nn.Module, ref: nn.Module) -> None:
    """Copy ``ours``'s parameters and buffers into ``ref`` module by module: the two layouts hold the
    same layers in a different nesting, so pair them by kind and order of use, checking every shape."""
    def layers(m: nn.Module) -> list[nn.Module]:
        return [x for x in m.modules() if isinstance(x, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]

    a, b = layers(ours), layers(ref)
    assert [type(x) for x in a] == [type(x) for x in b]
    for x, y in zip(a, b, strict=False):
        assert x.state_dict().keys() == y.state_dict().keys()
        y.load_state_dict(x.state_dict())


@pytest.mark.parametrize("name, n, bottleneck, count", [
    ("preact_resnet164", 18, True, 1_703_258),
    ("preact_resnet110", 18, False, 1_730_522),
])
def test_cifar_preact_nets_are_the_authors_layout(name, n, bottleneck, count):
    spec = load_spec(name)
    ours, ref = build_model(spec, seed=0), authors_cifar_net(n, bottleneck)
    assert analyze(compile_spec(spec)).params == n_params(ours) == n_params(ref) == count
    assert spec.depth == analyze(compile_spec(spec)).depth == int(name.removeprefix("preact_resnet"))
    assert analyze(compile_spec(spec)).macs == flop_macs(lambda: authors_cifar_net(n, bottleneck), 32)
    randomize_bn(ours, seed=1)
    # Our module order: per unit norm1, [projection], conv1, norm2, conv2, ...; the reference's puts the
    # projection last: reorder ours to match before pairing.
    _by_shape_in_module_order(_authors_order(ours), ref)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), ref.eval()(x), rtol=1e-5, atol=1e-5)


def _authors_order(ours: nn.Module) -> nn.Module:
    """A view of ``ours`` whose modules() list each unit's projection after its convs, as the reference."""
    seq = nn.Sequential()
    seq.add_module("stem", ours.get_submodule("stem.conv"))
    for stage in ours.get_submodule("stages").children():
        for block in stage.get_submodule("blocks").children():
            unit = nn.Module()
            for child, module in block.named_children():
                if child != "downsample":
                    unit.add_module(child, module)
            if hasattr(block, "downsample"):
                unit.add_module("downsample", block.downsample)
            seq.add_module(f"u{len(seq)}", unit)
    seq.add_module("norm", ours.get_submodule("norm"))
    seq.add_module("fc", _Linear1x1(ours.get_submodule("head.fc")))
    return seq


class _Linear1x1(nn.Module):
    """timm's classifier is a 1x1 conv; the authors' is a Linear: the same numbers, another shape."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.linear = nn.Linear(conv.in_channels, conv.out_channels)
        with torch.no_grad():
            self.linear.weight.copy_(conv.weight.flatten(1))
            self.linear.bias.copy_(conv.bias)
