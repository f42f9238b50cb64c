"""Data-free probes at initialisation, per residual block: what makes deep plain networks hard to train.

Three figures per block, on a seeded random batch with BatchNorm in training mode:

- ``act_std``: the standard deviation of the block's output (the paper's Fig. 7 looks at responses);
- ``grad_norm``: the norm of the loss gradient that reaches the block's output, per image;
- ``grad_corr``: the correlation between the input gradients of two nearby inputs,
  d<r, h(x)>/dx at x and at x + eps * noise, for a fixed random direction r
  ("shattered gradients", Balduzzi et al. 2017): near 1 the gradient is a smooth
  function of the input, near 0 it is white noise that SGD cannot follow.

The probe taps the lowered module's own fx graph at each block's last op, so
it measures the very network that trains, not a re-implementation.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import torch
from torch import fx, nn

from resgraph.graph.passes import topo_order

__all__ = ["block_outputs", "probe_blocks"]

EPS = 0.1  # relative size of the perturbation between the two inputs of a pair


def block_outputs(g: nx.DiGraph) -> list[tuple[str, str, int]]:
    """(block scope, scope of its last op, stage) of every residual block, in network order."""
    last: dict[str, tuple[str, int]] = {}
    for n in topo_order(g):
        a = g.nodes[n]
        if a.get("block"):
            last[a["block"]] = (n, a.get("stage", 0))  # dicts keep first-insertion order: blocks in order
    return [(b, n, s) for b, (n, s) in last.items()]


def tapped(gm: fx.GraphModule, scopes: list[str]) -> fx.GraphModule:
    """A copy of ``gm`` that also returns each named op's output (a clone the rest of the net then uses).

    The clone sits between the op and its users, so a later in-place op (``add_``, ``relu_``)
    cannot change what was tapped, and gradients with respect to it are the real ones.
    """
    graph = fx.Graph()
    result = graph.graph_copy(gm.graph, {})  # every node but the output; returns what it returned
    nodes = {n.name: n for n in graph.nodes}
    taps = []
    for scope in scopes:
        node = nodes[scope.replace(".", "_")]
        with graph.inserting_after(node):
            tap = graph.call_method("clone", (node,))
        node.replace_all_uses_with(tap, delete_user_cb=lambda user, t=tap: user is not t)
        taps.append(tap)
    graph.output((result, *taps))
    return fx.GraphModule(gm, graph)


def probe_blocks(gm: fx.GraphModule, g: nx.DiGraph, input_shape: tuple[int, int, int], classes: int, *,
                 batch: int = 32, pairs: int = 8, seed: int = 0) -> list[dict[str, Any]]:
    """One row per block: ``block`` (1-based), ``scope``, ``stage``, ``act_std``, ``grad_norm``, ``grad_corr``."""
    with torch.random.fork_rng(devices=[]):  # stochastic depth draws from the global generator: seed it too
        torch.manual_seed(seed)
        return _probe(gm, g, input_shape, classes, batch, pairs, seed)


def _probe(gm: fx.GraphModule, g: nx.DiGraph, input_shape: tuple[int, int, int], classes: int, batch: int,
           pairs: int, seed: int) -> list[dict[str, Any]]:
    blocks = block_outputs(g)
    net = tapped(gm, [n for _, n, _ in blocks]).train()
    gen = torch.Generator().manual_seed(seed)
    rows = [{"block": i, "scope": b, "stage": s} for i, (b, _, s) in enumerate(blocks, 1)]

    x = torch.randn(batch, *input_shape, generator=gen)
    y = torch.randint(0, classes, (batch,), generator=gen)
    logits, *hs = net(x)
    grads = torch.autograd.grad(nn.functional.cross_entropy(logits, y, reduction="sum"), hs)
    for row, h, gr in zip(rows, hs, grads, strict=False):
        row["act_std"] = float(h.detach().std())
        row["grad_norm"] = float(gr.flatten(1).norm(dim=1).mean())

    base = torch.randn(pairs, *input_shape, generator=gen)
    near = base + EPS * torch.randn(pairs, *input_shape, generator=gen)
    xs = torch.cat([base, near]).requires_grad_(True)
    _, *hs = net(xs)
    for row, h in zip(rows, hs, strict=False):
        r = torch.randn(h.shape[1:], generator=gen)  # one fixed direction per block, the same for every input
        (gx,) = torch.autograd.grad((h * r).sum(), xs, retain_graph=True)
        row["grad_corr"] = _pearson(gx[:pairs].flatten(1), gx[pairs:].flatten(1))
    return rows


def _pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over rows of the Pearson correlation between ``a[i]`` and ``b[i]``."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return float(((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-30)).mean())
