"""Hypothesis strategies of valid spec data, shared by the property and schema tests."""

from __future__ import annotations

from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from resgraph.spec import ResNetSpec
from resgraph.spec.loader import validate_source
from resgraph.spec.source import Source

names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
stage_st = st.fixed_dictionaries(
    {"blocks": st.integers(1, 4), "width": st.integers(1, 96)},
    optional={"stride": st.integers(1, 3), "block": st.sampled_from(["basic", "bottleneck"]),
              "shortcut": st.sampled_from(["A", "B", "C"])},
)
size_st = st.one_of(st.integers(8, 300), st.lists(st.integers(8, 300), min_size=2, max_size=2))
stem_st = st.one_of(
    st.sampled_from(["imagenet", "cifar"]),
    st.fixed_dictionaries({}, optional={"type": st.sampled_from(["imagenet", "cifar"]), "width": st.integers(1, 64)}),
)


@st.composite
def spec_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Data of a valid spec: random fields, optional ones sometimes left to their defaults."""
    stages = draw(st.lists(stage_st, min_size=1, max_size=5))
    for stage in stages[1:]:  # non-decreasing widths keep option A valid most of the time
        stage["width"] = max(stage["width"], stages[0]["width"])
    data: dict[str, Any] = {"name": draw(names), "stages": stages}
    optional = {
        "description": st.text(max_size=80),
        "input": st.fixed_dictionaries({}, optional={"channels": st.integers(1, 8), "size": size_st}),
        "stem": stem_st,
        "block": st.sampled_from(["basic", "bottleneck"]),
        "residual": st.booleans(),
        "shortcut": st.sampled_from(["A", "B", "C"]),
        "expansion": st.integers(1, 8),
        "bottleneck_stride": st.sampled_from(["3x3", "1x1"]),
        "zero_init_residual": st.booleans(),
        "head": st.fixed_dictionaries({}, optional={"classes": st.integers(1, 5000)}),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            data[key] = draw(strategy)
    if draw(st.booleans()):  # grouped / wide bottlenecks: only valid when every stage is a bottleneck
        data["block"] = "bottleneck"
        for stage in stages:
            stage.pop("block", None)
        data["groups"] = draw(st.sampled_from([1, 2, 4, 32]))
        data["base_width"] = draw(st.sampled_from([4, 16, 64, 128]))
    return data


def valid_spec(data: dict[str, Any]) -> ResNetSpec:
    result = validate_source(Source(data, {}, "gen.yaml"))
    assume(not result.errors)  # the few semantically invalid draws (e.g. option A shrinking after a bottleneck)
    assert result.spec is not None
    return result.spec


valid_specs = spec_dicts().map(valid_spec)
