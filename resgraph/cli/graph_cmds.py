"""Commands about the compiled graph: summary (per-stage counts) and graph (export a picture or data)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from resgraph.graph import compile_spec
from resgraph.graph.analyze import DTYPE_BYTES, GraphSummary, StageSummary, analyze
from resgraph.graph.export import FORMATS, RENDERED, View, check_format, export_graph, renderer
from resgraph.graph.load import load_spec
from resgraph.units import human, human_bytes


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _table(rows: list[list[str]], right: set[int]) -> str:
    """Left-align column 0 and those not in ``right``; pad to the widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False))
        ).rstrip()
        for r in rows
    )


def format_summary(s: GraphSummary, dtype: str = "fp32") -> str:
    """The per-stage table of one network, with a totals row."""
    rows = [["stage", "output", "blocks", "params", "MACs", "activations", "block", "shortcut"]]
    for st in s.stages:
        rows.append([st.name, _shape(st.output_shape), str(st.blocks) if st.blocks else "-", human(st.params),
                     human(st.macs), human_bytes(st.activations_bytes), st.block or "-", st.shortcut or "-"])
    rows.append(["total", "", str(s.blocks), human(s.params), human(s.macs), human_bytes(s.activations_bytes),
                 "", ""])
    head = (f"{s.name} ({s.design}): input {_shape(s.input_shape)} -> {_shape(s.output_shape)}, depth {s.depth}, "
            f"activations at batch {s.batch}, {dtype}")
    return head + "\n" + _table(rows, right={2, 3, 4, 5})


def _stage_rows(summaries: list[GraphSummary]) -> list[list[str]]:
    """Per-stage rows (out, blocks, params, MACs) for every stage name any network has, stem first, head last."""
    def order(st: StageSummary) -> tuple[int, int]:
        return (2, 0) if st.name == "head" else (0, 0) if st.name == "stem" else (1, st.index)

    names: dict[str, tuple[int, int]] = {}
    for s in summaries:
        for st in s.stages:
            names.setdefault(st.name, order(st))
    by_name = [{st.name: st for st in s.stages} for s in summaries]
    rows: list[list[str]] = []
    for name in sorted(names, key=names.__getitem__):
        cells = [b.get(name) for b in by_name]
        fields = [("out", lambda st: _shape(st.output_shape))]
        if name not in ("stem", "head"):
            fields.append(("blocks", lambda st: str(st.blocks)))
        fields += [("params", lambda st: human(st.params)), ("MACs", lambda st: human(st.macs))]
        for label, get in fields:
            rows.append([f"{name} {label}"] + [get(st) if st else "-" for st in cells])
    return rows


def format_side_by_side(summaries: list[GraphSummary], dtype: str = "fp32") -> str:
    """One column per network: totals first, then the per-stage rows."""
    rows = [[""] + [s.name for s in summaries],
            ["input"] + [_shape(s.input_shape) for s in summaries],
            ["block"] + [s.block for s in summaries],
            ["stem"] + [s.stem for s in summaries],
            ["shortcut"] + [s.shortcut for s in summaries],
            ["params"] + [human(s.params) for s in summaries],
            ["MACs (G)"] + [f"{s.macs / 1e9:#.4g}" for s in summaries],
            ["depth"] + [str(s.depth) for s in summaries],
            ["blocks"] + [str(s.blocks) for s in summaries],
            [f"activations ({dtype}, batch {summaries[0].batch})"] + [human_bytes(s.activations_bytes)
                                                                    for s in summaries]]
    rows += _stage_rows(summaries)
    return _table(rows, right=set(range(1, len(summaries) + 1)))


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--json", "as_json", is_flag=True, help="print JSON (exact integers); a list for several specs")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="batch size for the activation bytes")
@click.option("--dtype", type=click.Choice(list(DTYPE_BYTES)), default="fp32", show_default=True,
              help="element type for the activation bytes")
def summary(specs: tuple[str, ...], as_json: bool, batch: int, dtype: str) -> None:
    """Params, MACs (conv + fc multiply-accumulates), depth and activations, per stage and in total.

    Several SPECs print side by side, one column each.
    """
    results = [analyze(compile_spec(load_spec(ref)), batch, DTYPE_BYTES[dtype]) for ref in specs]
    if as_json:
        data = [r.to_dict() | {"dtype": dtype} for r in results]
        click.echo(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    elif len(results) == 1:
        click.echo(format_summary(results[0], dtype))
    else:
        click.echo(format_side_by_side(results, dtype))


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=f"file to write; its extension picks the format: {', '.join(FORMATS)}")
@click.option("--view", type=click.Choice(["op", "block"]), default="op", show_default=True,
              help="op: one node per operation; block: one node per residual block, stages as clusters")
@click.option("--collapse", is_flag=True,
              help="draw each run of 3 or more identical blocks as its first block and one node (pictures only)")
def graph(spec: str, output: Path, view: View, collapse: bool) -> None:
    """Export the graph of SPEC: DOT, SVG/PNG, GraphML or node-link JSON.

    SVG/PNG are drawn by Graphviz's dot where it is on the PATH, else by matplotlib (the same picture, a
    simpler layout); the closing line says which.
    """
    ext = check_format(output)  # before compiling: a typo in the name fails fast
    drawn_by = renderer(ext) if ext in RENDERED else None  # neither dot nor matplotlib: fails here too
    g = compile_spec(load_spec(spec))
    if drawn_by and g.number_of_nodes() > 1000:
        hint = "" if collapse else "; --collapse draws runs of identical blocks once"
        click.echo(f"drawing {g.number_of_nodes():,} ops with {drawn_by} ({view} view); a big net takes a "
                   f"while{hint}", err=True)
    export_graph(g, output, view, collapse)
    how = ""
    if drawn_by:
        how = ", drawn by Graphviz dot" if drawn_by == "Graphviz dot" else \
            ", drawn by matplotlib: Graphviz 'dot' is not on PATH"
    click.echo(f"wrote {output} ({view} view of {g.graph['name']}{how})")
