"""The registries: every registered kind is reachable from a spec file and builds; unknown kinds are errors,
never fallbacks; a new kind is one module and its registration."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from resgraph.errors import ResgraphError
from resgraph.graph import compile_spec, lint, run_passes
from resgraph.kinds import ATTENTION, BLOCKS, SHORTCUTS, STEMS, UnknownKindError
from resgraph.kinds.base import StemKind
from resgraph.kinds.registry import Registry
from resgraph.lower import build_model
from resgraph.spec import load_spec, preset_names

REPO = Path(__file__).resolve().parents[2]


def tiny(block: str, shortcut: str, stem: str, residual: bool = True) -> str:
    return (f"name: t\ninput: {{size: 32}}\nstem: {{type: {stem}, width: 8}}\nblock: {block}\nshortcut: {shortcut}\n"
            f"residual: {str(residual).lower()}\nstages: [{{blocks: 2, width: 8}}, {{blocks: 1, width: 16, stride: 2}}]\n"
            "head: {classes: 3}\n")


COMBOS = [*itertools.product(BLOCKS.names(), SHORTCUTS.names(), STEMS.names()),
          *((f"{{type: {b.name}, attention: {a}}}", "B", "cifar") for b in BLOCKS if "attention" in b.Options.model_fields
            for a in ATTENTION.names())]


@pytest.mark.parametrize("block, shortcut, stem", COMBOS)
def test_every_kind_is_reachable_from_a_spec_file_and_builds(tmp_path, block, shortcut, stem):
    path = tmp_path / "t.yaml"
    path.write_text(tiny(block, shortcut, stem))
    spec = load_spec(path)
    g = run_passes(compile_spec(spec))
    assert g.graph["depth"] == spec.depth  # declared depths add up to the graph's longest path
    assert g.graph["params"] == sum(p.numel() for p in build_model(spec).parameters())
    model = build_model(g, seed=0).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    kinds = {b["shortcut"] for b in g.graph["blocks"]}
    assert shortcut in kinds and kinds <= {shortcut, "identity"}  # stage 2 downsamples: every option acts there


def test_plain_twins_of_every_block_type_have_no_shortcut(tmp_path):
    for block in BLOCKS.names():
        path = tmp_path / f"{block}.yaml"
        path.write_text(tiny(block, "B", "cifar", residual=False))
        g = compile_spec(load_spec(path))
        lint(g)
        assert not any(a["op"] == "add" or a["role"] == "shortcut" for _, a in g.nodes(data=True))
        assert {b["shortcut"] for b in g.graph["blocks"]} == {"none"}


def test_unknown_kinds_are_errors_never_fallbacks():
    spec = load_spec("resnet18")
    for forged in ({"shortcut": "E"}, {"stem": spec.stem.model_copy(update={"type": "vit"})},
                   {"block": spec.block.model_copy(update={"type": "preact"})}):
        with pytest.raises(UnknownKindError) as info:
            compile_spec(spec.model_copy(update=forged))
        assert isinstance(info.value, ResgraphError) and "; known: " in str(info.value)
    with pytest.raises(UnknownKindError, match=r"unknown block type 'preact' \(did you mean 'preact_basic'\?\); "
                                               r"known: basic, bottleneck"):
        BLOCKS["preact"]


def test_a_registry_refuses_a_name_twice_and_a_type_that_is_not_its_name():
    reg: Registry[StemKind] = Registry("stem")
    reg.register(type(STEMS["cifar"]))
    with pytest.raises(ValueError, match="registered twice"):
        reg.register(type(STEMS["cifar"]))

    class Misnamed(type(STEMS["imagenet"])):  # type: ignore[misc]
        name = "imagenet2"

    with pytest.raises(ValueError, match=r"Options.type must be Literal\['imagenet2'\]"):
        reg.register(Misnamed)


NEW_KIND = '''
"""A block type added by a user: two 3x3 convs with a 1x1 in between (one module, one registration)."""
from typing import Literal

from resgraph.kinds.base import BLOCKS, BlockContext, BlockKind, BlockOptions
from resgraph.kinds.layouts import RESNET


class SandwichOptions(BlockOptions):
    type: Literal["sandwich"] = "sandwich"


@BLOCKS.register
class Sandwich(BlockKind):
    name, label, colour, origin = "sandwich", "sandwich", "#ffffff", "a test"
    depth, layout, out_act, Options = 3, RESNET, "relu3", SandwichOptions

    def emit(self, k: BlockContext, o: SandwichOptions) -> str:
        y = k.relu("relu1", k.bn("bn1", k.conv("conv1", k.x, k.c_in, k.c_out, 3, k.stride), k.c_out))
        y = k.relu("relu2", k.bn("bn2", k.conv("conv2", y, k.c_out, k.c_out, 1), k.c_out))
        return k.bn("bn3", k.conv("conv3", y, k.c_out, k.c_out, 3), k.c_out, last=True)
'''


def test_a_new_block_type_is_one_module_and_its_registration(tmp_path):
    (tmp_path / "sandwich.py").write_text(NEW_KIND)
    (tmp_path / "s.yaml").write_text(tiny("sandwich", "B", "cifar"))
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import resgraph.kinds, sandwich  # registered before the spec models are built
        from click.testing import CliRunner
        from resgraph.cli import main
        r = CliRunner()
        print(r.invoke(main, ["validate", {str(tmp_path / "s.yaml")!r}]).output)
        print(r.invoke(main, ["summary", {str(tmp_path / "s.yaml")!r}, "--json"]).output)
        schema = json.loads(r.invoke(main, ["schema"]).output)
        print("sandwich" in schema["properties"]["block"]["anyOf"][0]["enum"])
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "ok    " in run.stdout and "depth 11, 2 stages" in run.stdout  # stem conv + 3 blocks x 3 + fc
    assert '"block": "sandwich"' in run.stdout and run.stdout.rstrip().endswith("True")


def test_readme_lists_every_registered_kind_and_preset():
    readme = (REPO / "README.md").read_text()
    for what, registry in (("block", BLOCKS), ("shortcut", SHORTCUTS), ("stem", STEMS), ("attention", ATTENTION)):
        for name in registry.names():
            assert f"| {what} | `{name}` |" in readme, f"README's design-space table lacks {what} {name}"
    for name in preset_names():
        assert f"`{name}`" in readme, f"README's preset table lacks {name}"


def test_extending_doc_shows_the_code_as_it_is():
    """docs/extending.md quotes the diff that added option D: its added file is the file in the tree."""
    doc = (REPO / "docs" / "extending.md").read_text()
    diff = doc.split("```diff\n", 1)[1].split("\n```", 1)[0]
    added = diff.split("+++ b/resgraph/kinds/shortcuts/option_d.py\n", 1)[1].split("\n", 1)[1]
    quoted = [ln[1:] for ln in added.splitlines() if ln.startswith("+")]
    current = (REPO / "resgraph/kinds/shortcuts/option_d.py").read_text().splitlines()
    assert len(quoted) == len(current)
    changed = [(q, c) for q, c in zip(quoted, current, strict=False) if q != c]
    assert [c.split("=")[0] for _, c in changed] == ["    label "]  # the one later edit, which the doc tells


def test_a_kind_registered_after_the_spec_models_are_built_is_refused():
    class Late(type(SHORTCUTS["B"])):  # type: ignore[misc]
        name = "Z"

    with pytest.raises(RuntimeError, match="registered after resgraph.spec was imported"):
        SHORTCUTS.register(Late)
    assert "Z" not in SHORTCUTS


def test_kinds_command_lists_every_registered_kind_with_its_options_and_origin():
    from click.testing import CliRunner

    from resgraph.cli import main

    out = CliRunner().invoke(main, ["kinds"]).output
    rows = {tuple(line.split()[:2]) for line in out.splitlines()[1:]}
    for what, registry in (("block", BLOCKS), ("shortcut", SHORTCUTS), ("stem", STEMS), ("attention", ATTENTION)):
        for kind in registry:
            assert (what, kind.name) in rows and kind.origin in out
    assert "expansion (4), stride_at (3x3), groups (1), base_width (64), attention (none)" in out
    assert "width (64), mid (auto)" in out and "reduction (16), divisor (8)" in out
