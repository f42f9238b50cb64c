"""Params, MACs and depth of every bundled preset against DESIGN.md's table, torchvision and the paper."""

from __future__ import annotations

from pathlib import Path

import pytest

from resgraph.graph import compile_spec, run_passes
from resgraph.graph.ir import MACS, PARAMS
from resgraph.spec import load_spec, preset_names

# DESIGN.md: params exact; MACs at 224x224 (conv + fc multiply-accumulates) within 0.1%.
IMAGENET = {
    "resnet18": (11_689_512, 1.814e9),
    "resnet34": (21_797_672, 3.664e9),
    "resnet50": (25_557_032, 4.089e9),
    "resnet101": (44_549_160, 7.801e9),
    "resnet152": (60_192_808, 11.514e9),
}
# DESIGN.md / paper Table 6: CIFAR-10 ResNets with option A shortcuts.
CIFAR = {"resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018,
         "resnet110": 1_727_962, "resnet1202": 19_421_274}
DEPTHS = {"resnet18": 18, "resnet34": 34, "resnet50": 50, "resnet101": 101, "resnet152": 152,
          "resnet20": 20, "resnet32": 32, "resnet44": 44, "resnet56": 56, "resnet110": 110, "resnet1202": 1202,
          "plain18": 18, "plain34": 34, "plain20": 20, "plain56": 56, "plain110": 110,
          "resnet18_A": 18, "resnet18_C": 18, "resnet34_A": 34, "resnet34_C": 34,
          # the design space: a deep stem adds two weighted layers; attention gates are not counted
          "resnext50_32x4d": 50, "resnext101_32x8d": 101, "resnext101_64x4d": 101, "wide_resnet50_2": 50,
          "wide_resnet101_2": 101, "resnet50d": 52, "seresnet50": 50, "seresnext50_32x4d": 50, "ecaresnet50d": 52,
          "resnetv2_50": 50, "resnetv2_50d": 52, "preact_resnet164": 164, "preact_resnet110": 110}


def analysed(ref: str | Path):
    return run_passes(compile_spec(load_spec(ref)))


def shortcut_totals(g) -> tuple[int, int]:
    """Params and MACs of the shortcut path (projections; option A is free)."""
    nodes = [a for _, a in g.nodes(data=True) if a["role"] == "shortcut"]
    return sum(a[PARAMS] for a in nodes), sum(a[MACS] for a in nodes)


def test_every_preset_is_covered():
    assert set(preset_names()) == set(DEPTHS)


@pytest.mark.parametrize("name", sorted(IMAGENET))
def test_imagenet_presets_match_design_table(name):
    params, macs = IMAGENET[name]
    g = analysed(name)
    assert g.graph[PARAMS] == params
    assert g.graph[MACS] == pytest.approx(macs, rel=1e-3)


@pytest.mark.parametrize("name", sorted(CIFAR))
def test_cifar_option_a_params_exact(name):
    assert analysed(name).graph[PARAMS] == CIFAR[name]


@pytest.mark.parametrize("name", sorted(DEPTHS))
def test_depth_counts_weighted_layers(name):
    g = analysed(name)
    assert g.graph["depth"] == DEPTHS[name] == load_spec(name).depth


@pytest.mark.parametrize("plain,residual", [("plain18", "resnet18"), ("plain34", "resnet34"),
                                            ("plain20", "resnet20"), ("plain56", "resnet56"),
                                            ("plain110", "resnet110")])
def test_plain_twin_is_the_residual_net_minus_its_shortcuts(plain, residual):
    p, r = analysed(plain), analysed(residual)
    sp, sm = shortcut_totals(r)
    assert p.graph[PARAMS] == r.graph[PARAMS] - sp
    assert p.graph[MACS] == r.graph[MACS] - sm
    assert not any(a["op"] in ("add", "shortcut_a") for _, a in p.nodes(data=True))


def test_option_a_is_parameter_free_so_plain18_equals_resnet18_a():
    p, a = analysed("plain18"), analysed("resnet18_A")
    assert (p.graph[PARAMS], p.graph[MACS]) == (a.graph[PARAMS], a.graph[MACS]) == (11_515_688, 1_794_805_760)
    assert shortcut_totals(a) == (0, 0)


@pytest.mark.parametrize("net", ["resnet18", "resnet34"])
def test_shortcut_options_order_a_b_c(net):
    a, b, c = (analysed(f"{net}{suffix}") for suffix in ("_A", "", "_C"))
    assert a.graph[PARAMS] < b.graph[PARAMS] < c.graph[PARAMS]
    assert a.graph[MACS] < b.graph[MACS] < c.graph[MACS]
    # B adds one projection per stage change (3), C one per block.
    assert b.graph[PARAMS] - a.graph[PARAMS] == sum(
        a_[PARAMS] for _, a_ in b.nodes(data=True) if a_["role"] == "shortcut")


def test_paper_stride_placement_costs_fewer_macs_than_v1_5(tmp_path):
    spec = tmp_path / "r50_paper.yaml"
    spec.write_text("extends: resnet50\nname: resnet50_paper\nblock: {stride_at: 1x1}\n")
    paper, v15 = analysed(spec), analysed("resnet50")
    assert paper.graph[PARAMS] == v15.graph[PARAMS]
    assert paper.graph[MACS] == pytest.approx(3.86e9, rel=2e-3)
    assert v15.graph[MACS] == pytest.approx(4.09e9, rel=2e-3)
    assert paper.graph[MACS] < v15.graph[MACS]


def test_params_do_not_depend_on_input_size_but_macs_do(tmp_path):
    spec = tmp_path / "r18_448.yaml"
    spec.write_text("extends: resnet18\nname: r18_448\ninput: {size: 448}\n")
    big, base = analysed(spec), analysed("resnet18")
    assert big.graph[PARAMS] == base.graph[PARAMS]
    fc = 512 * 1000
    assert big.graph[MACS] - fc == 4 * (base.graph[MACS] - fc)  # every conv sees 4x the pixels


# --- against torchvision ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_params_and_macs_match_torchvision(name):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):  # shapes and counts only: no weights initialised, no arithmetic done
        model = getattr(torchvision.models, name)(weights=None).eval()
    g = analysed(name)
    assert g.graph[PARAMS] == sum(p.numel() for p in model.parameters())
    # Per module: every weighted node is the torchvision module of the same name with the same count.
    modules = dict(model.named_modules())
    for n, a in g.nodes(data=True):
        if a["op"] in ("conv", "bn", "linear"):
            assert a[PARAMS] == sum(p.numel() for p in modules[n].parameters()), n
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224, device="meta"))
    assert g.graph[MACS] == counter.get_total_flops() // 2  # FLOPs there count a multiply-add as 2
