"""One point of a space: its choices as named dimensions, applied to the base, constrained, validated as a spec.

A dimension is what Optuna suggests and what ``resgraph space`` draws at random: the same
:func:`build` turns either's picks into spec data, which the spec loader validates as it does a
file. A draw the constraints refuse, or that the spec's rules refuse (a shortcut that cannot join
the widths drawn, attention on a block without it), is no network of the space.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resgraph.errors import SpecError
from resgraph.kinds import BLOCKS
from resgraph.search.space import Space
from resgraph.spec.dump import spec_data
from resgraph.spec.model import ResNetSpec
from resgraph.spec.source import Source

__all__ = ["Dim", "Draw", "build", "constraint_problem", "dimensions", "draw", "random_picks", "sample_specs",
           "space_size", "width_problem"]


@dataclass(frozen=True)
class Dim:
    """One choice: its name (``blocks2``, ``width``, ``block``...) and its values, JSON-friendly."""

    name: str
    values: tuple[Any, ...]
    integer: bool = False  # a contiguous range of whole numbers, values[0] to values[-1]


@dataclass(frozen=True)
class Draw:
    """A drawn point: the spec, or why it is none (``constraint`` or ``invalid``, and the message)."""

    picks: dict[str, Any]
    spec: ResNetSpec | None
    reason: str | None = None
    problem: str | None = None


def dimensions(space: Space) -> list[Dim]:
    """The space's choices as dimensions, in a fixed order."""
    c, n = space.file.choices, len(space.base.stages)
    dims: list[Dim] = []
    if c.blocks is not None:
        ranges = c.blocks if isinstance(c.blocks, list) else [c.blocks] * n
        dims += [Dim(f"blocks{i + 1}", tuple(range(lo, hi + 1)), True) for i, (lo, hi) in enumerate(ranges)]
    if c.widths is not None:
        values = tuple(c.widths.factors()) if c.widths.multiplier is not None else tuple(c.widths.values or ())
        dims += [Dim(name, values) for name in _names("width", n, c.widths.per_stage)]
    if c.block:
        dims.append(Dim("block", tuple(c.block)))
    if c.groups:
        dims.append(Dim("groups", tuple(f"{g}x{w}" for g, w in c.groups)))
    if c.shortcut:
        dims += [Dim(name, tuple(c.shortcut)) for name in _names("shortcut", n, c.shortcut_per_stage)]
    if c.stem:
        dims.append(Dim("stem", tuple(c.stem)))
    if c.attention:
        dims.append(Dim("attention", tuple(c.attention)))
    if c.input_size:
        dims.append(Dim("input_size", tuple(c.input_size)))
    return dims


def _names(stem: str, n: int, per_stage: bool) -> list[str]:
    return [f"{stem}{i + 1}" for i in range(n)] if per_stage else [stem]


def space_size(space: Space) -> int:
    """How many networks the choices name, before constraints and the spec's rules (a kind without groups or
    attention does not multiply by them)."""
    dims = {d.name: d for d in dimensions(space)}
    common = math.prod(len(d.values) for name, d in dims.items() if name not in ("block", "groups", "attention"))
    kinds = dims["block"].values if "block" in dims else (space.base.block.type,)
    total = 0
    for kind in kinds:
        fields = BLOCKS[kind].Options.model_fields
        total += (common * (len(dims["groups"].values) if "groups" in dims and "groups" in fields else 1)
                  * (len(dims["attention"].values) if "attention" in dims and "attention" in fields else 1))
    return total


def _width(base: int, pick: Any, space: Space) -> int:
    w = space.file.choices.widths
    if w is None or w.multiplier is None:
        return int(pick)
    return max(w.divisor, int(base * float(pick) / w.divisor + 0.5) * w.divisor)


def build(space: Space, picks: dict[str, Any], name: str) -> dict[str, Any]:
    """Spec data: the base with ``picks`` applied (every field explicit, as ``spec_data`` writes it)."""
    data = spec_data(space.base)
    data["name"] = name
    for i, st in enumerate(data["stages"]):
        if f"blocks{i + 1}" in picks:
            st["blocks"] = int(picks[f"blocks{i + 1}"])
        for key in (f"width{i + 1}", "width"):
            if key in picks:
                st["width"] = _width(space.base.stages[i].width, picks[key], space)
        if f"shortcut{i + 1}" in picks:
            st["shortcut"] = picks[f"shortcut{i + 1}"]
        elif "shortcut" in picks:
            st.pop("shortcut", None)
        if "block" in picks:
            st.pop("block", None)
    if "shortcut" in picks:
        data["shortcut"] = picks["shortcut"]
    kind = picks.get("block", data["block"]["type"])
    block = dict(data["block"]) if kind == data["block"]["type"] else {"type": kind}
    fields = BLOCKS[kind].Options.model_fields
    if "groups" in picks and "groups" in fields:
        groups, base_width = (int(x) for x in str(picks["groups"]).split("x"))
        block.update(groups=groups, base_width=base_width)
    if "attention" in picks and "attention" in fields:
        att = picks["attention"]
        if att == "none":
            block.pop("attention", None)
        elif (block.get("attention") or {}).get("type") != att:
            block["attention"] = {"type": att}
    data["block"] = block
    if "stem" in picks and picks["stem"] != data["stem"]["type"]:
        data["stem"] = {"type": picks["stem"]}
    if "input_size" in picks:
        data["input"]["size"] = int(picks["input_size"])
    return data


def width_problem(space: Space, widths: list[int]) -> str | None:
    """The widths constraint, in words, checked on the drawn data before the spec's own rules."""
    if space.file.constraints.non_decreasing_widths and any(b < a for a, b in zip(widths, widths[1:], strict=False)):
        return f"widths {widths} decrease"
    return None


def constraint_problem(space: Space, spec: ResNetSpec) -> str | None:
    """The first constraint ``spec`` breaks, in words; None when it keeps them all."""
    depth = space.file.constraints.depth
    if (problem := width_problem(space, [s.width for s in spec.stages])) is not None:
        return problem
    if depth is not None and not depth[0] <= spec.depth <= depth[1]:
        return f"depth {spec.depth} outside {list(depth)}"
    return None


def draw(space: Space, picks: dict[str, Any], name: str, *, size_guard: bool = True) -> Draw:
    """The spec of ``picks`` if the constraints and every rule of the spec language hold (the size guard too).

    The space's constraints are checked first: a draw that breaks one is refused for it, whatever else is wrong.
    """
    from resgraph.graph.load import validate_source as guarded
    from resgraph.spec.loader import validate_source as plain

    data = build(space, picks, name)
    widths = [st.get("width") for st in data["stages"]]
    if all(isinstance(w, int) for w in widths) and (problem := width_problem(space, widths)) is not None:
        return Draw(picks, None, "constraint", problem)
    result = (guarded if size_guard else plain)(Source(data, {}, f"<{space.name}>"), name)
    if result.spec is None:
        return Draw(picks, None, "invalid", str(result.errors[0]) if result.errors else "invalid")
    problem = constraint_problem(space, result.spec)
    if problem:
        return Draw(picks, None, "constraint", problem)
    return Draw(picks, result.spec)


Picker = Callable[[Dim], Any]


def random_picks(dims: list[Dim], rng: random.Random) -> dict[str, Any]:
    """Each dimension's value drawn uniformly."""
    return {d.name: rng.choice(d.values) for d in dims}


def sample_specs(space: Space, n: int, seed: int = 0, *, prefix: str | None = None) -> tuple[list[ResNetSpec], int]:
    """``n`` valid specs drawn uniformly (each validated like a file), and how many draws it took.

    A space whose draws are never valid is one error naming the last problem, not an endless loop.
    """
    rng, dims = random.Random(seed), dimensions(space)
    out: list[ResNetSpec] = []
    tries, last = 0, None
    while len(out) < n:
        if tries >= 200 * max(n, 1):
            raise SpecError.single(space.source, f"no valid network in {tries} draws ({len(out)} found); the last "
                                   f"was refused: {last}")
        tries += 1
        d = draw(space, random_picks(dims, rng), f"{prefix or space.name}_{len(out)}")
        if d.spec is None:
            last = d.problem
            continue
        out.append(d.spec)
    return out, tries
