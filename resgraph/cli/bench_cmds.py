"""Commands that measure: bench (sweeps), compare (side by side), report (tables, plots), demo."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from resgraph.atomic import ensure_folder
from resgraph.cli.engine import dry_run as show_dry_run
from resgraph.cli.engine import engine_options, open_runner
from resgraph.cli.values import finite
from resgraph.errors import UsageError
from resgraph.kinds import SHORTCUTS
from resgraph.precision import CALIBRATION_BATCHES, get_precision, precision_names


def _csv(kind: Callable[[str], Any], what: str) -> Callable[[click.Context, click.Parameter, str], list[Any]]:
    """A click callback parsing a comma-separated list (`--batch 1,8,32`)."""

    def parse(ctx: click.Context, param: click.Parameter, value: str) -> list[Any]:
        items = [v.strip() for v in value.split(",") if v.strip()]
        if not items:
            raise click.BadParameter(f"expected a comma-separated list of {what}")
        try:
            out = [kind(v) for v in items]
        except ValueError:
            raise click.BadParameter(f"expected a comma-separated list of {what} (received {value!r})") from None
        if kind is int and any(v < 1 for v in out):
            raise click.BadParameter(f"every {what[:-1]} must be >= 1 (received {value!r})")
        return out

    return parse


def _check_device(device: str) -> str:
    """cpu, cuda or cuda:N; anything else is a typo, not a sweep of skipped rows."""
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise UsageError(f"--device: expected cpu, cuda or cuda:N (received {device!r})")
    return device


def _check_names(backends: list[str], precisions: list[str]) -> None:
    from resgraph.bench.backends import get_backend

    for b in backends:
        get_backend(b, "--backend")  # one line with a "did you mean" and the known names
    for p in precisions:
        get_precision(p, "--precision")


def _timing(warmup: int, iters: int, min_time: float, repeat: int = 1) -> Any:
    from resgraph.bench.timing import TimingConfig

    return TimingConfig(warmup=warmup, iters=iters, min_time_s=min_time, repeat=repeat)


def timing_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every measuring command."""
    f = click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
                     help="measure every row N times in interleaved rounds (all rows, then all again) and report "
                          "the median of the rounds' medians and their spread")(f)
    f = click.option("--strict", is_flag=True,
                     help=f"exit {EXIT_UNSTABLE} when any row is unstable (its timings varied, or its threads "
                          "were starved: see docs/bench-harness.md)")(f)
    f = click.option("--threads", type=click.IntRange(min=1, max=4096), default=None,
                     help="intra-op threads for torch and ONNX Runtime [default: the CPUs this process may use: "
                          "physical cores, affinity mask and cgroup quota]")(f)
    f = click.option("--min-time", type=click.FloatRange(min=0, max=3600), default=0.5, show_default=True,
                     callback=finite, help="keep timing until this many seconds have been sampled")(f)
    f = click.option("--iters", type=click.IntRange(min=1), default=30, show_default=True,
                     help="timed iterations per row (at least)")(f)
    f = click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True,
                     help="untimed iterations before timing")(f)
    return f


EXIT_FAILED = 3    # a row failed, did not match fp32 eager, or no row could be measured
EXIT_UNSTABLE = 4  # --strict, and a row is unstable


def _finish(records: list[dict[str, Any]], strict: bool) -> None:
    """Say once what went wrong or cannot be trusted, and exit with the documented code."""
    shaky = [r for r in records if r.get("unstable")]
    if shaky:
        names = "; ".join(f"{_label(r)} ({r['unstable']})" for r in shaky)
        click.echo(f"warning: {len(shaky)} of {len(records)} rows are unstable (their timings varied, or their "
                   f"threads did not get the CPU they asked for): {names}. Re-run them with a longer --min-time, "
                   "on a quieter machine, or with fewer --threads.", err=True)
    if records and all(r["status"] == "skipped" for r in records):  # a CI job must not pass having measured nothing
        click.echo(f"error: no row was measured: all {len(records)} were skipped ({records[0]['reason']})", err=True)
        raise click.exceptions.Exit(EXIT_FAILED)
    bad = [r for r in records if r["status"] in ("failed", "mismatch")]
    for r in bad:
        click.echo(f"{r['status']}: {_label(r)}: {r['reason']}", err=True)
    if bad:
        raise click.exceptions.Exit(EXIT_FAILED)
    if strict and shaky:
        raise click.exceptions.Exit(EXIT_UNSTABLE)


def _spread(columns: Any, repeat: int) -> Any:
    """``columns`` with the rounds' spread after cv, when rows were measured in rounds."""
    if repeat == 1:
        return columns
    i = [k for k, _ in columns].index("cv") + 1
    return (*columns[:i], ("round_spread", "rounds spread"), *columns[i:])


def _label(r: dict[str, Any]) -> str:
    return f"{r['spec']}/{r['backend']}/{r['precision']}/b{r['batch']}"


def _entries(
    specs: tuple[str, ...], torchvision: bool, weights: Path | None = None, data: str | None = None
) -> list[Any]:
    from resgraph.entries import spec_entry, torchvision_entry
    from resgraph.graph.load import load_spec

    if weights is not None and len(specs) > 1:
        raise UsageError(f"--weights: one state_dict is for one spec (received {len(specs)} specs)")
    out = []
    for ref in specs:
        spec = load_spec(ref)
        entry = spec_entry(spec, weights, data)
        if torchvision:
            out.append(torchvision_entry(spec, entry, weights))
        out.append(entry)
    return out


def model_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--weights, --data and --calibration: what a row's model holds, is calibrated on and checked with."""
    f = click.option("--calibration", type=click.IntRange(min=1), default=CALIBRATION_BATCHES, show_default=True,
                     help="batches (of the row's batch size) an int8 row is calibrated on: from --data's training "
                          "split, else seeded random images")(f)
    f = click.option("--data", default=None, metavar="NAME",
                     help="data set (as `resgraph train --data`: digits, synthetic, cifar10:PATH, folder:PATH) int8 "
                          "rows calibrate on and are checked with; with --weights, their test error too")(f)
    f = click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="load this state_dict (from `train --save-weights`, torchvision's or timm's) strictly into "
                          "the spec's network (and torchvision's, with --torchvision)")(f)
    return f


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
              callback=_csv(str, "backend names"), help="comma-separated backends (see `resgraph backends`)")
@click.option("--batch", "batches", default="1", show_default=True, callback=_csv(int, "batch sizes"),
              help="comma-separated batch sizes")
@click.option("--precision", "precisions", default="fp32", show_default=True,
              callback=_csv(str, "precisions"), help=f"comma-separated: {', '.join(precision_names())}")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("results.jsonl"),
              show_default=True, help="JSON-lines results file; each finished row is appended")
@click.option("--resume", is_flag=True, help="skip rows that already have a record in --out")
@click.option("--torchvision", is_flag=True, help="add torchvision's own model of each spec as a baseline row")
@click.option("--no-roofline", is_flag=True, help="don't measure the matmul peak for %-of-peak")
@click.option("--refresh-peak", is_flag=True,
              help="re-measure the matmul peak now (the cache keeps the best rate ever measured)")
@model_options
@timing_options
@engine_options
def bench(specs: tuple[str, ...], backends: list[str], batches: list[int], precisions: list[str], device: str,
          out: Path, resume: bool, torchvision: bool, no_roofline: bool, refresh_peak: bool, weights: Path | None,
          data: str | None, calibration: int, warmup: int, iters: int, min_time: float, threads: int | None,
          strict: bool, repeat: int, workers: int | None,
          scheduler: str | None, resources: str, in_process: bool, row_timeout: float | None, retries: int,
          dry_run: bool) -> None:
    """Benchmark the product SPECS x backends x batches x precisions; one JSON record per row.

    Each row runs in its own process (a crash or hang fails that row, not the sweep); --workers or
    --scheduler spread rows over a Dask cluster, one row per device slot at a time.
    """
    from resgraph.bench.settings import EngineSettings, SweepSettings

    _check_names(backends, precisions)
    settings = SweepSettings(
        backends=tuple(backends), batches=tuple(batches), precisions=tuple(precisions), device=_check_device(device),
        out=out, resume=resume, timing=_timing(warmup, iters, min_time, repeat), threads=threads,
        roofline=not no_roofline, refresh_peak=refresh_peak, calibration=calibration, strict=strict,
        engine=EngineSettings(workers, scheduler, resources, in_process, row_timeout, retries))
    jobs = plan_jobs(specs, torchvision, settings, weights, data)
    if dry_run:  # reads the results file (--resume) but creates, locks and writes nothing
        with open_runner(settings.engine, settings.threads, settings.device) as runner:
            click.echo(show_dry_run(runner, jobs, settings.out, settings.resume))
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

    return plan(_entries(specs, torchvision, weights, data), settings.backends, settings.batches, settings.precisions,
                settings.device, settings.calibration)


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
                     roofline=settings.roofline, runner=runner, retries=settings.engine.retries)
    click.echo(format_table(recs, with_agreement(_spread(SWEEP_COLUMNS, settings.timing.repeat), recs)))
    click.echo(f"{len(recs)} row{'' if len(recs) == 1 else 's'} in {out}")
    _finish(recs, settings.strict)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--backend", default="eager", show_default=True, help="one backend")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="images per call")
@click.option("--precision", default="fp32", show_default=True, help=f"one of {', '.join(precision_names())}")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
@click.option("--shortcuts", is_flag=True,
              help=f"compare shortcut options {', '.join(SHORTCUTS.names())} and the plain twin of each SPEC")
@click.option("--torchvision", is_flag=True, help="add torchvision's own model of each spec as a baseline row")
@model_options
@timing_options
def compare(specs: tuple[str, ...], backend: str, batch: int, precision: str, device: str, shortcuts: bool,
            torchvision: bool, weights: Path | None, data: str | None, calibration: int, warmup: int, iters: int,
            min_time: float, threads: int | None, strict: bool, repeat: int) -> None:
    """Benchmark several specs and print one side-by-side table (speed relative to the first)."""
    from resgraph.bench import compare as run_compare
    from resgraph.bench import format_table
    from resgraph.bench.comparison import COMPARE_COLUMNS, with_agreement

    _check_names([backend], [precision])
    _check_device(device)
    refs: list[Any] = list(specs)
    if shortcuts:
        from resgraph.entries import shortcut_variants
        from resgraph.graph.load import load_spec

        refs = [v for ref in specs for v in shortcut_variants(load_spec(ref))]
    if weights is not None and shortcuts:
        raise UsageError("--weights with --shortcuts: one state_dict cannot fit every shortcut option's network")
    entries = _entries(tuple(refs), torchvision, weights, data)
    rows = run_compare(entries, backend, batch, device, precision, timing=_timing(warmup, iters, min_time, repeat),
                       threads=threads, calibration=calibration)
    click.echo(format_table(rows, with_agreement(_spread(COMPARE_COLUMNS, repeat), rows)))
    _finish(rows, strict)


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("report"),
              show_default=True, help="folder for results.md, results.csv and the plots (created if missing)")
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=None,
    help="batch for the spec-comparison bars and MACs scatter [default: smallest]; not used for training files",
)
@click.option("--no-plots", is_flag=True, help="tables only (no matplotlib needed)")
def report(results: Path, out_dir: Path, batch: int | None, no_plots: bool) -> None:
    """Write Markdown and CSV tables and PNG/SVG plots from a results file (of `bench` or of `train`).

    A training file gives the final errors (mean ± std over seeds) and the paper's Fig. 6 curves.
    """
    from resgraph.bench import write_report
    from resgraph.train.records import is_train_file
    from resgraph.train.report import write_train_report

    click.echo(f"writing the report of {results} to {out_dir}/...", err=True)
    if is_train_file(results):
        def write(path: Path, out: Path, *, bar_batch: int | None, plots: bool) -> list[Path]:
            return write_train_report(path, out, plots=plots)
    else:
        write = write_report
    for path in _report(results, out_dir, batch, not no_plots, write):
        click.echo(str(path))


def _report(results: Path, out_dir: Path, batch: int | None, plots: bool, write: Callable[..., Any]) -> list[Path]:
    try:
        return write(results, out_dir, bar_batch=batch, plots=plots)
    except (ValueError, ImportError) as exc:
        message = str(exc)
        raise UsageError(message if str(results) in message else f"{results}: {message}") from None


@click.command()
@click.option("--network", default="resnet18", show_default=True,
              help="the spec (file or preset) whose shortcut options are compared")
@click.option("--backend", "backends", default="eager,channels_last", show_default=True,
              callback=_csv(str, "backend names"), help="comma-separated backends (see `resgraph backends`)")
@click.option("--batch", "batches", default="1,8", show_default=True, callback=_csv(int, "batch sizes"),
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
    writes results.jsonl, Markdown/CSV tables and plots to --out-dir.
    With --train, the paper's other axis instead: how well plain and residual nets train.
    """
    if train_steps is not None:
        from resgraph.cli.train_cmds import training_demo

        return training_demo(out_dir, train_steps, threads)
    from resgraph.bench import format_table, plan, run_sweep, write_report
    from resgraph.bench.comparison import relative_to_first
    from resgraph.entries import shortcut_variants, spec_entry
    from resgraph.graph.load import load_spec

    _check_names(backends, ["fp32"])
    ensure_folder(out_dir)
    variants = shortcut_variants(load_spec(network))
    entries = [spec_entry(v) for v in variants]
    results = out_dir / "results.jsonl"  # replaced by run_sweep, under the results file's lock
    click.echo(f"resgraph demo: {network} with shortcut options {', '.join(SHORTCUTS.names())} and without "
               "shortcuts (plain), "
               f"backends {', '.join(backends)}, batch {', '.join(map(str, batches))}, CPU", err=True)
    records = run_sweep(plan(entries, backends, batches, ["fp32"], "cpu"), results,
                        timing=_timing(warmup, iters, min_time, repeat), threads=threads, replace=True)
    first = {(r.backend, r.batch): r for r in records if r.spec == entries[0].name}
    rows = [relative_to_first([r], first.get((r.backend, r.batch)))[0] for r in records]
    click.echo(format_table(rows, _spread(DEMO_COLUMNS, repeat)))
    for path in _report(results, out_dir, min(batches), True, write_report):
        click.echo(f"wrote {path}")
    _finish(records, strict)


DEMO_COLUMNS = (
    ("spec", "model"), ("params", "params"), ("macs", "MACs"), ("depth", "depth"), ("backend", "backend"),
    ("batch", "batch"), ("p50_ms", "p50 ms"), ("cv", "cv"), ("throughput", "img/s"), ("relative", "speed vs A"),
    ("status", "status"),
)
