"""Semantic checks: rules that relate several fields of an already type-valid spec.

Each finding names its own field path so the loader can point at the line
that caused it. Errors stop the load; warnings are reported and the spec is
still returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resgraph.errors import FieldPath
from resgraph.spec.model import ResNetSpec

MAX_TOTAL_BLOCKS = 10_000
MAX_PARAMS = 4_000_000_000  # 16 GB of fp32 weights
MAX_ACTIVATION_BYTES = 64 * 2**30  # fp32 feature maps of one image


@dataclass(frozen=True)
class Finding:
    """A rule broken at ``path``: an error, or a warning that still lets the spec load."""

    path: FieldPath
    message: str
    received: Any = None
    has_received: bool = True
    severity: str = "error"


def conv_out(n: int, stride: int) -> int:
    """Spatial size after a padded 3x3 (or 1x1, or ``[::s]``) op of this stride: padded convs never reach 0."""
    return (n - 1) // stride + 1


def check_spec(spec: ResNetSpec) -> list[Finding]:
    """All semantic findings for ``spec``, errors and warnings, in field order."""
    return [*_check_blocks(spec), *_check_channels(spec), *_check_spatial(spec), *_check_size(spec)]


def _check_blocks(spec: ResNetSpec) -> list[Finding]:
    out = []
    total = sum(s.blocks for s in spec.stages)
    if total > MAX_TOTAL_BLOCKS:
        out.append(Finding(("stages",), f"{total:,} blocks in all, over the limit of {MAX_TOTAL_BLOCKS:,}",
                           has_received=False))
    uses_basic = [i for i in range(len(spec.stages)) if spec.stage_block(i) == "basic"]
    if uses_basic and spec.groups != 1:
        out.append(Finding(("groups",), f"basic blocks support only groups=1 (stages {uses_basic} are basic)",
                           spec.groups))
    if uses_basic and spec.base_width != 64:
        out.append(Finding(("base_width",), f"basic blocks support only base_width=64 (stages {uses_basic} are basic)",
                           spec.base_width))
    for i, stage in enumerate(spec.stages):
        if spec.stage_block(i) == "bottleneck" and stage.width * spec.base_width // 64 < 1:
            out.append(Finding(("stages", i, "width"), f"bottleneck 3x3 width is 0 at base_width={spec.base_width}",
                               stage.width))
    return out


def _check_channels(spec: ResNetSpec) -> list[Finding]:
    out = []
    c_in = spec.stem.out_channels
    for i, _ in enumerate(spec.stages):
        c_out = spec.stage_out_channels(i)
        if spec.residual and spec.stage_shortcut(i) == "A" and c_out < c_in:
            out.append(Finding(("stages", i, "width"),
                               f"shortcut A cannot shrink channels ({c_in} -> {c_out}): the identity would have to "
                               "drop channels; use shortcut B or C for this stage", spec.stages[i].width))
        c_in = c_out
    return out


def _stem_hw(spec: ResNetSpec) -> tuple[int, int]:
    h, w = spec.input.hw
    if spec.stem.type == "imagenet":  # 7x7/2 conv then 3x3/2 max-pool
        h, w = conv_out(conv_out(h, 2), 2), conv_out(conv_out(w, 2), 2)
    return h, w


def _check_spatial(spec: ResNetSpec) -> list[Finding]:
    h, w = _stem_hw(spec)
    size_path: FieldPath = ("input", "size")
    if (h, w) == (1, 1):
        return [Finding(size_path, f"input is too small: the {spec.stem.type} stem leaves a 1x1 feature map "
                        "before the first stage", spec.input.size)]
    for i, stage in enumerate(spec.stages):
        if (h, w) == (1, 1):
            hw = "x".join(map(str, spec.input.hw))
            return [Finding(("stages", i), f"feature map has collapsed to 1x1 before this stage (input {hw}); "
                            "it and later stages see no spatial context", has_received=False, severity="warning")]
        h, w = conv_out(h, stage.stride), conv_out(w, stage.stride)
    return []


def _check_size(spec: ResNetSpec) -> list[Finding]:
    params, act = estimate_size(spec)
    out = []
    if params > MAX_PARAMS:
        out.append(Finding(("stages",), f"network would have about {params:,.0f} parameters "
                           f"({params * 4 / 2**30:,.0f} GiB at fp32), over the limit of {MAX_PARAMS:,}",
                           has_received=False))
    if act > MAX_ACTIVATION_BYTES:
        out.append(Finding(("input", "size"), f"feature maps of one image would need about {act / 2**30:,.0f} GiB "
                           f"at fp32, over the limit of {MAX_ACTIVATION_BYTES // 2**30} GiB", spec.input.size))
    return out


def estimate_size(spec: ResNetSpec) -> tuple[float, float]:
    """Rough (weights, fp32 activation bytes of one image), cheap enough to refuse absurd specs.

    Exact counts come from the compiled graph; this only has to be right to
    within a small factor, and never allocates.
    """
    h, w = spec.input.hw
    c = spec.stem.out_channels
    params = float(spec.input.channels * c * (49 if spec.stem.type == "imagenet" else 9))
    act = float(c * h * w * 4 * 3)
    h, w = _stem_hw(spec)
    for i, stage in enumerate(spec.stages):
        c_out = spec.stage_out_channels(i)
        inner = stage.width * spec.base_width // 64 * spec.groups
        if spec.stage_block(i) == "bottleneck":
            per_block = c_out * inner * 2 + inner * inner * 9 / spec.groups
        else:
            per_block = c_out * c_out * 9 * 2
        params += per_block * stage.blocks + c * c_out
        h, w = conv_out(h, stage.stride), conv_out(w, stage.stride)
        act += float(stage.blocks) * h * w * (c_out + 2 * inner) * 4 * 3
        c = c_out
    return params + c * spec.head.classes, act
