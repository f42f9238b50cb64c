"""Commands that measure sweeps: backends (what runs here) and bench (SPECS x backends x batches x precisions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from resgraph.cli.engine import dry_run as show_dry_run
from resgraph.cli.engine import engine_options, open_runner
from resgraph.cli.measure import (
    check_device,
    check_names,
    csv_list,
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
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
def backends(device: str) -> None:
    """List the benchmark backends, and whether each can run here (with the reason when not)."""
    from resgraph.bench.backends import backend_names, get_backend, unmet_requirement

    for name in backend_names():
        b = get_backend(name)
        runs = [p for p in precision_names() if unmet_requirement(name, device, p) is None]
        state = f"runs here: {', '.join(runs)}" if runs else f"skipped: {unmet_requirement(name, device, 'fp32')}"
        click.echo(f"{name:<14} {b.doc:<50} {state}")


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--backend", "backends", default="eager", show_default=True,
              callback=csv_list(str, "backend names"), help="comma-separated backends (see `resgraph backends`)")
@click.option("--batch", "batches", default="1", show_default=True, callback=csv_list(int, "batch sizes"),
              help="comma-separated batch sizes")
@click.option("--precision", "precisions", default="fp32", show_default=True,
              callback=csv_list(str, "precisions"), help=f"comma-separated: {', '.join(precision_names())}")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("results.jsonl"),
              show_default=True, help="JSON-lines results file; each finished row is appended")
@click.option("--resume", is_flag=True,
              help="skip rows that already have a record in --out, except failures from outside the row "
                   "(killed by a signal, --row-timeout, a lost worker), which are measured again")
@click.option("--retry-failed", is_flag=True,
              help="as --resume, and measure again every row whose record is failed, skipped or mismatch")
@click.option("--torchvision", is_flag=True, help="add torchvision's own model of each spec as a baseline row")
@click.option("--no-roofline", is_flag=True, help="don't measure the matmul peak for %-of-peak")
@click.option("--refresh-peak", is_flag=True,
              help="re-measure the matmul peak now (the cache keeps the best rate ever measured)")
@model_options
@hint_option
@timing_options
@engine_options
def bench(specs: tuple[str, ...], backends: list[str], batches: list[int], precisions: list[str], device: str,
          out: Path, resume: bool, retry_failed: bool, torchvision: bool, no_roofline: bool, refresh_peak: bool,
          weights: Path | None,
          data: str | None, calibration: int, ov_hint: str, warmup: int, iters: int, min_time: float,
          threads: int | None, strict: bool, repeat: int, workers: int | None,
          scheduler: str | None, resources: str, in_process: bool, row_timeout: float | None, retries: int,
          dry_run: bool) -> None:
    """Benchmark the product SPECS x backends x batches x precisions; one JSON record per row.

    Each row runs in its own process (a crash or hang fails that row, not the sweep); --workers or
    --scheduler spread rows over a Dask cluster, one row per device slot at a time.
    """
    from resgraph.bench.settings import EngineSettings, SweepSettings

    check_names(backends, precisions)
    settings = SweepSettings(
        backends=tuple(backends), batches=tuple(batches), precisions=tuple(precisions), device=check_device(device),
        out=out, resume=resume or retry_failed, retry_failed=retry_failed,
        timing=timing_config(warmup, iters, min_time, repeat), threads=threads,
        roofline=not no_roofline, refresh_peak=refresh_peak, calibration=calibration, hint=ov_hint, strict=strict,
        engine=EngineSettings(workers, scheduler, resources, in_process, row_timeout, retries))
    jobs = plan_jobs(specs, torchvision, settings, weights, data)
    if dry_run:  # reads the results file (--resume) but creates, locks and writes nothing
        with open_runner(settings.engine, settings.threads, settings.device) as runner:
            click.echo(show_dry_run(runner, jobs, settings.out, settings.resume, settings.retry_failed,
                                    settings.timing))
        return
    from resgraph import records

    # The file is held from this first check to the last row: an unwritable or busy results file is
    # refused before a cluster starts, and no other sweep can start on it in between.
    with records.writer(settings.out) as results, \
            open_runner(settings.engine, settings.threads, settings.device) as runner:
        _bench(jobs, runner, results, settings)


def plan_jobs(specs: tuple[str, ...], torchvision: bool, settings: Any, weights: Path | None = None,
              data: str | None = None) -> list[Any]:
    """The sweep's rows: every spec (and its torchvision twin) under the settings' product."""
    from resgraph.bench import plan

    return plan(entries_of(specs, torchvision, weights, data), settings.backends, settings.batches, settings.precisions,
                settings.device, settings.calibration, settings.hint)


def _bench(jobs: list[Any], runner: Any, results: Any, settings: Any) -> None:
    from resgraph.bench import format_table, run_sweep
    from resgraph.bench.comparison import SWEEP_COLUMNS, with_agreement
    from resgraph.bench.dask_runner import DaskRunner

    out = settings.out
    if out.is_file() and not settings.resume and out.stat().st_size:
        click.echo(f"note: appending to existing {out} (use --resume to skip rows already there)", err=True)
    refresh = settings.refresh_peak and settings.roofline
    if refresh and isinstance(runner, DaskRunner) and runner.slots is None:
        raise UsageError("--refresh-peak measures this host's matmul peak; the workers of --scheduler keep their "
                         "own: run it without --scheduler on each host")
    if refresh:
        from resgraph.bench.backends import get_backend, unmet_requirement
        from resgraph.bench.env import default_threads
        from resgraph.bench.roofline import peak_gflops

        device = settings.device
        runnable = {(j.precision, get_backend(j.backend).peak_engine(j.precision)) for j in jobs
                    if unmet_requirement(j.backend, device, j.precision) is None}
        for p, engine in sorted(runnable):
            peak = peak_gflops(device, runner.threads or settings.threads or default_threads(), p, refresh=True,
                               engine=engine)
            click.echo(f"matmul peak on {device} ({p}, {engine}): {peak:.1f} GFLOP/s", err=True)
    recs = run_sweep(jobs, results, resume=settings.resume, timing=settings.timing, threads=settings.threads,
                     roofline=settings.roofline, runner=runner, retries=settings.engine.retries,
                     retry_failed=settings.retry_failed)
    click.echo(format_table(recs, with_agreement(with_spread(SWEEP_COLUMNS, settings.timing.repeat), recs)))
    click.echo(f"{len(recs)} row{'' if len(recs) == 1 else 's'} in {out}")
    finish(recs, settings.strict, settings.out)
