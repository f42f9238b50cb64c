"""The compare command: several specs measured side by side, speed relative to the first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from resgraph.cli.measure import (
    check_device,
    check_names,
    compare_timing_options,
    csv_list,
    entries_of,
    finish,
    hint_option,
    model_options,
    timing_config,
    with_spread,
)
from resgraph.errors import UsageError
from resgraph.precision import precision_names


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--backend", "backends", default="eager", show_default=True, callback=csv_list(str, "backend names"),
              help="comma-separated backends (see `resgraph backends`): each compares the specs on its own")
@click.option("--batch", "batches", default="1", show_default=True, callback=csv_list(int, "batch sizes"),
              help="comma-separated batch sizes (images per call)")
@click.option("--precision", default="fp32", show_default=True, help=f"one of {', '.join(precision_names())}")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
@click.option("--shortcuts", is_flag=True,
              help="compare every shortcut option (see `resgraph kinds`) and the plain twin of each SPEC")
@click.option("--torchvision", is_flag=True,
              help="add torchvision's own model of each spec that has one as a baseline row (the others are named)")
@model_options
@hint_option
@compare_timing_options
def compare(specs: tuple[str, ...], backends: list[str], batches: list[int], precision: str, device: str,
            shortcuts: bool, torchvision: bool, weights: Path | None, data: str | None, calibration: int, ov_hint: str,
            warmup: int, iters: int, min_time: float, threads: int | None, strict: bool, repeat: int | str) -> None:
    """Benchmark several specs side by side: speed relative to the first, its 95 % interval and a verdict.

    One table: each spec's speed relative to the first (per backend and batch), its 95 % interval over the
    interleaved rounds and the verdict (faster, slower, no significant difference)."""
    from resgraph.bench import compare as run_compare
    from resgraph.bench import format_table
    from resgraph.bench.comparison import COMPARE_COLUMNS, with_agreement
    from resgraph.bench.significance import LEVEL

    check_names(backends, [precision])
    check_device(device)
    refs: list[Any] = list(specs)
    if shortcuts:
        from resgraph.entries import shortcut_variants
        from resgraph.graph.load import load_spec

        refs = [v for ref in specs for v in shortcut_variants(load_spec(ref))]
    if weights is not None and shortcuts:
        raise UsageError("--weights with --shortcuts: one state_dict cannot fit every shortcut option's network")
    entries = entries_of(tuple(refs), torchvision, weights, data)
    rows = run_compare(entries, backends, batches, device, precision,
                       timing=timing_config(warmup, iters, min_time, repeat), threads=threads, calibration=calibration,
                       hint=ov_hint)
    columns = with_spread(COMPARE_COLUMNS, repeat)
    if len(backends) > 1 or len(batches) > 1:  # each backend and batch compares the specs on its own
        columns = (columns[0], ("backend", "backend"), ("batch", "batch"), *columns[1:])
    click.echo(format_table(rows, with_agreement(columns, rows)))
    level = next((r.diff.level for r in rows if r.diff), LEVEL)
    shared = f" ({LEVEL:.0%} shared by --repeat auto's looks)" if level != LEVEL else ""
    click.echo(f"speed: the first spec's p50 over each row's, per backend and batch; interval and verdict at "
               f"{level:.1%}{shared}: a paired t-test over the rounds' medians "
               "(docs/bench-harness.md#comparing-models)")
    finish(rows, strict)
