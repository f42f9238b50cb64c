"""The compare command: several specs measured side by side, speed relative to the first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from resgraph.cli.measure import (
    check_device,
    check_names,
    entries_of,
    finish,
    hint_option,
    model_options,
    timing_config,
    timing_options,
    with_spread,
)
from resgraph.errors import UsageError
from resgraph.precision import precision_names


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--backend", default="eager", show_default=True, help="one backend")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="images per call")
@click.option("--precision", default="fp32", show_default=True, help=f"one of {', '.join(precision_names())}")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
@click.option("--shortcuts", is_flag=True,
              help="compare every shortcut option (see `resgraph kinds`) and the plain twin of each SPEC")
@click.option("--torchvision", is_flag=True, help="add torchvision's own model of each spec as a baseline row")
@model_options
@hint_option
@timing_options
def compare(specs: tuple[str, ...], backend: str, batch: int, precision: str, device: str, shortcuts: bool,
            torchvision: bool, weights: Path | None, data: str | None, calibration: int, ov_hint: str, warmup: int,
            iters: int, min_time: float, threads: int | None, strict: bool, repeat: int) -> None:
    """Benchmark several specs and print one side-by-side table (speed relative to the first)."""
    from resgraph.bench import compare as run_compare
    from resgraph.bench import format_table
    from resgraph.bench.comparison import COMPARE_COLUMNS, with_agreement

    check_names([backend], [precision])
    check_device(device)
    refs: list[Any] = list(specs)
    if shortcuts:
        from resgraph.entries import shortcut_variants
        from resgraph.graph.load import load_spec

        refs = [v for ref in specs for v in shortcut_variants(load_spec(ref))]
    if weights is not None and shortcuts:
        raise UsageError("--weights with --shortcuts: one state_dict cannot fit every shortcut option's network")
    entries = entries_of(tuple(refs), torchvision, weights, data)
    rows = run_compare(entries, backend, batch, device, precision,
                       timing=timing_config(warmup, iters, min_time, repeat), threads=threads, calibration=calibration,
                       hint=ov_hint)
    click.echo(format_table(rows, with_agreement(with_spread(COMPARE_COLUMNS, repeat), rows)))
    finish(rows, strict)
