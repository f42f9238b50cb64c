"""The generated GraphModule: one fx node per IR node, torchvision names, option A, plain nets."""

from __future__ import annotations

import copy
import operator

import networkx as nx
import pytest
import torch
import torch.fx as fx
from torch import nn

from resgraph.graph import GraphLintError, compile_spec
from resgraph.graph.ir import ops_in_order
from resgraph.lower import build_model, lower_graph, shortcut_a
from resgraph.spec import load_spec


def test_one_fx_node_per_ir_node_in_ir_order():
    g = compile_spec(load_spec("resnet18"))
    gm = build_model(g, device="meta")
    fx_nodes = list(gm.graph.nodes)
    assert len(fx_nodes) == g.number_of_nodes()
    mapped = [n.meta.get("ir_node", "output" if n.op == "output" else None) for n in fx_nodes]
    assert mapped == ops_in_order(g)


def test_forward_is_flat_calls_to_leaf_modules_only():
    gm = build_model("resnet50", device="meta")
    leaves = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Linear)
    called = [gm.get_submodule(n.target) for n in gm.graph.nodes if n.op == "call_module"]
    assert called and all(isinstance(m, leaves) for m in called)
    assert len(called) == len({n.target for n in gm.graph.nodes if n.op == "call_module"})  # each called once


def test_generated_code_names_and_inplace_ops():
    code = build_model("resnet18", device="meta").code
    assert "def forward(self, x):" in code
    assert "relu = bn1.relu_()" in code
    assert "layer1_0_add = layer1_0_bn2.add_(maxpool)" in code  # branch + shortcut, port order
    assert "layer2_0_add = layer2_0_bn2.add_(layer2_0_downsample_1)" in code
    assert "flatten = torch.flatten(avgpool, 1)" in code


@pytest.mark.parametrize("name", ["resnet18", "resnet20", "plain20", "resnet50"])
def test_forward_leaves_its_input_untouched(name):
    # ReLU and add run in place; they must never write into the caller's tensor.
    model = build_model(name, seed=0).eval()
    c, h, w = compile_spec(load_spec(name)).graph["input_shape"]
    x = torch.randn(1, c, min(h, 64), min(w, 64))
    before = x.clone()
    with torch.no_grad():
        model(x)
    assert torch.equal(x, before)


def test_option_a_is_a_parameter_free_function_node():
    g = compile_spec(load_spec("resnet20"))
    gm = build_model(g, device="meta")
    calls = [n for n in gm.graph.nodes if n.target is shortcut_a]
    assert [n.name for n in calls] == ["layer2_0_shortcut", "layer3_0_shortcut"]
    assert calls[0].kwargs == {"c_in": 16, "c_out": 32, "stride": 2}
    assert not any("shortcut" in k or "downsample" in k for k in gm.state_dict())
    assert sum(p.numel() for p in gm.parameters()) == 269_722  # paper Table 6: 0.27M


def test_shortcut_a_subsamples_then_zero_pads_identity_first():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    y = shortcut_a(x, c_in=3, c_out=5, stride=2)
    assert y.shape == (2, 5, 2, 2)
    assert torch.equal(y[:, :3], x[:, :, ::2, ::2])
    assert torch.equal(y[:, 3:], torch.zeros(2, 2, 2, 2))
    assert shortcut_a(x, 3, 3, 1) is x


@pytest.mark.parametrize("name", ["plain18", "plain20", "plain34"])
def test_plain_nets_lower_without_shortcuts(name):
    gm = build_model(name, device="meta")
    targets = [n.target for n in gm.graph.nodes]
    assert "add_" not in targets and operator.add not in targets and shortcut_a not in targets
    twin = build_model(name.replace("plain", "resnet"), device="meta")
    shortcut_params = sum(p.numel() for k, p in twin.named_parameters() if ".downsample." in k)
    assert sum(p.numel() for p in gm.parameters()) == sum(p.numel() for p in twin.parameters()) - shortcut_params


def test_bottleneck_stride_on_1x1_is_the_papers_original(tmp_path):
    f = tmp_path / "r50_1x1.yaml"
    f.write_text("extends: resnet50\nname: resnet50_1x1\nblock: {stride_at: 1x1}\n")
    gm = build_model(load_spec(str(f)), device="meta")
    assert gm.get_submodule("layer2.0.conv1").stride == (2, 2)
    assert gm.get_submodule("layer2.0.conv2").stride == (1, 1)
    v15 = build_model("resnet50", device="meta")
    assert v15.get_submodule("layer2.0.conv1").stride == (1, 1)
    assert v15.get_submodule("layer2.0.conv2").stride == (2, 2)


def test_accepts_spec_graph_and_name():
    spec = load_spec("resnet20")
    keys = {tuple(build_model(x, device="meta").state_dict()) for x in (spec, compile_spec(spec), "resnet20")}
    assert len(keys) == 1
    with pytest.raises(TypeError, match="received int"):
        build_model(3)  # type: ignore[arg-type]


def test_lower_graph_lints_first_and_names_the_node():
    g = compile_spec(load_spec("resnet20"))
    g.nodes["layer1.0.relu1"]["op"] = "gelu"
    with pytest.raises(GraphLintError, match=r"'layer1.0.relu1': unknown op 'gelu'"):
        lower_graph(g)
    g = compile_spec(load_spec("resnet20"))
    g.nodes["layer2.0.shortcut"]["c_out"] = 64  # would break only at forward, at the add
    with pytest.raises(GraphLintError, match=r"'layer2.0.add': add operands differ in shape"):
        build_model(g)


def test_meta_device_allocates_nothing():
    gm = build_model("resnet152", device="meta")
    assert all(p.is_meta for p in gm.parameters())


def test_deepcopy_pickle_and_retrace_keep_outputs():
    model = build_model("resnet20", seed=0).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
        assert torch.equal(copy.deepcopy(model)(x), ref)
        assert torch.equal(fx.symbolic_trace(model)(x), ref)  # other fx tools can re-trace it


def test_values_with_other_readers_are_never_overwritten():
    # x feeds both the ReLU and the add's branch port: both must run out of place.
    g = nx.DiGraph(name="tiny", input_shape=(2, 3, 3))
    for name, op in [("input", "input"), ("r", "relu"), ("sum", "add"), ("output", "output")]:
        g.add_node(name, op=op, scope=name)
    g.nodes["input"]["shape"] = (2, 3, 3)
    g.add_edge("input", "r", port=0)
    g.add_edge("input", "sum", port=0)
    g.add_edge("r", "sum", port=1)
    g.add_edge("sum", "output", port=0)
    gm = lower_graph(g)
    assert "r = torch.relu(x)" in gm.code and "sum_1 = x + r" in gm.code
    x = torch.randn(1, 2, 3, 3)
    before = x.clone()
    assert torch.equal(gm(x), before + before.relu())
    assert torch.equal(x, before)


def test_modules_copied_from_a_template_share_nothing():
    from resgraph.lower.lowerings import meta_module

    a, b = meta_module(nn.BatchNorm2d, 8), meta_module(nn.BatchNorm2d, 8)
    assert type(a) is nn.BatchNorm2d and a.num_features == 8 and a.weight.device.type == "meta"
    for x, y in ((a._parameters, b._parameters), (a._buffers, b._buffers), (a._forward_hooks, b._forward_hooks)):
        assert x is not y
    assert a.weight is not b.weight and a.running_mean is not b.running_mean
    a.register_forward_hook(lambda *args: None)
    assert not b._forward_hooks
    m = build_model("resnet20", seed=0)
    w1, w2 = m.get_submodule("layer1.0.conv1").weight, m.get_submodule("layer1.1.conv1").weight
    assert w1.data_ptr() != w2.data_ptr() and not torch.equal(w1, w2)  # allocated and drawn apiece


def test_every_ir_op_has_exactly_one_lowering():
    from resgraph.graph.ops import OPS
    from resgraph.lower.lowerings import LOWERINGS

    assert list(LOWERINGS) == list(OPS)  # same ops, in the op table's order: a new OpDef needs its lowering


def test_an_op_without_a_lowering_is_an_error_naming_the_op_and_node(monkeypatch):
    from resgraph.lower.lowerings import LOWERINGS, NoLoweringError

    monkeypatch.delitem(LOWERINGS, "shortcut_a")
    with pytest.raises(NoLoweringError, match=r"IR node 'layer2.0.shortcut': op 'shortcut_a' has no lowering"):
        build_model("resnet20", device="meta")
