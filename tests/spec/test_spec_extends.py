"""`extends:`: variants resolve to the merged spec the documented rules promise; bad chains are clear errors."""

from __future__ import annotations

from typing import Any

import pytest
from spec_helpers import diag_regex, run_cli

from resgraph.errors import SpecError
from resgraph.spec import ResNetSpec, allow_extends, load_spec
from resgraph.spec.dump import spec_data
from resgraph.spec.extends import merge


def with_changes(base: str, **changes: Any) -> ResNetSpec:
    """Preset ``base`` with top-level fields replaced (validated as a whole)."""
    return ResNetSpec.model_validate({**spec_data(load_spec(base)), **changes})


def stages_of(base: str, *updates: dict[str, Any]) -> list[dict[str, Any]]:
    """The stages of preset ``base`` with each stage's fields updated (one dict per stage kept)."""
    stages = spec_data(load_spec(base))["stages"]
    return [{**stages[i], **u} for i, u in enumerate(updates)]


def test_design_doc_resnet200_example(write):
    path = write("resnet200.yaml", "extends: resnet50\nname: resnet200\n"
                 "stages: [{blocks: 3}, {blocks: 24}, {blocks: 36}, {blocks: 3}]\n")
    spec = load_spec(path)
    r50 = load_spec("resnet50")
    expected = with_changes("resnet50", name="resnet200",
                            stages=stages_of("resnet50", {"blocks": 3}, {"blocks": 24}, {"blocks": 36}, {"blocks": 3}))
    assert spec == expected
    assert spec.depth == 200
    assert [s.width for s in spec.stages] == [s.width for s in r50.stages]
    assert [s.stride for s in spec.stages] == [1, 2, 2, 2]
    assert spec.model_copy(update={"name": "resnet50", "stages": r50.stages}) == r50


def test_extends_a_file_in_a_sibling_folder_relative_to_the_child(write, tmp_path, monkeypatch):
    write("parents/base.yaml", "name: base\ninput: {size: 64}\nstem: cifar\nshortcut: A\n"
          "stages:\n  - {blocks: 1, width: 16}\n  - {blocks: 1, width: 32, stride: 2}\nhead: {classes: 7}\n")
    child = write("children/child.yaml", "extends: ../parents/base.yaml\nname: child\nhead: {classes: 3}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # resolved against the child's folder, not the working directory
    with allow_extends(tmp_path):  # a sibling folder is outside the child's own: it must be allowed
        spec = load_spec(child)
    assert spec.name == "child" and spec.head.classes == 3
    assert (spec.input.hw, spec.stem.type, spec.shortcut) == ((64, 64), "cifar", "A")
    assert [(s.blocks, s.width, s.stride) for s in spec.stages] == [(1, 16, 1), (1, 32, 2)]
    assert run_cli("--allow-extends", str(tmp_path / "parents"), "validate", str(child)).code == 0
    refused = run_cli("validate", str(child))
    assert refused.code == 2 and "is outside the folders a spec may extend from" in refused.stderr


def test_chain_of_three(write):
    write("a.yaml", "extends: resnet18\nname: a\nshortcut: C\n")
    write("b.yaml", "extends: a.yaml\nname: b\nhead: {classes: 100}\nstages: [{}, {}, {}, {blocks: 5}]\n")
    c = write("c.yaml", "extends: ./b.yaml\nname: c\nzero_init_residual: true\n")
    expected = with_changes("resnet18", name="c", shortcut="C", head={"classes": 100}, zero_init_residual=True,
                            stages=stages_of("resnet18", {}, {}, {}, {"blocks": 5}))
    assert load_spec(c) == expected


def test_preset_chain_resnet101_on_resnet50():
    assert load_spec("resnet101") == with_changes(
        "resnet50", name="resnet101", stages=stages_of("resnet50", {}, {}, {"blocks": 23}, {}))


def test_null_resets_a_field_to_its_default(write):
    write("parent.yaml", "name: p\ndescription: parent notes\ninput: {channels: 1, size: 64}\nstem: cifar\n"
          "shortcut: C\nzero_init_residual: true\nstages:\n  - {blocks: 2, width: 16, shortcut: A}\n"
          "  - {blocks: 2, width: 32, stride: 2}\nhead: {classes: 10}\n")
    child = write("child.yaml", "extends: parent.yaml\nname: c\ndescription: null\nshortcut: null\n"
                  "zero_init_residual: null\nhead: null\ninput: {channels: null}\n"
                  "stages: [{shortcut: null}, {stride: null}]\n")
    spec = load_spec(child)
    assert spec.description is None
    assert spec.shortcut == "B" and spec.zero_init_residual is False  # defaults
    assert spec.head.classes == 1000  # the whole head falls back to its default
    assert spec.input.channels == 3 and spec.input.size == 64  # only channels reset
    assert spec.stages[0].shortcut is None and spec.stages[0].blocks == 2
    assert spec.stages[1].stride == 1 and spec.stages[1].width == 32


def test_null_on_a_required_field_is_reported_at_the_child_line(write):
    child = write("child.yaml", "extends: resnet18\nname: null\n")
    run = run_cli("validate", str(child))
    assert run.code == 2
    assert diag_regex(child, 2, "name", "required field is missing").search(run.stderr), run.stderr


def test_shorter_stage_list_drops_the_parent_tail(write):
    child = write("short.yaml", "extends: resnet18\nname: short\nstages: [{blocks: 1}, {blocks: 3}]\n")
    spec = load_spec(child)
    assert [(s.blocks, s.width, s.stride) for s in spec.stages] == [(1, 64, 1), (3, 128, 2)]
    assert spec == with_changes("resnet18", name="short", stages=stages_of("resnet18", {"blocks": 1}, {"blocks": 3}))


def test_longer_stage_list_takes_extra_stages_as_written(write):
    child = write("long.yaml", "extends: resnet18\nname: long\n"
                  "stages: [{}, {}, {}, {}, {blocks: 1, width: 1024, stride: 2}]\n")
    spec = load_spec(child)
    assert [(s.blocks, s.width, s.stride) for s in spec.stages] == [
        (2, 64, 1), (2, 128, 2), (2, 256, 2), (2, 512, 2), (1, 1024, 2)]


def test_an_incomplete_extra_stage_is_an_error_at_the_child_line(write):
    child = write("long.yaml", "extends: resnet18\nname: long\nstages:\n  - {}\n  - {}\n  - {}\n  - {}\n"
                  "  - {blocks: 1}\n")
    run = run_cli("validate", str(child))
    assert run.code == 2
    assert diag_regex(child, 8, "stages[4].width", "required field is missing").search(run.stderr), run.stderr


def test_stem_width_override_on_a_shorthand_parent(write):
    # resnet18 says `stem: imagenet`; the child changes only the width.
    child = write("wide_stem.yaml", "extends: resnet18\nname: ws\nstem: {width: 32}\n")
    spec = load_spec(child)
    assert (spec.stem.type, spec.stem.width, spec.stem.out_channels) == ("imagenet", 32, 32)
    assert spec == with_changes("resnet18", name="ws", stem={"type": "imagenet", "width": 32})


def test_a_child_that_changes_a_kind_drops_the_parents_options(write):
    write("p.yaml", "name: p\nstem: {type: imagenet, width: 32}\nstages: [{blocks: 1, width: 32}]\n")
    child = write("c.yaml", "extends: p.yaml\nname: c\ninput: {size: 32}\nstem: cifar\n")
    spec = load_spec(child)
    assert (spec.stem.type, spec.stem.width, spec.stem.out_channels) == ("cifar", None, 16)


def test_a_child_refines_the_parents_block_options(write):
    child = write("c.yaml", "extends: resnet50\nname: c\nblock: {groups: 32, base_width: 4, attention: se}\n")
    spec = load_spec(child)
    assert (spec.block.type, spec.block.stride_at, spec.block.groups, spec.block.base_width) == (
        "bottleneck", "3x3", 32, 4)
    assert spec.block.attention.type == "se"
    other = write("d.yaml", "extends: resnet50\nname: d\nblock: preact_bottleneck\n")
    assert load_spec(other).block.model_dump() == {"type": "preact_bottleneck", "expansion": 4, "stride_at": "3x3"}


def test_stage_override_in_a_child(write):
    child = write("mixed.yaml",
                  "extends: resnet18\nname: mixed\nstages: [{}, {}, {shortcut: C}, {block: bottleneck}]\n")
    spec = load_spec(child)
    assert [spec.stage_shortcut(i) for i in range(4)] == ["B", "B", "C", "B"]
    assert [spec.stage_block(i).type for i in range(4)] == ["basic", "basic", "basic", "bottleneck"]
    assert spec.depth == 1 + 2 * 6 + 3 * 2 + 1


def test_merge_rules_directly():
    parent = {"name": "p", "stem": "imagenet", "head": {"classes": 10}, "stages": [{"blocks": 1, "width": 8}],
              "tags": [1, 2]}
    child = {"stem": {"width": 4}, "head": None, "stages": [{"blocks": 2}, {"blocks": 3, "width": 9}],
             "tags": [3]}
    assert merge(parent, child) == {
        "name": "p", "stem": {"type": "imagenet", "width": 4},
        "stages": [{"blocks": 2, "width": 8}, {"blocks": 3, "width": 9}], "tags": [3]}
    assert parent["stem"] == "imagenet" and parent["head"] == {"classes": 10}  # inputs untouched


def test_an_error_in_the_parent_points_into_the_parent_file(write):
    parent = write("p.yaml", "name: p\nstages:\n  - {blocks: 1, width: 64}\n  - {blocks: 1, width: 32}\n")
    child = write("c.yaml", "extends: p.yaml\nname: c\nshortcut: A\n")
    run = run_cli("validate", str(child))
    assert run.code == 2
    assert diag_regex(parent, 4, "stages[1].width", "shortcut A cannot shrink channels (64 -> 32)").search(
        run.stderr), run.stderr


# --- errors: each points at the `extends` line of the file that wrote it ------------------------


def test_cycle_is_an_error_at_the_extends_line(write):
    a = write("a.yaml", "# a\nextends: b.yaml\nname: a\n")
    b = write("b.yaml", "# b\n# second comment\nextends: a.yaml\nname: b\n")
    run = run_cli("validate", str(a))
    assert run.code == 2 and "Traceback" not in run.output
    # b.yaml's `extends` closes the cycle a -> b -> a
    assert diag_regex(b, 3, "extends", "extends cycle: a.yaml -> b.yaml -> a.yaml").search(run.stderr), run.stderr
    with pytest.raises(SpecError, match="extends cycle: b.yaml -> a.yaml -> b.yaml"):
        load_spec(b)


def test_self_extension_is_a_cycle(write):
    a = write("self.yaml", "name: s\nextends: self.yaml\n")
    run = run_cli("validate", str(a))
    assert run.code == 2
    assert diag_regex(a, 2, "extends", "extends cycle: self.yaml -> self.yaml").search(run.stderr), run.stderr


def test_cycle_across_folders_shows_tidy_paths(write, tmp_path):
    write("x/a.yaml", "extends: ../y/b.yaml\nname: a\n")
    b = write("y/b.yaml", "name: b\nextends: ../x/a.yaml\n")
    run = run_cli("--allow-extends", str(tmp_path), "validate", str(b))
    assert run.code == 2
    assert "/../" not in run.stderr  # x/../y/b.yaml is written y/b.yaml
    assert "extends cycle: b.yaml -> a.yaml -> b.yaml" in run.stderr


def test_missing_parent_file(write):
    child = write("child.yaml", "name: c\n\nextends: nowhere/parent.yaml\n")
    run = run_cli("validate", str(child))
    assert run.code == 2 and "Traceback" not in run.output
    assert diag_regex(child, 3, "extends", "no such spec file:").search(run.stderr), run.stderr
    assert "parent.yaml" in run.stderr


@pytest.mark.parametrize("ref, hint", [
    ("resnet50x", "(did you mean 'resnet50'?)"),
    ("ResNet34", "(did you mean 'resnet34'?)"),
    ("plain19", "(did you mean 'plain18'?)"),
])
def test_unknown_preset_with_did_you_mean(write, ref, hint):
    child = write("child.yaml", f"name: c\nextends: {ref}\n")
    run = run_cli("validate", str(child))
    assert run.code == 2
    pattern = diag_regex(child, 2, "extends", f"unknown preset '{ref}' {hint}; 'resgraph presets' lists them")
    assert pattern.search(run.stderr), run.stderr


@pytest.mark.parametrize("value, shown", [("50", "50"), ("[resnet18]", "['resnet18']"), ("{a: 1}", "{a: 1}"),
                                          ("''", "''"), ("true", "true")])
def test_extends_must_be_a_string(write, value, shown):
    child = write("child.yaml", f"name: c\n# the parent\nextends: {value}\n")
    run = run_cli("validate", str(child))
    assert run.code == 2 and "Traceback" not in run.output
    pattern = diag_regex(child, 3, "extends", f"must be a preset name or a path to a spec file (received {shown})")
    assert pattern.search(run.stderr), run.stderr


def test_error_in_a_grandparent_chain_is_reported_once(write):
    write("a.yaml", "extends: no_such_preset_zz\nname: a\n")
    write("b.yaml", "extends: a.yaml\nname: b\n")
    c = write("c.yaml", "extends: b.yaml\nname: c\n")
    run = run_cli("validate", str(c))
    assert run.code == 2
    assert run.stderr.count("unknown preset 'no_such_preset_zz'") == 1
    assert run.stderr.startswith(f"{c.parent / 'a.yaml'}:1:1: extends:")


def test_extends_is_resolved_beside_the_file_not_in_the_working_directory(tmp_path, monkeypatch) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "base.yaml").write_text("extends: resnet20\nname: base\n")  # found only beside child.yaml
    (sub / "child.yaml").write_text("extends: base.yaml\nname: child\n")
    (tmp_path / "resnet20").write_text("not: a spec\n")  # a stray file must not shadow the preset
    (sub / "uses_preset.yaml").write_text("extends: resnet20\nname: p\n")
    preset = load_spec("resnet20")
    monkeypatch.chdir(tmp_path)
    assert load_spec("sub/child.yaml").stages == preset.stages
    assert load_spec("sub/uses_preset.yaml").stages == preset.stages


# --- what extends may reach (a spec is data people share: it must not read other files) -------------


@pytest.mark.parametrize("ref", ["/etc/passwd", "../../../../../../etc/passwd", "/etc/shadow"])
def test_extends_never_reads_a_file_that_is_not_a_spec(write, ref):
    child = write("c.yaml", f"extends: {ref}\nname: c\n")
    run = run_cli("validate", str(child))
    assert run.code == 2 and "root:" not in run.output  # nothing of the file is echoed
    assert "not a spec file" in run.stderr and len(run.stderr.splitlines()) == 1


def test_extends_stays_under_the_named_specs_folder(write, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "s.yaml").write_text("name: TOPSECRET-VALUE\nstages: [{blocks: 1, width: 8}]\nzz: TOPSECRET-KEY\n")
    for ref in (str(outside / "s.yaml"), "../secret/s.yaml", "../secret/missing.yaml"):
        child = write("specs/c.yaml", f"extends: {ref}\nname: c\n")
        run = run_cli("validate", str(child))
        assert run.code == 2 and "TOPSECRET" not in run.output
        assert "is outside the folders a spec may extend from" in run.stderr  # even for a missing file
    link = tmp_path / "specs" / "link.yaml"
    link.symlink_to(outside / "s.yaml")  # a link inside that points outside is outside
    child = write("specs/c.yaml", "extends: link.yaml\nname: c\n")
    run = run_cli("validate", str(child))
    assert run.code == 2 and "TOPSECRET" not in run.output and "outside the folders" in run.stderr
    assert "zz: unknown key" in run_cli("--allow-extends", str(outside), "validate", str(child)).stderr  # allowed: read


def test_sub_folders_and_presets_stay_reachable(write):
    write("specs/base/b.yaml", "extends: resnet20\nname: b\n")
    child = write("specs/c.yaml", "extends: base/b.yaml\nname: c\n")
    assert load_spec(child).stages == load_spec("resnet20").stages


def test_control_characters_and_nul_bytes_in_extends_are_one_escaped_line(write):
    esc = write("e.yaml", 'extends: "\\e]0;pwned\\a\\e[31mred"\nname: x\n')
    run = run_cli("validate", str(esc))
    assert run.code == 2 and "\x1b" not in run.output and "\\x1b" in run.stderr
    nul = write("n.yaml", 'extends: "a\\0b.yaml"\nname: x\n')
    run = run_cli("validate", str(nul))
    assert run.code == 2 and "the name holds a NUL byte" in run.stderr


def test_a_spec_named_through_a_link_extends_beside_the_link(write, tmp_path):
    write("store/real.yaml", "extends: base.yaml\nname: r\n")
    write("a/base.yaml", "extends: resnet20\nname: b\n")
    (tmp_path / "a" / "linked.yaml").symlink_to(tmp_path / "store" / "real.yaml")
    assert load_spec(tmp_path / "a" / "linked.yaml").stages == load_spec("resnet20").stages


def test_a_layout_mix_is_told_at_the_childs_line_that_made_it(write):
    """A child of a pre-activation preset that gives stage 0 a basic block is told at its own line, not the preset's."""
    child = write("mix.yaml", "extends: preact_resnet110\nname: mix\nstages:\n"
                              "  - {blocks: 2, width: 16, block: basic}\n  - {blocks: 2, width: 32, stride: 2}\n")
    with pytest.raises(SpecError) as exc:
        load_spec(child)
    [d] = exc.value.diagnostics
    assert (d.location.file, d.location.line) == (str(child), 4) and d.path == ("stages", 0, "block"), d
    assert "basic blocks cannot lead the preact_basic blocks of stage 1" in d.message
    # Where the child wrote the later stage's block, it is told there, as before.
    other = write("mix2.yaml", "extends: resnet18\nname: mix2\nstages:\n  - {}\n  - {block: preact_basic}\n")
    with pytest.raises(SpecError) as exc:
        load_spec(other)
    [d] = exc.value.diagnostics
    assert d.location.line == 5 and d.path == ("stages", 1, "block"), d
