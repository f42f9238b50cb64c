"""Commands that present results: report (tables and plots of a results file) and demo (the main job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from resgraph.atomic import ensure_folder
from resgraph.cli.measure import (
    check_names,
    csv_list,
    finish,
    timing_config,
    timing_options,
    with_spread,
    write_or_refuse,
)
from resgraph.cli.values import finite
from resgraph.errors import UsageError


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                metavar="RESULTS [AFTER]")
@click.option("-o", "--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("report"),
              show_default=True, help="folder for results.md, results.csv, the plots and index.html (made if missing)")
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=None,
    help="batch for the spec-comparison bars and MACs scatter [default: smallest]; not used for training files",
)
@click.option("--no-plots", is_flag=True, help="tables only (no matplotlib or plotly needed; no index.html)")
@click.option("--fail-above", type=click.FloatRange(min=0, max=1e6), default=None, metavar="PCT", callback=finite,
              help="with two files: exit 1 when a row is significantly slower after, by more than PCT %")
def report(results: tuple[Path, ...], out_dir: Path, batch: int | None, no_plots: bool,
           fail_above: float | None) -> None:
    """Write Markdown and CSV tables, PNG/SVG plots and index.html from a results file (of `bench` or of `train`).

    index.html is one self-contained page that opens offline: the run's provenance, a spec x backend
    table, interactive plots and the block pictures.

    A training file gives the final errors (mean ± std over seeds) and the paper's Fig. 6 curves.
    Two results files (before, after) give a diff instead: each row's time ratio, interval and verdict.
    """
    if len(results) == 2:
        from resgraph.cli.diff_cmd import before_after

        return before_after(*results, fail_above)
    if len(results) > 2:
        raise UsageError(f"report: one results file, or two to diff (received {len(results)})")
    if fail_above is not None:
        raise UsageError("--fail-above: needs two results files (before, after) to diff")
    path = results[0]
    from resgraph.bench import write_report
    from resgraph.train.records import is_train_file
    from resgraph.train.report import write_train_report

    click.echo(f"writing the report of {path} to {out_dir}/...", err=True)
    if is_train_file(path):
        def write(path: Path, out: Path, *, bar_batch: int | None, plots: bool) -> list[Path]:
            return write_train_report(path, out, plots=plots)
    else:
        write = write_report
    for written in write_or_refuse(path, out_dir, batch, not no_plots, write):
        click.echo(str(written))


@click.command()
@click.option("--network", default="resnet18", show_default=True,
              help="the spec (file or preset) whose shortcut options are compared")
@click.option("--backend", "backends", default="eager,channels_last", show_default=True,
              callback=csv_list(str, "backend names"), help="comma-separated backends (see `resgraph backends`)")
@click.option("--batch", "batches", default="1,8", show_default=True, callback=csv_list(int, "batch sizes"),
              help="comma-separated batch sizes")
@click.option("-o", "--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="folder for results.jsonl, the tables and the plots (replaced each run)")
@click.option("--train", "train_steps", type=click.IntRange(min=1), default=None, is_flag=False, flag_value=300,
              help="instead: train plain-20/56 and resnet-20/56 on the bundled digits for N steps [N: 300] and draw "
                   "the paper's Fig. 6 (about a minute on a quiet 2-core machine; --network, --backend, --batch "
                   "and the timing options don't apply)")
@timing_options
def demo(network: str, backends: list[str], batches: list[int], out_dir: Path, warmup: int, iters: int,
         min_time: float, threads: int | None, strict: bool, repeat: int, train_steps: int | None) -> None:
    """The main job on the CPU: every shortcut option and the plain twin of one network, side by side.

    Summarises the variants, benchmarks them, prints the comparison and
    writes results.jsonl, Markdown/CSV tables, plots and index.html to --out-dir.
    With --train, the paper's other axis instead: how well plain and residual nets train.
    """
    if train_steps is not None:
        from resgraph.cli.train_cmds import training_demo

        return training_demo(out_dir, train_steps, threads)
    from resgraph.bench import format_table, plan, run_sweep, write_report
    from resgraph.bench.comparison import relative_to_first
    from resgraph.entries import shortcut_variants, spec_entry
    from resgraph.graph.load import load_spec
    from resgraph.kinds import SHORTCUTS

    check_names(backends, ["fp32"])
    ensure_folder(out_dir)
    variants = shortcut_variants(load_spec(network))
    entries = [spec_entry(v) for v in variants]
    results = out_dir / "results.jsonl"  # replaced by run_sweep, under the results file's lock
    click.echo(f"resgraph demo: {network} with shortcut options {', '.join(SHORTCUTS.names())} and without "
               "shortcuts (plain), "
               f"backends {', '.join(backends)}, batch {', '.join(map(str, batches))}, CPU", err=True)
    jobs, timing = plan(entries, backends, batches, ["fp32"], "cpu"), timing_config(warmup, iters, min_time, repeat)
    click.echo(_demo_eta(jobs, timing, threads), err=True)
    records = run_sweep(jobs, results, timing=timing, threads=threads, replace=True)
    first = {(r.backend, r.batch): r for r in records if r.spec == entries[0].name}
    rows = [relative_to_first([r], first.get((r.backend, r.batch)))[0] for r in records]
    click.echo(format_table(rows, with_spread(DEMO_COLUMNS, repeat)))
    for path in write_or_refuse(results, out_dir, min(batches), True, write_report):
        click.echo(f"wrote {path}")
    finish(records, strict)


def _demo_eta(jobs: list[Any], timing: Any, threads: int | None) -> str:
    """How long the demo will take here, and the quicker run, before it starts (resgraph.bench.eta)."""
    from resgraph.bench.env import default_threads
    from resgraph.bench.eta import machine_speed_ms, sweep_seconds
    from resgraph.units import human_duration

    speed = machine_speed_ms(threads or default_threads())
    quick = [j for j in jobs if j.backend == jobs[0].backend and j.batch == min(j.batch for j in jobs)]
    took, quicker = (human_duration(sweep_seconds(js, timing, speed)) for js in (jobs, quick))
    hint = "" if len(quick) == len(jobs) else f"; --backend {quick[0].backend} --batch {quick[0].batch} takes {quicker}"
    return (f"{len(jobs)} rows, {took} on this machine now (its speed index {speed:.2g} ms; a quiet 2-core VM "
            f"reads about 1.5){hint}")


DEMO_COLUMNS = (
    ("spec", "model"), ("params", "params"), ("macs", "MACs"), ("depth", "depth"), ("backend", "backend"),
    ("batch", "batch"), ("p50_ms", "p50 ms"), ("cv", "cv"), ("throughput", "img/s"), ("relative", "speed vs A"),
    ("status", "status"),
)
