"""``report BEFORE AFTER``: the before/after diff of two results files, and its exit code."""

from __future__ import annotations

from pathlib import Path

import click

from resgraph.errors import UsageError

EXIT_REGRESSED = 1  # --fail-above: a row is significantly slower after, by more than PCT %


def before_after(before: Path, after: Path, fail_above: float | None) -> None:
    """Print each row's after/before ratio, interval and verdict; exit 1 on a regression beyond ``fail_above``."""
    from resgraph.bench.diff import diff_files, format_diff, regressions
    from resgraph.bench.record import load_results
    from resgraph.train.records import is_train_file

    for path in (before, after):
        if is_train_file(path):
            raise UsageError(f"{path}: a training file; report diffs two bench results files")
        if not load_results(path):
            raise UsageError(f"{path}: no bench records to diff")
    rows = diff_files(before, after)
    click.echo(format_diff(rows))
    matched = [r for r in rows if r.diff is not None]
    if not matched:
        raise UsageError(f"{before} and {after} share no measured row (rows match by spec, its hash, backend, device, "
                         "batch, precision, weights, data, calibration, host and device model)")
    single = [r for r in matched if r.diff is not None and r.diff.low is None]
    if single:
        click.echo(f"note: {len(single)} of {len(matched)} rows have one round on a side and no verdict: measure "
                   "both with --repeat 3 or more (or --repeat auto)", err=True)
    if fail_above is None:
        return
    bad = regressions(rows, fail_above)
    for r in bad:
        d = r.diff
        assert d is not None and d.low is not None and d.high is not None
        click.echo(f"regression: {r.record.label}: {d.ratio:.3f}x the time before (interval {d.low:.3f}-"
                   f"{d.high:.3f}), more than {fail_above:g} % slower", err=True)
    if bad:
        raise click.exceptions.Exit(EXIT_REGRESSED)
