"""Semantic checks: rules that relate several fields of an already type-valid spec.

Each finding names its own field path so the loader can point at the line
that caused it. Errors stop the load; warnings are reported and the spec is
still returned. A later stage's rules (the size guard, which needs the compiled
graph: :mod:`resgraph.graph.size`) come in as ``checks``: this package never
imports a later stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resgraph.errors import FieldPath
from resgraph.kinds import ATTENTION, SHORTCUTS, STEMS
from resgraph.spec.model import ResNetSpec

MAX_TOTAL_BLOCKS = 10_000


@dataclass(frozen=True)
class Finding:
    """A rule broken at ``path``: an error, or a warning that still lets the spec load."""

    path: FieldPath
    message: str
    received: Any = None
    has_received: bool = True
    severity: str = "error"
    own_file: bool = False  # where a parent wrote the field, point at the named file: the child caused it
    instead: Finding | None = None  # the same problem told at the other field making it (if the named file wrote it)


SpecCheck = Callable[[ResNetSpec], "list[Finding]"]  # a rule run once the spec's own rules hold


def conv_out(n: int, stride: int) -> int:
    """Spatial size after a padded 3x3 (or 1x1, 7x7, or ``[::s]``) op of this stride: padded ops never reach 0."""
    return (n - 1) // stride + 1


def check_spec(spec: ResNetSpec, checks: Sequence[SpecCheck] = ()) -> list[Finding]:
    """All semantic findings for ``spec``, errors and warnings, in field order, then those of ``checks``.

    ``checks`` (e.g. the size guard, which compiles a shortened copy of the
    network) run only when everything before them holds.
    """
    found = [*_check_blocks(spec), *_check_kinds(spec), *_check_channels(spec), *_check_spatial(spec)]
    for check in checks:
        if any(f.severity == "error" for f in found):
            break
        found += check(spec)
    return found


def _check_blocks(spec: ResNetSpec) -> list[Finding]:
    total = sum(s.blocks for s in spec.stages)
    if total > MAX_TOTAL_BLOCKS:
        return [Finding(("stages",), f"{total:,} blocks in all, over the limit of {MAX_TOTAL_BLOCKS:,}",
                        has_received=False)]
    return []


def _block_path(spec: ResNetSpec, i: int) -> FieldPath:
    return ("stages", i, "block") if spec.stages[i].block is not None else ("block",)


def _check_kinds(spec: ResNetSpec) -> list[Finding]:
    """Each stage's block type accepts its width; all stages share one layout; stochastic depth needs shortcuts."""
    out = []
    stem_problem = STEMS[spec.stem.type].check(spec.stem)
    if stem_problem:
        out.append(Finding(("stem",), stem_problem, has_received=False))
    first = spec.stage_kind(0)
    for i, stage in enumerate(spec.stages):
        kind = spec.stage_kind(i)
        problem = kind.check(stage.width, spec.stage_block(i))
        if problem:
            out.append(Finding(("stages", i, "width"), problem, stage.width))
        attention = getattr(spec.stage_block(i), "attention", None)
        if attention is not None:
            problem = ATTENTION[attention.type].check(spec.stage_out_channels(i), attention)
            path = (*_block_path(spec, i), "attention")
            if problem and path not in [f.path for f in out]:
                out.append(Finding(path, problem, has_received=False))
        if kind.layout is not first.layout and _block_path(spec, i) not in [f.path for f in out]:
            # Two fields make a mix: stage i's block and stage 0's. Told at stage i's, or at stage 0's where the
            # named file wrote that one and a parent (a preset) the other.
            lead = Finding(_block_path(spec, 0), f"{first.name} blocks cannot lead the {kind.name} blocks of stage "
                           f"{i}: {'pre-activation' if first.layout.preact else 'post-activation'} blocks need the "
                           f"{first.layout.name} trunk, stage {i} has the {kind.layout.name} one", first.name)
            out.append(Finding(_block_path(spec, i), f"a {kind.name} block cannot follow {first.name} blocks: "
                               f"{'pre-activation' if kind.layout.preact else 'post-activation'} blocks need "
                               f"the {kind.layout.name} trunk, stage 0 has the {first.layout.name} one",
                               kind.name, instead=lead))
    if spec.drop_path and not spec.residual:
        out.append(Finding(("drop_path",), "stochastic depth drops residual branches; a plain network "
                           "(residual: false) has none", spec.drop_path))
    return out


def _check_channels(spec: ResNetSpec) -> list[Finding]:
    """The shortcut option of each stage can join the stage's first block."""
    out = []
    c_in = spec.stem.out_channels
    for i, stage in enumerate(spec.stages):
        c_out = spec.stage_out_channels(i)
        if spec.residual:
            problem = SHORTCUTS[spec.stage_shortcut(i)].check(c_in, c_out, stage.stride)
            if problem:
                out.append(Finding(("stages", i, "width"), problem, stage.width))
        c_in = c_out
    return out


def _stem_hw(spec: ResNetSpec) -> tuple[int, int]:
    h, w = spec.input.hw
    stem = STEMS[spec.stem.type]
    for _, _, s in stem.convs(spec.stem):
        h, w = conv_out(h, s), conv_out(w, s)
    if stem.pool:  # 3x3/2 max-pool, padded
        h, w = conv_out(h, 2), conv_out(w, 2)
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
                            "it and later stages see no spatial context", has_received=False, severity="warning",
                            own_file=True)]
        h, w = conv_out(h, stage.stride), conv_out(w, stage.stride)
    return []
