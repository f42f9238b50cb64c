"""Appends IR nodes to a graph; the kinds' emitters and the compiler write through it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

Role = str  # "trunk", "branch" (residual branch F), "shortcut", "attention" (a gate inside the branch)


@dataclass
class Builder:
    """Adds nodes under the current ``stage`` and ``block``; node ids are module scopes."""

    g: nx.DiGraph = field(default_factory=nx.DiGraph)
    stage: int | None = -1
    block: str | None = None

    def add(self, scope: str, op: str, inputs: list[str], role: Role = "trunk", **attrs: Any) -> str:
        # Two nodes with one scope would silently merge: a kind that names two ops alike is a bug.
        if scope in self.g:
            raise ValueError(f"IR scope {scope!r} is emitted twice")
        self.g.add_node(scope, op=op, scope=scope, block=self.block, stage=self.stage, role=role, **attrs)
        for port, src in enumerate(inputs):
            self.g.add_edge(src, scope, port=port)
        return scope

    def conv(self, scope: str, x: str, c_in: int, c_out: int, k: int, s: int = 1, groups: int = 1,
             role: Role = "trunk", bias: bool = False, zero_init: bool = False) -> str:
        """A k x k conv padded by k // 2 (so stride 1 keeps the size)."""
        return self.add(scope, "conv", [x], role, c_in=c_in, c_out=c_out, kernel=k, stride=s, padding=k // 2,
                        groups=groups, bias=bias, zero_init=zero_init)

    def bn(self, scope: str, x: str, c: int, role: Role = "trunk", zero_init: bool = False) -> str:
        return self.add(scope, "bn", [x], role, c_in=c, c_out=c, zero_init=zero_init)

    def relu(self, scope: str, x: str, role: Role = "trunk") -> str:
        return self.add(scope, "relu", [x], role)
