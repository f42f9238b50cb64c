"""Commands about spec files: validate, schema, presets, show.

The spec package and the kinds registry (pydantic models) are imported inside each command, so that
`resgraph --help`, which imports this module for the commands' one-line help, does not build them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from resgraph.errors import printable

if TYPE_CHECKING:
    from resgraph.kinds.base import BlockOptions


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("-q", "--quiet", is_flag=True, help="print only failures")
def validate(specs: tuple[str, ...], quiet: bool) -> None:
    """Check spec files or presets; report every problem; exit 0 only if all are valid."""
    from resgraph.graph.load import check_ref

    failed = 0
    for ref in specs:
        result = check_ref(ref)
        for diag in result.diagnostics:
            click.echo(str(diag), err=True)
        if result.errors:
            failed += 1
            n = len(result.errors)
            click.echo(f"FAIL  {printable(ref)}: {n} error{'s' if n != 1 else ''}")
        elif not quiet:
            spec = result.spec
            assert spec is not None
            note = f", {len(result.warnings)} warning(s)" if result.warnings else ""
            click.echo(f"ok    {printable(ref)}: {spec.name}, depth {spec.depth}, {len(spec.stages)} stages{note}")
    if len(specs) > 1 and not quiet:
        click.echo(f"{len(specs) - failed} of {len(specs)} valid")
    if failed:
        raise click.exceptions.Exit(2)


@click.command()
def schema() -> None:
    """Print the JSON Schema of spec files (for editors such as yaml-language-server)."""
    from resgraph.spec.schema import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2))


@click.command()
def kinds() -> None:
    """List the design space: every registered block type, shortcut option, stem and attention kind."""
    from resgraph.kinds import ATTENTION, BLOCKS, SHORTCUTS, STEMS

    rows = [("kind", "name", "options (default)", "origin")]
    for what, registry in (("block", BLOCKS), ("shortcut", SHORTCUTS), ("stem", STEMS), ("attention", ATTENTION)):
        for k in registry:
            fields = {n: f for n, f in k.Options.model_fields.items() if n != "type"}
            options = ", ".join(f"{n} ({_default(k, n, f)})" for n, f in fields.items()) or "-"
            rows.append((what, k.name, options, k.origin))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[3])


def _default(kind: Any, name: str, field: Any) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None and name == "width" and hasattr(kind, "default_width"):
        return str(kind.default_width)
    if value is None:
        return "none" if name == "attention" else "auto"  # derived from other values (a stem's mid, ECA's kernel)
    return value.type if hasattr(value, "type") else str(value)


@click.command()
def presets() -> None:
    """List the bundled presets."""
    from resgraph.graph.load import load_spec
    from resgraph.spec import preset_names

    rows = [("name", "depth", "block", "stem", "shortcut", "input", "classes")]
    for name in preset_names():
        s = load_spec(name)
        kinds = dict.fromkeys(_block_text(s.stage_block(i)) for i in range(len(s.stages)))
        shortcut = s.shortcut if s.residual else "plain"
        rows.append((name, str(s.depth), "/".join(kinds), s.stem.type, shortcut, "x".join(map(str, s.input.hw)),
                     str(s.head.classes)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo(
            "  ".join(
                c.rjust(w) if i == 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False))
            ).rstrip()
        )


def _block_text(o: BlockOptions) -> str:
    """``bottleneck``, ``bottleneck+se``: a block type and its attention, without spaces."""
    attention = getattr(o, "attention", None)
    return o.type + (f"+{attention.type}" if attention is not None else "")


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of YAML")
def show(spec: str, as_json: bool) -> None:
    """Print a spec with its `extends:` chain resolved and every default filled in."""
    from resgraph.graph.load import load_spec
    from resgraph.spec import dump_spec

    click.echo(dump_spec(load_spec(spec), "json" if as_json else "yaml"), nl=False)
