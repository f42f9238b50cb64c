"""Module-name layouts: the trunk around the blocks, named as the anchor library names it.

A block type picks its layout, and with it the names of the stem, the stages,
the shortcut parts and the head, so that ``state_dict`` keys match the library
key for key:

* :data:`RESNET`: torchvision's ``ResNet`` and timm's ``resnet.py`` (``conv1``,
  ``bn1``, ``layer1.0``, ``downsample.0``, ``fc``); post-activation.
* :data:`RESNETV2`: timm's ``resnetv2.py`` (``stem.conv``, ``stages.0.blocks.0``,
  ``downsample.conv``, ``norm``, ``head.fc``); pre-activation: no BN-ReLU closes
  the stem, the shortcut projection has no BN, and a final BN-ReLU precedes the
  pool. Its classifier is a 1x1 conv (timm's ``use_conv=True``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from resgraph.graph.builder import Builder  # kinds never import the graph package: it imports them


class Layout:
    """Names and trunk of one family of networks."""

    name: str
    preact: bool

    def block_scope(self, stage: int, index: int) -> str:
        raise NotImplementedError

    def shortcut_part(self, block: str, index: int, name: str) -> str:
        """Scope of part ``index`` (named ``name``: pool, conv, norm) of a block's shortcut."""
        raise NotImplementedError

    def stem(self, b: Builder, x: str, c_in: int, convs: list[tuple[int, int, int]], pool: bool) -> str:
        """The stem's nodes: ``convs`` as (c_out, kernel, stride), BN and ReLU between, then the pool."""
        raise NotImplementedError

    def head(self, b: Builder, x: str, c: int, classes: int) -> str:
        """Global average pool and classifier; returns the logits node."""
        raise NotImplementedError


class ResNetLayout(Layout):
    """torchvision / timm ``ResNet``: conv1, bn1, maxpool, layer1..N, avgpool, fc."""

    name = "resnet"
    preact = False

    def block_scope(self, stage: int, index: int) -> str:
        return f"layer{stage + 1}.{index}"

    def shortcut_part(self, block: str, index: int, name: str) -> str:
        # An nn.Sequential: parts by position, so a skipped part (D's pool at stride 1, an
        # nn.Identity in timm) keeps the next part's index.
        return f"{block}.downsample.{index}"

    def stem(self, b: Builder, x: str, c_in: int, convs: list[tuple[int, int, int]], pool: bool) -> str:
        # One conv is `conv1`; a deep stem is timm's nn.Sequential `conv1.0` .. `conv1.6`
        # (conv, bn, relu, conv, bn, relu, conv), then the stem's own `bn1`.
        for i, (c_out, k, s) in enumerate(convs):
            name = "conv1" if len(convs) == 1 else f"conv1.{3 * i}"
            x = b.conv(name, x, c_in, c_out, k, s)
            if i < len(convs) - 1:
                x = b.relu(f"conv1.{3 * i + 2}", b.bn(f"conv1.{3 * i + 1}", x, c_out))
            c_in = c_out
        x = b.relu("relu", b.bn("bn1", x, c_in))
        return b.add("maxpool", "maxpool", [x], kernel=3, stride=2, padding=1) if pool else x

    def head(self, b: Builder, x: str, c: int, classes: int) -> str:
        x = b.add("avgpool", "avgpool", [x])
        x = b.add("flatten", "flatten", [x])
        return b.add("fc", "linear", [x], c_in=c, c_out=classes, bias=True)


class ResNetV2Layout(Layout):
    """timm ``ResNetV2`` (pre-activation): stem.*, stages.i.blocks.j, norm, head.fc."""

    name = "resnetv2"
    preact = True

    def block_scope(self, stage: int, index: int) -> str:
        return f"stages.{stage}.blocks.{index}"

    def shortcut_part(self, block: str, index: int, name: str) -> str:
        return f"{block}.downsample.{name}"  # timm's DownsampleConv / DownsampleAvg attributes

    def stem(self, b: Builder, x: str, c_in: int, convs: list[tuple[int, int, int]], pool: bool) -> str:
        # The first block's pre-activation normalises the stem's output: no BN-ReLU after the last conv.
        for i, (c_out, k, s) in enumerate(convs):
            n = "" if len(convs) == 1 else str(i + 1)
            x = b.conv(f"stem.conv{n}", x, c_in, c_out, k, s)
            if i < len(convs) - 1:
                x = b.relu(f"stem.act{n}", b.bn(f"stem.norm{n}", x, c_out))
            c_in = c_out
        return b.add("stem.pool", "maxpool", [x], kernel=3, stride=2, padding=1) if pool else x

    def head(self, b: Builder, x: str, c: int, classes: int) -> str:
        x = b.relu("act", b.bn("norm", x, c))  # the last block's output, normalised once
        x = b.add("head.global_pool", "avgpool", [x])
        x = b.conv("head.fc", x, c, classes, 1, bias=True)
        b.g.nodes["head.fc"]["init"] = "classifier"  # timm's ResNetV2 draws its classifier as a Linear: N(0, 0.01)
        return b.add("head.flatten", "flatten", [x])


RESNET = ResNetLayout()
RESNETV2 = ResNetV2Layout()
