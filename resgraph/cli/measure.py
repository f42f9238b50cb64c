"""What the measuring commands share: list options, timing and model options, the exit codes, the closing verdict."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from resgraph.cli.values import finite
from resgraph.errors import UsageError
from resgraph.precision import CALIBRATION_BATCHES, get_precision


def csv_list(kind: Callable[[str], Any], what: str) -> Callable[[click.Context, click.Parameter, str], list[Any]]:
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


def check_device(device: str) -> str:
    """cpu, cuda or cuda:N; anything else is a typo, not a sweep of skipped rows."""
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise UsageError(f"--device: expected cpu, cuda or cuda:N (received {device!r})")
    return device


def check_names(backends: list[str], precisions: list[str]) -> None:
    from resgraph.bench.backends import get_backend

    for b in backends:
        get_backend(b, "--backend")  # one line with a "did you mean" and the known names
    for p in precisions:
        get_precision(p, "--precision")


Repeat = int | str  # a number of rounds, or "auto"


def repeat_value(ctx: click.Context | None, param: click.Parameter | None, value: str | int) -> Repeat:
    """--repeat: N >= 1 rounds, or ``auto`` (rounds until decided, at least 3, at most 10)."""
    text = str(value).strip().lower()
    if text == "auto":
        return "auto"
    try:
        n = int(text)
    except ValueError:
        raise click.BadParameter(f"expected a number of rounds >= 1 or 'auto' (received {value!r})") from None
    if n < 1:
        raise click.BadParameter(f"expected a number of rounds >= 1 or 'auto' (received {value!r})")
    return n


def timing_config(warmup: int, iters: int, min_time: float, repeat: Repeat = 1) -> Any:
    from resgraph.bench.settings import AUTO_CAP, TimingConfig

    if repeat == "auto":
        return TimingConfig(warmup=warmup, iters=iters, min_time_s=min_time, repeat=AUTO_CAP, adaptive=True)
    return TimingConfig(warmup=warmup, iters=iters, min_time_s=min_time, repeat=int(repeat))


def timing_options(f: Callable[..., Any], repeat: str = "1") -> Callable[..., Any]:
    """Options shared by every measuring command (``repeat``: the default of --repeat)."""
    from resgraph.bench.settings import AUTO_CAP, MIN_AUTO

    f = click.option("--repeat", default=repeat, show_default=True, callback=repeat_value, metavar="N|auto",
                     help="measure every row N times in interleaved rounds (all rows, then all again in reverse "
                          "order) and report the median of the rounds' medians and their spread; auto: rounds "
                          f"until every verdict (compare) or every row's p50 (bench) is decided, at least "
                          f"{MIN_AUTO}, at most {AUTO_CAP}")(f)
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


# What made rows unstable, by the words of their `unstable` field (resgraph.bench.contention, speed, rounds).
_WHY = (("cv ", "their timings varied (cv)"), ("speed index", "the machine's speed moved (speed index)"),
        ("CPU time they asked", "their threads were starved"), ("steal", "the hypervisor took CPU (steal)"),
        ("rounds spread", "their rounds disagreed"), ("rounds unstable", "most of their rounds were unstable"))
_NAMED = 4  # rows named in a closing line; the table's footnotes and the records say the rest


def _names(rows: list[Any]) -> str:
    names = [row_label(r) for r in rows[:_NAMED]]
    return ", ".join(names) + (f" and {len(rows) - _NAMED} more" if len(rows) > _NAMED else "")


def finish(records: list[Any], strict: bool, out: Any = None) -> None:
    """Say once, in a few lines, what went wrong or cannot be trusted, and exit with the documented code.

    The details of every row (why it is unstable, why it failed) are in the table's footnotes and in its
    record: a closing warning that lists them all again scrolls the table away.
    """
    shaky = [r for r in records if r.get("unstable")]
    if shaky:
        counts = [(text, sum(key in r["unstable"] for r in shaky)) for key, text in _WHY]
        why = "; ".join(f"{n} {text}" for text, n in counts if n)
        where = f" (`resgraph report {out}` has each row's reason)" if out else ""
        click.echo(f"warning: {len(shaky)} of {len(records)} rows are unstable: {why or 'see their records'}: "
                   f"{_names(shaky)}{where}. Re-run them with --repeat auto, on a quieter machine, or with fewer "
                   "--threads.", err=True)
    if records and all(r["status"] == "skipped" for r in records):  # a CI job must not pass having measured nothing
        click.echo(f"error: no row was measured: all {len(records)} were skipped ({records[0]['reason']})", err=True)
        raise click.exceptions.Exit(EXIT_FAILED)
    bad = [r for r in records if r["status"] in ("failed", "mismatch")]
    for r in bad[:_NAMED]:
        click.echo(f"{r['status']}: {row_label(r)}: {r['reason']}", err=True)
    if len(bad) > _NAMED:
        click.echo(f"... and {len(bad) - _NAMED} more rows failed or mismatched (their reasons are in the table's "
                   "footnotes)", err=True)
    if bad:
        raise click.exceptions.Exit(EXIT_FAILED)
    if strict and shaky:
        raise click.exceptions.Exit(EXIT_UNSTABLE)


def compare_timing_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`timing_options` with --repeat auto by default: a comparison needs rounds for its intervals."""
    return timing_options(f, repeat="auto")


def with_spread(columns: Any, repeat: Repeat) -> Any:
    """``columns`` with the rounds' spread (max - min over the median, %) after cv, when rows had rounds."""
    if repeat == 1:
        return columns
    i = [k for k, _ in columns].index("cv") + 1
    return (*columns[:i], ("round_spread", "rounds spread %"), ("repeat", "rounds"), *columns[i:])


def row_label(r: dict[str, Any]) -> str:
    return f"{r['spec']}/{r['backend']}/{r['precision']}/b{r['batch']}"


def entries_of(
    specs: tuple[str, ...], torchvision: bool, weights: Path | None = None, data: str | None = None
) -> list[Any]:
    from resgraph.entries import spec_entry, torchvision_entry
    from resgraph.graph.load import load_spec

    if weights is not None and len(specs) > 1:
        raise UsageError(f"--weights: one state_dict is for one spec (received {len(specs)} specs)")
    out, without = [], []
    refused: UsageError | None = None
    for ref in specs:
        spec = load_spec(ref)
        entry = spec_entry(spec, weights, data)
        if torchvision:
            try:
                out.append(torchvision_entry(spec, entry, weights))
            except UsageError as exc:
                without.append(spec.name)
                refused = refused or exc
        out.append(entry)
    if refused is not None and len(without) == len(specs):  # nothing to add: the error says why
        raise refused
    if without:
        click.echo(f"note: --torchvision: no torchvision twin of {', '.join(without)} (by structure); "
                   "baselines added for the others", err=True)
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


OV_HINTS = ("latency", "throughput")  # resgraph.bench.openvino.HINTS, spelt here so --help imports no backend


def hint_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--ov-hint: OpenVINO's PERFORMANCE_HINT for the openvino rows (the other backends take none)."""
    return click.option("--ov-hint", "ov_hint", type=click.Choice(OV_HINTS), default=OV_HINTS[0], show_default=True,
                        help="OpenVINO's performance hint for openvino rows: latency (one stream, every thread on "
                             "one request) or throughput (OpenVINO's streams; a batch is split over its requests)")(f)


def write_or_refuse(
    results: Path, out_dir: Path, batch: int | None, plots: bool, write: Callable[..., Any]
) -> list[Path]:
    """Write a report; a file it cannot read is the user's error, named in one line."""
    try:
        return write(results, out_dir, bar_batch=batch, plots=plots)
    except (ValueError, ImportError) as exc:
        message = str(exc)
        raise UsageError(message if str(results) in message else f"{results}: {message}") from None
