"""Design space files: validation errors with their place, sizes, and every draw a valid spec within the constraints."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from resgraph.cli.main import main
from resgraph.errors import SpecError
from resgraph.graph.load import check_ref
from resgraph.search.sample import dimensions, draw, random_picks, sample_specs, space_size
from resgraph.search.space import load_space, space_names
from resgraph.spec import dump_spec

GOOD = """\
name: tiny
base: resnet20
choices:
  blocks: [1, 2]
  widths: {multiplier: [0.5, 2.0], step: 0.5, divisor: 8}
  block: [basic, bottleneck]
  attention: [none, se]
constraints:
  non_decreasing_widths: true
  depth: [8, 20]
"""


def _write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_space(str(path))
    return info.value.lines()


@pytest.mark.parametrize("text, expected", [
    (GOOD.replace("blocks: [1, 2]", "blocks: [5, 2]"),
     ":4:3: choices.blocks: must be [low, high] with low <= high, not [5, 2] (received [5, 2])"),
    (GOOD.replace("block: [basic, bottleneck]", "block: [basic, botleneck]"),
     ":6:18: choices.block[1]: must be one of 'basic', 'bottleneck', 'preact_basic' or 'preact_bottleneck' "
     "(did you mean 'bottleneck'?) (received 'botleneck')"),
    (GOOD.replace("  attention:", "  atention:"),
     ":7:3: choices.atention: unknown key (did you mean 'attention'?); expected one of: blocks, widths, block, "
     "groups, shortcut, shortcut_per_stage, stem, attention, input_size"),
    (GOOD.replace("depth: [8, 20]", "depth: [8, 20, 30]"), ":10:3: constraints.depth: "),
    (GOOD.replace("{multiplier: [0.5, 2.0], step: 0.5, divisor: 8}", "{divisor: 8}"),
     ":5:3: choices.widths: give either `multiplier: [low, high]` (with `step`, `divisor`) or `values: [...]`"),
    (GOOD.replace("base: resnet20", "base: 7"), ":2:1: base: "),
    (GOOD.replace("name: tiny\n", ""), ":1:1: name: required field is missing"),
    (GOOD.replace("blocks: [1, 2]", "blocks: [[1, 2], [1, 2]]"),
     ":4:3: choices.blocks: gives 2 ranges for the base's 3 stages (one [min, max] for all, or one per stage)"),
    (GOOD + "name: again\n", ":11:1: name: duplicate key 'name' (first written on line 1)"),
])
def test_a_bad_space_file_names_line_column_and_field(tmp_path, text, expected):
    path = _write(tmp_path, text)
    lines = _errors(path)
    assert any(line.startswith(str(path)) and expected in line for line in lines), lines


def test_a_base_that_does_not_load_points_at_base_and_then_at_the_base_file(tmp_path):
    _write(tmp_path, "name: b\nstages: [{blocks: 0, width: 16}]\n", "base.yaml")
    path = _write(tmp_path, GOOD.replace("base: resnet20", "base: base.yaml"))
    lines = _errors(path)
    assert lines[0].startswith(f"{path}:2:1: base: the base spec does not load (below)")
    assert "base.yaml:2:11: stages[0].blocks: must be >= 1 (received 0)" in lines[1]


def test_an_unknown_bundled_space_suggests_the_close_name():
    with pytest.raises(SpecError, match=r"unknown space 'cifar_resnt' \(did you mean 'cifar_resnet'\?\)"):
        load_space("cifar_resnt")


def test_size_counts_groups_and_attention_only_for_kinds_that_take_them(tmp_path):
    sp = load_space(str(_write(tmp_path, GOOD.replace("  attention:", "  groups: [[1, 64], [2, 32]]\n  attention:"))))
    # 2 blocks ** 3 stages * 4 factors ** 3 stages; basic: x2 attention; bottleneck: x2 groups x2 attention
    assert space_size(sp) == 2 ** 3 * 4 ** 3 * (2 + 2 * 2)
    assert [d.name for d in dimensions(sp)] == ["blocks1", "blocks2", "blocks3", "width1", "width2", "width3",
                                                "block", "groups", "attention"]


@pytest.mark.parametrize("name", ["imagenet_resnet", "cifar_resnet"])
def test_every_draw_of_a_bundled_space_is_a_valid_spec_within_its_constraints(name, tmp_path):
    sp = load_space(name)
    specs, tries = sample_specs(sp, 25, seed=3)
    assert len(specs) == 25 and tries >= 25
    rules = sp.file.constraints
    for spec in specs:
        path = tmp_path / f"{spec.name}.yaml"
        path.write_text(dump_spec(spec), encoding="utf-8")
        result = check_ref(str(path))  # validated again from the file, as `resgraph validate` reads it
        assert result.spec == spec, result.errors
        widths = [s.width for s in spec.stages]
        assert widths == sorted(widths)
        assert rules.depth is not None and rules.depth[0] <= spec.depth <= rules.depth[1]
        assert spec.input.hw == sp.base.input.hw and spec.head == sp.base.head


def test_draws_that_break_a_constraint_or_a_rule_are_refused_with_the_reason(tmp_path):
    sp = load_space(str(_write(tmp_path, GOOD)))
    picks = {"blocks1": 1, "blocks2": 1, "blocks3": 1, "width1": 2.0, "width2": 0.5, "width3": 1.0,
             "block": "basic", "attention": "none"}
    d = draw(sp, picks, "x")
    assert d.spec is None and d.reason == "constraint" and d.problem == "widths [32, 16, 64] decrease"
    picks["width2"] = 1.0
    assert draw(sp, picks, "ok").spec is not None  # [32, 32, 64]: equal widths do not decrease
    picks.update(width1=1.0, blocks1=2, blocks2=2, blocks3=3, block="bottleneck")
    deep = draw(sp, picks, "y")  # 1 + 3 * 7 + 1 = 23 weighted layers: past the space's 20
    assert deep.spec is None and deep.reason == "constraint" and deep.problem == "depth 23 outside [8, 20]"
    sized = load_space(str(_write(tmp_path, GOOD.replace("  attention:", "  input_size: [1, 32]\n  attention:"),
                                  "sized.yaml")))
    tiny = draw(sized, {**picks, "blocks3": 1, "input_size": 1}, "z")  # the spec's own rule refuses a 1x1 input
    assert tiny.spec is None and tiny.reason == "invalid"
    assert tiny.problem is not None and "input.size: input is too small" in tiny.problem


def test_every_uniform_draw_either_validates_or_says_why():
    sp = load_space("imagenet_resnet")
    rng, dims = random.Random(0), dimensions(sp)
    for i in range(40):
        d = draw(sp, random_picks(dims, rng), f"n{i}")
        assert (d.spec is None) == (d.problem is not None)


def test_spaces_and_space_commands():
    runner = CliRunner()
    res = runner.invoke(main, ["spaces"])
    assert res.exit_code == 0 and all(n in res.output for n in space_names())
    res = runner.invoke(main, ["space", "cifar_resnet", "-n", "2"])
    assert res.exit_code == 0, res.output
    assert "cifar_resnet (space:cifar_resnet): base resnet20, 36,006,768 networks before constraints" in res.output
    assert "2 valid network(s)" in res.output and "constraints: non-decreasing widths, depth 8-164" in res.output
    res = runner.invoke(main, ["space", "nope.yaml"])
    assert res.exit_code == 2 and res.output.strip() == "nope.yaml: no such space file"
