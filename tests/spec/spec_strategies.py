"""Hypothesis strategies of valid spec data, shared by the property and schema tests.

Kinds and their options are drawn from the registries and the kinds' own
pydantic models: a newly registered kind is generated without touching this file.
"""

from __future__ import annotations

import typing
from typing import Any

from annotated_types import Ge, Le
from hypothesis import assume
from hypothesis import strategies as st
from pydantic import BaseModel

from resgraph.kinds import BLOCKS, SHORTCUTS, STEMS
from resgraph.kinds.base import ATTENTION
from resgraph.spec import ResNetSpec
from resgraph.spec.loader import validate_source
from resgraph.spec.source import Source

# Valid names are printable (letters, digits, punctuation, symbols, spaces); test_spec_properties also
# throws control characters at the loader.
names = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Co", "Cn", "Zl", "Zp")), min_size=1,
                max_size=30).filter(lambda s: s.isprintable() and s.strip())
size_st = st.one_of(st.integers(8, 300), st.lists(st.integers(8, 300), min_size=2, max_size=2))
_REGISTRIES = {m: r for r in (BLOCKS, STEMS, ATTENTION) for m in r.options_types()}


def _int_st(info: Any) -> st.SearchStrategy[int]:
    ge = next((m.ge for m in info.metadata if isinstance(m, Ge)), 1)
    le = next((m.le for m in info.metadata if isinstance(m, Le)), ge + 31)
    return st.integers(ge, min(le, ge + 31))  # small: a few dozen channels at most


def _value_st(annotation: Any, info: Any) -> st.SearchStrategy[Any]:
    """A strategy for one option's value, from its annotation."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return _int_st(info)
    if origin is tuple:
        return st.tuples(*(st.integers(1, 64) for _ in args))
    kinds = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)] or [
        m for a in args for m in typing.get_args(a) if isinstance(m, type) and issubclass(m, BaseModel)]
    if kinds:  # a nested kind (a block's attention): any registered one
        return kind_st(_REGISTRIES[kinds[0]].names(), _REGISTRIES[kinds[0]])
    inner = [a for a in args if a is not type(None)]
    if inner and len(inner) < len(args):  # X | None
        return st.one_of(st.none(), _value_st(inner[0], info))
    raise TypeError(f"no strategy for option type {annotation!r}")


def kind_st(choices: tuple[str, ...], registry: Any) -> st.SearchStrategy[Any]:
    """A kind of ``registry`` among ``choices``: its bare name, or a mapping of some of its options."""

    @st.composite
    def draw_kind(draw: st.DrawFn) -> Any:
        name = draw(st.sampled_from(choices))
        if draw(st.booleans()):
            return name
        model = registry[name].Options
        data: dict[str, Any] = {"type": name}
        for key, info in model.model_fields.items():
            if key != "type" and draw(st.booleans()):
                value = draw(_value_st(info.annotation, info))
                if value is not None:
                    data[key] = list(value) if isinstance(value, tuple) else value
        return data

    return draw_kind()


@st.composite
def spec_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Data of a valid spec: random fields, optional ones sometimes left to their defaults."""
    block = draw(st.sampled_from(BLOCKS.names()))
    same_layout = tuple(k.name for k in BLOCKS if k.layout is BLOCKS[block].layout)
    stage_st = st.fixed_dictionaries(
        {"blocks": st.integers(1, 4), "width": st.integers(1, 96)},
        optional={"stride": st.integers(1, 3), "block": kind_st(same_layout, BLOCKS),
                  "shortcut": st.sampled_from(SHORTCUTS.names())},
    )
    stages = draw(st.lists(stage_st, min_size=1, max_size=5))
    for stage in stages[1:]:  # non-decreasing widths keep option A valid most of the time
        stage["width"] = max(stage["width"], stages[0]["width"])
    data: dict[str, Any] = {"name": draw(names), "stages": stages, "block": draw(kind_st((block,), BLOCKS))}
    optional = {
        "description": st.text(max_size=80),
        "input": st.fixed_dictionaries({}, optional={"channels": st.integers(1, 8), "size": size_st}),
        "stem": kind_st(STEMS.names(), STEMS),
        "residual": st.booleans(),
        "shortcut": st.sampled_from(SHORTCUTS.names()),
        "zero_init_residual": st.booleans(),
        "head": st.fixed_dictionaries({}, optional={"classes": st.integers(1, 5000)}),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            data[key] = draw(strategy)
    if data.get("residual", True) and draw(st.booleans()):
        data["drop_path"] = draw(st.floats(0.0, 0.5))
    return data


def valid_spec(data: dict[str, Any]) -> ResNetSpec:
    result = validate_source(Source(data, {}, "gen.yaml"))
    assume(not result.errors)  # the few semantically invalid draws (e.g. option A shrinking after a bottleneck)
    assert result.spec is not None
    return result.spec


valid_specs = spec_dicts().map(valid_spec)
