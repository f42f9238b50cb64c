"""Compile a validated spec into the networkx IR (see :mod:`resgraph.graph.ir`).

The builder mirrors torchvision's ``resnet.py`` so that node scopes equal its
module names; pure function of the spec, no torch import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from resgraph.graph.ir import BlockInfo, ShortcutKind
from resgraph.spec.model import ResNetSpec


@dataclass
class _Builder:
    """Appends nodes and wires them; ``prev`` is the node whose output flows on."""

    g: nx.DiGraph = field(default_factory=nx.DiGraph)
    stage: int | None = -1
    block: str | None = None

    def add(self, scope: str, op: str, inputs: list[str], role: str = "trunk", **attrs: Any) -> str:
        self.g.add_node(scope, op=op, scope=scope, block=self.block, stage=self.stage, role=role, **attrs)
        for port, src in enumerate(inputs):
            self.g.add_edge(src, scope, port=port)
        return scope

    def conv(self, scope: str, x: str, c_in: int, c_out: int, k: int, s: int = 1, groups: int = 1,
             role: str = "trunk") -> str:
        return self.add(scope, "conv", [x], role, c_in=c_in, c_out=c_out, kernel=k, stride=s, padding=k // 2,
                        groups=groups, bias=False)

    def bn(self, scope: str, x: str, c: int, role: str = "trunk", zero_init: bool = False) -> str:
        return self.add(scope, "bn", [x], role, c_in=c, c_out=c, zero_init=zero_init)


def compile_spec(spec: ResNetSpec) -> nx.DiGraph:
    """The op-level graph of ``spec``; node ids are torchvision-style scopes."""
    b = _Builder()
    c, h, w = spec.input.channels, *spec.input.hw
    b.g.graph.update(name=spec.name, input_shape=(c, h, w), residual=spec.residual, stages=len(spec.stages),
                     blocks=[])
    x = b.add("input", "input", [], shape=(c, h, w))
    x = _stem(b, spec, x)
    c = spec.stem.out_channels
    for i, stage in enumerate(spec.stages):
        b.stage = i
        for j in range(stage.blocks):
            b.block = f"layer{i + 1}.{j}"
            stride = stage.stride if j == 0 else 1
            x, c = _block(b, spec, i, j, x, c, stride)
    b.stage, b.block = None, None
    x = b.add("avgpool", "avgpool", [x])
    x = b.add("flatten", "flatten", [x])
    x = b.add("fc", "linear", [x], c_in=c, c_out=spec.head.classes, bias=True)
    b.add("output", "output", [x])
    return b.g


def _stem(b: _Builder, spec: ResNetSpec, x: str) -> str:
    c_in, c_out = spec.input.channels, spec.stem.out_channels
    if spec.stem.type == "imagenet":
        x = b.conv("conv1", x, c_in, c_out, 7, 2)
    else:
        x = b.conv("conv1", x, c_in, c_out, 3, 1)
    x = b.add("relu", "relu", [b.bn("bn1", x, c_out)])
    if spec.stem.type == "imagenet":
        x = b.add("maxpool", "maxpool", [x], kernel=3, stride=2, padding=1)
    return x


def _block(b: _Builder, spec: ResNetSpec, i: int, j: int, x: str, c_in: int, stride: int) -> tuple[str, int]:
    """Block ``j`` of stage ``i`` (or its plain twin); returns (output node, channels)."""
    kind = spec.stage_block(i)
    c_out = spec.stage_out_channels(i)
    p = b.block
    zero = spec.zero_init_residual and spec.residual
    if kind == "basic":
        y = b.conv(f"{p}.conv1", x, c_in, c_out, 3, stride, role="branch")
        y = b.add(f"{p}.relu1", "relu", [b.bn(f"{p}.bn1", y, c_out, "branch")], "branch")
        y = b.conv(f"{p}.conv2", y, c_out, c_out, 3, role="branch")
        y = b.bn(f"{p}.bn2", y, c_out, "branch", zero)
        last = "relu2"
    else:
        width = int(spec.stages[i].width * spec.base_width / 64) * spec.groups
        s1, s3 = (stride, 1) if spec.bottleneck_stride == "1x1" else (1, stride)
        y = b.conv(f"{p}.conv1", x, c_in, width, 1, s1, role="branch")
        y = b.add(f"{p}.relu1", "relu", [b.bn(f"{p}.bn1", y, width, "branch")], "branch")
        y = b.conv(f"{p}.conv2", y, width, width, 3, s3, spec.groups, role="branch")
        y = b.add(f"{p}.relu2", "relu", [b.bn(f"{p}.bn2", y, width, "branch")], "branch")
        y = b.conv(f"{p}.conv3", y, width, c_out, 1, role="branch")
        y = b.bn(f"{p}.bn3", y, c_out, "branch", zero)
        last = "relu3"
    kind_sc, shortcut = _shortcut(b, spec, i, x, c_in, c_out, stride)
    if shortcut is not None:
        y = b.add(f"{p}.add", "add", [y, shortcut])
    y = b.add(f"{p}.{last}", "relu", [y])
    info: BlockInfo = {"scope": p or "", "stage": i, "index": j, "type": kind,
                       "shortcut": kind_sc, "c_in": c_in, "c_out": c_out, "stride": stride}
    b.g.graph["blocks"].append(info)
    return y, c_out


def _shortcut(b: _Builder, spec: ResNetSpec, i: int, x: str, c_in: int, c_out: int,
              stride: int) -> tuple[ShortcutKind, str | None]:
    """The shortcut path of a block by option A/B/C (paper §3.3); None for plain networks."""
    if not spec.residual:
        return "none", None
    option = spec.stage_shortcut(i)
    changes = c_in != c_out or stride != 1
    if option == "C" or (option == "B" and changes):
        y = b.conv(f"{b.block}.downsample.0", x, c_in, c_out, 1, stride, role="shortcut")
        return "projection", b.bn(f"{b.block}.downsample.1", y, c_out, "shortcut")
    if option == "A" and changes:
        return "A", b.add(f"{b.block}.shortcut", "shortcut_a", [x], "shortcut", c_in=c_in, c_out=c_out,
                          stride=stride)
    return "identity", x
