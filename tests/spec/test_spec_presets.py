"""Bundled presets: every one validates, loads by name, and says what the paper says."""

from __future__ import annotations

import pytest
from spec_helpers import PRESET_FILES, SPECS_DIR, run_cli

import resgraph
from resgraph.spec import ResNetSpec, load_spec, preset_names
from resgraph.spec.dump import spec_data
from resgraph.spec.loader import validate_source
from resgraph.spec.source import parse_source

IMAGENET = {  # name: (block, blocks per stage, depth)
    "resnet18": ("basic", [2, 2, 2, 2], 18),
    "resnet34": ("basic", [3, 4, 6, 3], 34),
    "resnet50": ("bottleneck", [3, 4, 6, 3], 50),
    "resnet101": ("bottleneck", [3, 4, 23, 3], 101),
    "resnet152": ("bottleneck", [3, 8, 36, 3], 152),
}
CIFAR_DEPTHS = [20, 32, 44, 56, 110, 1202]
PLAIN = {"plain18": "resnet18", "plain34": "resnet34", "plain20": "resnet20", "plain56": "resnet56",
         "plain110": "resnet110"}
OPTIONS = {"resnet18_A": ("resnet18", "A"), "resnet18_C": ("resnet18", "C"),
           "resnet34_A": ("resnet34", "A"), "resnet34_C": ("resnet34", "C")}
# The design space beyond the paper: checked against torchvision and timm in tests/lower/test_lower_anchors.py.
DESIGN_SPACE = {"resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
                "resnet50d", "seresnet50", "seresnext50_32x4d", "ecaresnet50d", "resnetv2_50", "resnetv2_50d",
                "preact_resnet164", "preact_resnet110"}


def test_the_issues_list_exactly_the_bundled_presets():
    expected = {*IMAGENET, *(f"resnet{d}" for d in CIFAR_DEPTHS), *PLAIN, *OPTIONS, *DESIGN_SPACE}
    assert set(preset_names()) == expected
    assert {p.stem for p in PRESET_FILES} == expected


def test_validate_all_preset_files_exits_0_with_one_ok_line_each():
    run = run_cli("validate", *map(str, PRESET_FILES))
    assert run.code == 0, run.output
    ok_lines = [ln for ln in run.stdout.splitlines() if ln.startswith("ok ")]
    assert len(ok_lines) == len(PRESET_FILES) == 33
    for path, line in zip(PRESET_FILES, ok_lines, strict=False):
        assert f" {path}: {path.stem}, depth " in line
    assert f"{len(PRESET_FILES)} of {len(PRESET_FILES)} valid" in run.stdout
    assert run.stderr == ""  # no diagnostics, not even warnings


def test_validate_presets_by_name():
    run = run_cli("validate", *preset_names())
    assert run.code == 0, run.output
    ok_lines = [ln for ln in run.stdout.splitlines() if ln.startswith("ok ")]
    assert [ln.split()[1].rstrip(":") for ln in ok_lines] == preset_names()


@pytest.mark.parametrize("name", sorted({p.stem for p in PRESET_FILES}))
def test_every_preset_loads_by_name_and_by_path(name):
    spec = load_spec(name)
    assert isinstance(spec, ResNetSpec)
    assert spec.name == name
    assert load_spec(SPECS_DIR / f"{name}.yaml") == spec
    assert load_spec(str(SPECS_DIR / f"{name}.yaml")) == spec


@pytest.mark.parametrize("name", IMAGENET)
def test_imagenet_presets_match_torchvision(name):
    block, blocks, depth = IMAGENET[name]
    s = load_spec(name)
    assert s.depth == depth
    assert s.block.type == block
    assert [st.blocks for st in s.stages] == blocks
    assert [st.width for st in s.stages] == [64, 128, 256, 512]
    assert [st.stride for st in s.stages] == [1, 2, 2, 2]
    assert all(st.block is None and st.shortcut is None for st in s.stages)
    assert (s.stem.type, s.stem.out_channels) == ("imagenet", 64)
    assert s.input.hw == (224, 224) and s.input.channels == 3
    assert s.residual is True and s.shortcut == "B"
    assert s.head.classes == 1000
    if block == "bottleneck":
        assert s.block.stride_at == "3x3"  # v1.5, as torchvision
        assert (s.block.expansion, s.block.groups, s.block.base_width) == (4, 1, 64)
    assert s.block.attention is None and s.zero_init_residual is False
    out = [s.stage_out_channels(i) for i in range(4)]
    assert out == ([256, 512, 1024, 2048] if block == "bottleneck" else [64, 128, 256, 512])


@pytest.mark.parametrize("depth", CIFAR_DEPTHS)
def test_cifar_presets_are_6n_plus_2_option_a(depth):
    s = load_spec(f"resnet{depth}")
    n = (depth - 2) // 6
    assert s.depth == depth == 6 * n + 2
    assert [st.blocks for st in s.stages] == [n, n, n]
    assert [st.width for st in s.stages] == [16, 32, 64]
    assert [st.stride for st in s.stages] == [1, 2, 2]
    assert (s.stem.type, s.stem.out_channels) == ("cifar", 16)
    assert s.block.type == "basic" and s.shortcut == "A" and s.residual is True
    assert s.head.classes == 10
    assert s.input.hw == (32, 32) and s.input.channels == 3


@pytest.mark.parametrize("plain, twin", PLAIN.items())
def test_plain_twins_are_their_resnet_without_shortcuts(plain, twin):
    p, r = load_spec(plain), load_spec(twin)
    assert p.residual is False and r.residual is True
    assert p.depth == r.depth == int(plain.removeprefix("plain"))
    assert p == r.model_copy(update={"name": plain, "residual": False})


@pytest.mark.parametrize("name, base_option", OPTIONS.items())
def test_shortcut_option_variants_differ_only_in_the_option(name, base_option):
    base, option = base_option
    s, b = load_spec(name), load_spec(base)
    assert s.shortcut == option and b.shortcut == "B"
    assert s == b.model_copy(update={"name": name, "shortcut": option})
    assert all(s.stage_shortcut(i) == option for i in range(len(s.stages)))


def test_presets_command_lists_every_preset():
    run = run_cli("presets")
    assert run.code == 0, run.output
    rows = {ln.split()[0]: ln.split() for ln in run.stdout.splitlines()[1:]}
    assert set(rows) == set(preset_names())
    assert rows["resnet50"][1:5] == ["50", "bottleneck", "imagenet", "B"]
    assert rows["plain20"][1:5] == ["20", "basic", "cifar", "plain"]
    assert rows["resnet1202"][1] == "1202" and rows["resnet1202"][-1] == "10"
    assert rows["ecaresnet50d"][1:5] == ["52", "bottleneck+eca", "deep", "D"]
    assert rows["resnetv2_50"][1:5] == ["50", "preact_bottleneck", "imagenet", "B"]


def test_design_space_presets_say_what_their_papers_say():
    s = load_spec("resnext50_32x4d")
    assert (s.block.type, s.block.groups, s.block.base_width, s.block.stride_at) == ("bottleneck", 32, 4, "3x3")
    assert load_spec("wide_resnet50_2").block.base_width == 128
    d = load_spec("resnet50d")
    assert (d.stem.type, d.stem.out_channels, d.shortcut, d.depth) == ("deep", 64, "D", 52)  # 3 stem convs
    assert load_spec("seresnet50").block.attention.reduction == 16
    assert load_spec("ecaresnet50d").block.attention.type == "eca"
    v2 = load_spec("resnetv2_50")
    assert (v2.block.type, v2.depth) == ("preact_bottleneck", 50)
    p = load_spec("preact_resnet164")
    assert (p.block.stride_at, p.depth, [st.blocks for st in p.stages]) == ("1x1", 164, [18, 18, 18])
    assert (load_spec("preact_resnet110").block.type, load_spec("preact_resnet110").depth) == ("preact_basic", 110)


def test_public_api_load_spec_returns_a_resnet_spec():
    spec = resgraph.load_spec("resnet50")
    assert isinstance(spec, ResNetSpec)
    assert spec == load_spec("resnet50")
    assert spec.depth == 50
    assert load_spec(spec) is spec  # an already-loaded spec passes through


@pytest.mark.parametrize("name", ["resnet34", "resnet50", "resnet110", "plain18"])
def test_show_prints_yaml_that_loads_back_to_the_same_spec(name):
    run = run_cli("show", name)
    assert run.code == 0, run.output
    result = validate_source(parse_source(run.stdout.encode(), "shown.yaml"))
    assert result.diagnostics == []
    assert result.spec == load_spec(name)
    assert "extends" not in run.stdout  # the chain is resolved


def test_show_resnet34_is_fully_explicit():
    run = run_cli("show", "resnet34")
    spec = load_spec("resnet34")
    assert run.stdout.startswith("name: resnet34\n")
    for key in spec_data(spec):
        assert f"\n{key}:" in "\n" + run.stdout
    assert "- {blocks: 6, width: 256, stride: 2}" in run.stdout


def test_show_json_loads_back_to_the_same_spec():
    run = run_cli("show", "--json", "resnet34")
    assert run.code == 0, run.output
    result = validate_source(parse_source(run.stdout.encode(), "shown.json"))
    assert result.spec == load_spec("resnet34")


def test_show_of_a_bad_file_is_one_line_and_exit_2(write):
    path = write("bad.yaml", "name: x\nstages: [{blocks: 0, width: 8}]\n")
    run = run_cli("show", str(path))
    assert run.code == 2
    assert run.stderr == f"{path}:2:11: stages[0].blocks: must be >= 1 (received 0)\n"
    assert "Traceback" not in run.output
