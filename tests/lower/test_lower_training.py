"""Training works: gradients for every parameter, BN statistics, torch.compile, torch.export."""

from __future__ import annotations

import shutil
import time

import pytest
import torch
from lower_helpers import rel_err
from torch import nn

from resgraph.lower import build_model

# A CIFAR ResNet-8 (one option-A block per stage): the smallest net with every op kind.
RESNET8 = "extends: resnet20\nname: resnet8\nstages: [{blocks: 1}, {blocks: 1}, {blocks: 1}]\n"


@pytest.fixture
def resnet8(tmp_path):
    f = tmp_path / "resnet8.yaml"
    f.write_text(RESNET8)
    return str(f)


@pytest.mark.parametrize("name", ["resnet20", "plain20", "resnet18_C"])
def test_backward_reaches_every_parameter_and_bn_updates_its_stats(name):
    model = build_model(name, seed=0).train()
    size = 32 if "20" in name else 64
    x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in model.named_buffers()}
    loss = nn.functional.cross_entropy(model(x), torch.arange(4))
    loss.backward()
    for k, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), k
        assert p.grad.abs().sum() > 0, k
    for k, b in model.named_buffers():
        if k.endswith("num_batches_tracked"):
            assert b.item() == 1, k
        else:
            assert not torch.equal(b, before[k]), k  # running_mean / running_var moved


def test_a_few_sgd_steps_fit_one_batch():
    model = build_model("resnet20", seed=0).train()
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 3, 32, 32, generator=gen), torch.randint(0, 10, (8,), generator=gen)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_torch_export_with_dynamic_batch():
    model = build_model("resnet20", seed=0).eval()
    x = torch.randn(2, 3, 32, 32)
    ep = torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    with torch.no_grad():
        for b in (1, 5):
            xb = torch.randn(b, 3, 32, 32)
            assert rel_err(ep.module()(xb), model(xb)) <= 1e-5


def test_torch_export_of_a_training_graph(resnet8):
    model = build_model(resnet8, seed=0).train()
    ep = torch.export.export(model, (torch.randn(2, 3, 32, 32),))
    ops = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert any("batch_norm" in op for op in ops)


def test_torch_compile_traces_a_training_step(resnet8):
    # aot_eager: Dynamo capture + AOTAutograd's joint forward/backward graph, without codegen.
    model = build_model(resnet8, seed=0).train()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ref_model = build_model(resnet8, seed=0).train()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    loss = compiled(x).square().mean()
    loss.backward()
    ref_loss = ref_model(x).square().mean()
    ref_loss.backward()
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-5)
    assert rel_err(model.fc.weight.grad, ref_model.fc.weight.grad) <= 1e-4


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                    reason="torch.compile's CPU inductor needs a C++ compiler")
def test_torch_compile_inductor_cpu(resnet8):
    # ~20-25 s cold on 2 cores, mostly compiling C++ kernels.
    model = build_model(resnet8, seed=0).eval()
    x = torch.randn(4, 3, 32, 32)
    t0 = time.perf_counter()
    compiled = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        out = compiled(x)
        ref = model(x)
    assert rel_err(out, ref) <= 1e-4
    assert time.perf_counter() - t0 < 300
