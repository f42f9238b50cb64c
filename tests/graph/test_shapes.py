"""Shape inference on square, non-square and unusual inputs, checked against torch where it computes them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from resgraph.graph import compile_spec, infer_shapes, run_passes
from resgraph.graph.analyze import analyze
from resgraph.graph.ir import ACT_BYTES, MACS, PARAMS, SHAPE
from resgraph.spec import load_spec
from resgraph.spec.checks import check_spec
from resgraph.spec.model import ResNetSpec


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_resnet50_shapes_follow_table_1():
    g = compile_spec(load_spec("resnet50"))
    shapes = infer_shapes(g)
    assert shapes["conv1"] == (64, 112, 112)
    assert shapes["maxpool"] == (64, 56, 56)
    assert shapes["layer1.2.relu3"] == (256, 56, 56)
    assert shapes["layer2.0.conv2"] == (128, 28, 28)  # v1.5: the 3x3 downsamples
    assert shapes["layer2.0.downsample.1"] == (512, 28, 28)
    assert shapes["layer4.2.relu3"] == (2048, 7, 7)
    assert shapes["avgpool"] == (2048, 1, 1)
    assert shapes["flatten"] == (2048,)
    assert shapes["fc"] == shapes["output"] == (1000,)
    assert all(g.nodes[n][SHAPE] == s for n, s in shapes.items())


def test_paper_stride_placement_downsamples_in_the_first_1x1(tmp_path):
    g = compile_spec(load_spec(spec_file(tmp_path, "extends: resnet50\nname: p\nblock: {stride_at: 1x1}\n")))
    shapes = infer_shapes(g)
    assert shapes["layer2.0.conv1"] == (128, 28, 28)
    assert shapes["layer2.0.conv2"] == (128, 28, 28)


def test_non_square_input_matches_torchvision(tmp_path):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    g = compile_spec(load_spec(spec_file(tmp_path, "extends: resnet18\nname: odd\ninput: {size: [97, 131]}\n")))
    shapes = infer_shapes(g)
    with torch.device("meta"):
        model = torchvision.models.resnet18(weights=None).eval()
    seen: dict[str, tuple[int, ...]] = {}
    for name in ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4", "layer2.0.downsample"):
        model.get_submodule(name).register_forward_hook(
            lambda m, i, o, name=name: seen.__setitem__(name, tuple(o.shape[1:])))
    model(torch.zeros(1, 3, 97, 131, device="meta"))
    assert seen["conv1"] == shapes["conv1"] == (64, 49, 66)
    assert seen["maxpool"] == shapes["maxpool"] == (64, 25, 33)
    for i in range(1, 5):
        assert seen[f"layer{i}"] == shapes[f"layer{i}.1.relu2"]
    assert seen["layer2.0.downsample"] == shapes["layer2.0.downsample.1"]
    assert shapes["layer4.1.relu2"] == (512, 4, 5)


def test_one_channel_64x64_five_stages(tmp_path):
    text = """
name: five
input: {channels: 1, size: 64}
stem: cifar
shortcut: B
stages:
  - {blocks: 1, width: 8}
  - {blocks: 2, width: 16, stride: 2}
  - {blocks: 1, width: 32, stride: 2}
  - {blocks: 1, width: 64, stride: 2}
  - {blocks: 1, width: 128, stride: 2}
head: {classes: 7}
"""
    s = analyze(compile_spec(load_spec(spec_file(tmp_path, text))))
    assert s.input_shape == (1, 64, 64)
    assert [st.name for st in s.stages] == ["stem", "layer1", "layer2", "layer3", "layer4", "layer5", "head"]
    assert [st.output_shape for st in s.stages] == [
        (16, 64, 64), (8, 64, 64), (16, 32, 32), (32, 16, 16), (64, 8, 8), (128, 4, 4), (7,)]
    assert [st.blocks for st in s.stages] == [0, 1, 2, 1, 1, 1, 0]
    assert s.output_shape == (7,)
    assert s.depth == 2 + 2 * 6
    # stem conv: 16 * 1 * 9 weights + BN 2 * 16.
    assert s.stages[0].params == 16 * 9 + 32


def test_option_a_shortcut_subsamples_with_ceil_on_odd_sizes(tmp_path):
    torch = pytest.importorskip("torch")
    g = run_passes(compile_spec(load_spec(spec_file(
        tmp_path, "extends: resnet20\nname: odd\ninput: {size: [33, 35]}\n"))))  # lint: add shapes agree
    sc = g.nodes["layer2.0.shortcut"]
    assert sc[SHAPE] == (32, 17, 18)
    assert tuple(torch.zeros(16, 33, 35)[:, ::2, ::2].shape[1:]) == sc[SHAPE][1:]
    assert g.nodes["layer2.0.conv1"][SHAPE] == sc[SHAPE]
    assert g.nodes["layer3.0.shortcut"][SHAPE] == (64, 9, 9)


def test_activation_bytes_scale_with_batch_and_dtype():
    g = run_passes(compile_spec(load_spec("resnet20")))
    fp32 = g.graph[ACT_BYTES]
    assert g.nodes["conv1"][ACT_BYTES] == 16 * 32 * 32 * 4
    assert fp32 == sum(a[ACT_BYTES] for _, a in g.nodes(data=True) if a["op"] not in ("input", "output"))
    run_passes(g, batch=8, dtype_bytes=2)
    assert g.graph[ACT_BYTES] == fp32 * 8 // 2
    assert g.nodes["input"][ACT_BYTES] == 8 * 3 * 32 * 32 * 2


# --- random specs: invariants hold and totals add up --------------------------------------------


@st.composite
def specs(draw) -> ResNetSpec:
    n_stages = draw(st.integers(1, 5))
    stages = [{"blocks": draw(st.integers(1, 3)), "width": draw(st.sampled_from([4, 8, 12, 16])) * (i + 1),
               "stride": 1 if i == 0 else draw(st.integers(1, 3))} for i in range(n_stages)]
    data = {
        "name": "random",
        "input": {"channels": draw(st.integers(1, 4)),
                  "size": [draw(st.integers(8, 80)), draw(st.integers(8, 80))]},
        "stem": draw(st.sampled_from(["cifar", "imagenet"])),
        "block": draw(st.sampled_from(["basic", "bottleneck"])),
        "shortcut": draw(st.sampled_from(["A", "B", "C"])),
        "residual": draw(st.booleans()),
        "stages": stages,
        "head": {"classes": draw(st.integers(1, 20))},
    }
    spec = ResNetSpec.model_validate(data)
    assume(not [f for f in check_spec(spec) if f.severity == "error"])
    return spec


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_random_specs_lint_clean_and_add_up(spec):
    s = analyze(compile_spec(spec))
    assert s.depth == spec.depth
    assert sum(st.params for st in s.stages) == s.params
    assert sum(st.macs for st in s.stages) == s.macs
    assert sum(st.activations_bytes for st in s.stages) == s.activations_bytes
    assert s.output_shape == (spec.head.classes,)
    h, w = spec.input.hw
    for st_ in s.stages[1:-1]:  # each stage's size is ceil(previous / stride) for padded 3x3 convs
        stride = spec.stages[st_.index].stride
        assert st_.output_shape[0] == spec.stage_out_channels(st_.index)
        prev = s.stages[st_.index].output_shape  # stages[0] is the stem
        assert st_.output_shape[1:] == (math.ceil(prev[1] / stride), math.ceil(prev[2] / stride))
    if spec.stem.type == "imagenet":  # 7x7/2 conv then 3x3/2 max-pool, both padded: ceil twice
        h, w = math.ceil(math.ceil(h / 2) / 2), math.ceil(math.ceil(w / 2) / 2)
    assert s.stages[0].output_shape == (spec.stem.out_channels, h, w)


def test_head_and_stem_params_counted_once():
    g = run_passes(compile_spec(load_spec("resnet18")))
    per_node = sum(a[PARAMS] for _, a in g.nodes(data=True))
    assert per_node == g.graph[PARAMS]
    assert g.nodes["fc"][PARAMS] == 512 * 1000 + 1000
    assert g.nodes["fc"][MACS] == 512 * 1000
    assert g.nodes["bn1"][PARAMS] == 128 and g.nodes["bn1"][MACS] == 0
