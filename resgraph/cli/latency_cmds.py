"""Commands of the latency model: profile (time a design space's segments here) and predict (any spec, no module)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from resgraph.bench.settings import EngineSettings
from resgraph.cli.values import finite
from resgraph.errors import UsageError, printable
from resgraph.precision import precision_names


def _cluster_options(f: Any) -> Any:
    """--workers, --scheduler, --resources, --entry-timeout, --retries, --dry-run: bench's engine, for entries."""
    from resgraph.bench.settings import DEFAULT_RESOURCES

    for opt in reversed([
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="time entries on a local Dask cluster of N workers on 127.0.0.1, each with 1/N of the "
                          "physical cores (its threads are the profile's) [default: in this process]"),
        click.option("--scheduler", metavar="tcp://HOST:PORT", default=None,
                     help="time entries on an existing Dask cluster's workers, all the same device"),
        click.option("--resources", default=DEFAULT_RESOURCES, show_default=True, metavar="NAME=N[,...]",
                     help="the Dask resources each entry asks a worker for (one device slot)"),
        click.option("--entry-timeout", "row_timeout", type=click.FloatRange(min=0, min_open=True, max=7 * 24 * 3600),
                     callback=finite, default=None, metavar="SECONDS",
                     help="with --workers/--scheduler: kill an entry still running after this many seconds"),
        click.option("--retries", type=click.IntRange(min=0), default=0, show_default=True,
                     help="with --workers/--scheduler: time a failed entry up to N more times (a lost worker's "
                          "entry: at least once)"),
        click.option("--dry-run", is_flag=True, help="show the device, the workers and the entries left; time nothing"),
    ]):
        f = opt(f)
    return f


@click.command()
@click.option("--backend", default="eager", show_default=True, help="one backend (see `resgraph backends`)")
@click.option("--precision", default="fp32", show_default=True, help=f"one of {', '.join(precision_names())}")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="images per call")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N")
@click.option("--threads", type=click.IntRange(min=1, max=4096), default=None,
              help="intra-op threads [default: the CPUs this process may use]")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("profile.jsonl"),
              show_default=True, help="the profile file (JSON lines)")
@click.option("--space", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML: presets (true/false), specs (list), samples, seed, calibration, calibration_samples "
                   "[default: every preset and 16 drawn networks; calibrated on resnet18/50/20/56 and 4 drawn]")
@click.option("--resume", is_flag=True, help="continue an interrupted profile in --out")
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True, help="untimed calls per entry")
@click.option(
    "--iters", type=click.IntRange(min=1), default=15, show_default=True, help="timed calls per entry (at least)"
)
@click.option("--min-time", type=click.FloatRange(min=0, max=3600), default=0.15, show_default=True, callback=finite,
              help="seconds of timed calls per entry (at least)")
@_cluster_options
def profile(backend: str, precision: str, batch: int, device: str, threads: int | None, out: Path,
            space: Path | None, resume: bool, warmup: int, iters: int, min_time: float, **engine: Any) -> None:
    """Time every distinct block, stem and head of a design space on this device, and a few whole networks.

    `resgraph predict --profile OUT` then predicts any spec's latency on this device, backend,
    precision and batch without building it. Entries are timed in this process, one after another;
    with --workers or --scheduler each is timed on a Dask worker, one per device slot at a time, and
    every worker must be the same device (model, CPU flags, versions, threads).
    """
    from resgraph.bench.backends import get_backend, unmet_requirement
    from resgraph.bench.env import default_threads
    from resgraph.bench.timing import TimingConfig
    from resgraph.cli.measure import check_device
    from resgraph.latency.profile import entry_tasks, run_profile
    from resgraph.latency.space import load_space, space_specs
    from resgraph.latency.workers import EntriesFailed, on_workers
    from resgraph.precision import get_precision

    get_backend(backend, "--backend")
    get_precision(precision, "--precision")
    check_device(device)
    if (why := unmet_requirement(backend, device, precision)) is not None:
        raise UsageError(f"--backend {backend}: cannot run here: {why}")
    specs, calibration = space_specs(load_space(space))
    if out.is_file() and out.stat().st_size and not resume:  # before a cluster starts (pending() says it again)
        raise UsageError(f"{out}: exists; --resume continues it, or choose another -o")
    timing = TimingConfig(warmup, iters, min_time)
    dry_run = engine.pop("dry_run")
    settings = EngineSettings(**engine)
    with _engine(settings, backend, precision, batch, device, threads, timing) as (runner, header):
        if dry_run:
            click.echo(_dry_run(runner, header, entry_tasks(specs, calibration), out, resume))
            return
        run = None if runner is None else on_workers(runner, header, timing, settings.retries)
        try:
            prof = run_profile(specs, calibration, out, backend=backend, precision=precision, batch=batch,
                               device=device, threads=threads or default_threads(), timing=timing, resume=resume,
                               header=header, run=run)
        except EntriesFailed as e:
            click.echo(f"{out}: {e}", err=True)
            raise click.exceptions.Exit(1) from None
    shaky = sum(bool(s.unstable) for s in prof.segments.values())
    click.echo(f"{len(prof.segments)} segments and {len(prof.networks)} networks in {out} "
               f"({prof.header.backend}, {prof.header.precision}, batch {prof.header.batch}, "
               f"{prof.header.threads} thread(s), {prof.header.device_model})"
               + (f"; {shaky} segment(s) stayed unstable after re-measuring" if shaky else ""))


@contextlib.contextmanager
def _engine(settings: EngineSettings, backend: str, precision: str, batch: int, device: str, threads: int | None,
            timing: Any) -> Iterator[tuple[Any, Any]]:
    """(None, this process's header), or the bench engine's Dask runner and the header all its workers agree on."""
    from resgraph.bench.env import default_threads
    from resgraph.cli.engine import open_runner
    from resgraph.latency.profile import _header
    from resgraph.latency.workers import cluster_header

    if not (settings.workers or settings.scheduler):
        for flag, value in (("--entry-timeout", settings.row_timeout), ("--retries", settings.retries)):
            if value:
                raise UsageError(f"{flag}: profile times entries in this process unless --workers or --scheduler "
                                 "is given; add one, or drop it")
        yield None, _header(backend, precision, batch, device, threads or default_threads(), timing)
        return
    with open_runner(settings, threads, device) as runner:
        yield runner, cluster_header(runner, backend=backend, precision=precision, batch=batch, device=device,
                                     threads=threads, timing=timing)


def _dry_run(runner: Any, header: Any, tasks: list[Any], out: Path, resume: bool) -> str:
    """Where the entries would be timed, on what device, and how many are left: nothing is measured."""
    from resgraph.cli.engine import _table as _rows
    from resgraph.latency.profile import pending

    todo = pending(tasks, out, header, resume)
    h = header
    lines = [f"engine: {'this process' if runner is None else runner.name}",
             f"device: {h.device_model} on {h.host} ({h.backend}, {h.precision}, batch {h.batch}, "
             f"{h.threads} thread(s) an entry)"]
    if runner is not None:
        ask = ",".join(f"{k}={v:g}" for k, v in runner.resources.items())
        rows = [("worker", "host", "device model", "slot")] + [(w.name, w.host, w.device_model or "?", w.slot)
                                                              for w in runner.workers(h.device)]
        lines += [f"each entry asks a worker for {ask} and is timed in its own process there", *_rows(rows)]
    segs = sum(t.segment is not None for t in todo)
    lines.append(f"{segs} segment(s) and {len(todo) - segs} network(s) to time"
                 + (f", {len(tasks) - len(todo)} already in {out}" if len(todo) < len(tasks) else ""))
    return "\n".join(lines)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="a profile file from `resgraph profile`")
@click.option("--backend", default=None, help="the backend the prediction is for [default: the profile's]")
@click.option("--precision", default=None, help="the precision [default: the profile's]")
@click.option("--batch", type=click.IntRange(min=1), default=None, help="the batch [default: the profile's]")
@click.option("--device", default=None, help="the device [default: the profile's]")
@click.option("--blocks", is_flag=True, help="also print each block's share")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per spec")
@click.option("--any-machine", is_flag=True,
              help="apply a profile made on another machine (host, CPU or GPU model, CPU flags) anyway, with a warning")
def predict(specs: tuple[str, ...], profile_path: Path, backend: str | None, precision: str | None,
            batch: int | None, device: str | None, blocks: bool, as_json: bool, any_machine: bool) -> None:
    """Predict each spec's p50 latency and a 90 % interval from a profile, per stage (and block), in ms."""
    from resgraph.latency.predict import load_model, predict_specs

    model = load_model(profile_path, backend=backend, precision=precision, batch=batch, device=device,
                       any_machine=any_machine)
    preds = predict_specs(model, list(specs))
    if as_json:
        for p in preds:
            click.echo(json.dumps(p.to_dict()))
        return
    h = model.profile.header
    click.echo(f"predicted on {h.device_model} ({h.backend}, {h.precision}, batch {h.batch}, {h.threads} thread(s)); "
               f"90 % interval")
    rows: list[list[str]] = [["spec", "p50 ms", "interval ms", "MACs-rate ms", "regressed", *_stage_heads(preds)]]
    for p in preds:
        rows.append([printable(p.spec), f"{p.p50_ms:.3f}", f"{p.low_ms:.3f}-{p.high_ms:.3f}",
                     "-" if p.macs_baseline_ms is None else f"{p.macs_baseline_ms:.3f}", str(p.regressed),
                     *(f"{p.stages[s]:.3f}" if s in p.stages else "-" for s in _stage_heads(preds))])
    click.echo(_table(rows))
    if blocks:
        for p in preds:
            click.echo(f"\n{printable(p.spec)}")
            click.echo(_table([["segment", "kind", "ms", "source"]] +
                              [[s, k, f"{ms:.3f}", "timed" if m else "regressed"] for s, k, ms, m in p.segments]))


def _stage_heads(preds: list[Any]) -> list[str]:
    return list(dict.fromkeys(k for p in preds for k in p.stages))


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths,
                                                                                                strict=True))).rstrip()
                     for r in rows)
