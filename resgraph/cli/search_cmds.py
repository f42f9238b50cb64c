"""Commands of design spaces: spaces (the bundled ones), space (size and samples), search (under a latency budget;
``--objective train`` trains each trial, here or on Dask workers)."""

from __future__ import annotations

from pathlib import Path

import click

from resgraph.cli.values import finite
from resgraph.errors import UsageError, printable
from resgraph.search.train_objective import DEFAULT_STEPS

OBJECTIVE_NAMES = ("macs", "params", "probe", "train")


@click.command()
def spaces() -> None:
    """List the bundled design spaces (a name works wherever a space file does)."""
    from resgraph.search.sample import space_size
    from resgraph.search.space import load_space, space_names

    for name in space_names():
        space = load_space(name)
        click.echo(f"{name:<18} {space_size(space):>14,} networks  base {space.file.base:<10} "
                   f"{space.file.description or ''}".rstrip())


@click.command()
@click.argument("space_ref", metavar="SPACE")
@click.option("-n", "--samples", type=click.IntRange(0, 1000), default=3, show_default=True,
              help="networks to draw and print")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="the draws' seed")
def space(space_ref: str, samples: int, seed: int) -> None:
    """Print a design space's choices, its size and a few networks drawn from it (each a valid spec)."""
    from resgraph.search.sample import dimensions, sample_specs, space_size
    from resgraph.search.space import load_space

    sp = load_space(space_ref)
    click.echo(f"{sp.name} ({printable(sp.source)}): base {printable(sp.file.base)}, "
               f"{space_size(sp):,} networks before constraints")
    for d in dimensions(sp):
        values = f"{d.values[0]}..{d.values[-1]}" if d.integer else ", ".join(map(str, d.values))
        click.echo(f"  {d.name:<12} {values}")
    rules = sp.file.constraints
    if rules.non_decreasing_widths or rules.depth:
        said = (["non-decreasing widths"] if rules.non_decreasing_widths else []) + (
            [f"depth {rules.depth[0]}-{rules.depth[1]}"] if rules.depth else [])
        click.echo(f"  constraints: {', '.join(said)}")
    if not samples:
        return
    specs, tries = sample_specs(sp, samples, seed)
    click.echo(f"{len(specs)} valid network(s) in {tries} draw(s) (seed {seed}):")
    for s in specs:
        stages = " ".join(f"{st.blocks}x{st.width}" for st in s.stages)
        att = getattr(s.block, "attention", None)
        groups = getattr(s.block, "groups", 1)
        click.echo(f"  {s.name}: {s.block.type}{f' g{groups}' if groups != 1 else ''}"
                   f"{f'+{att.type}' if att else ''}, shortcut {s.shortcut}, stages {stages}, depth {s.depth}, "
                   f"input {s.input.hw[0]}")


@click.command()
@click.argument("space_ref", metavar="SPACE")
@click.option("--profile", "profile_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="a profile from `resgraph profile`: the device, backend, precision and batch searched for")
@click.option("--budget-ms", type=click.FloatRange(min=0, min_open=True, max=1e7), required=True, callback=finite,
              help="latency budget (p50, ms): only networks predicted within it make the front")
@click.option("--objective", type=click.Choice(OBJECTIVE_NAMES), default="macs", show_default=True,
              help="what to maximise within the budget: macs or params (capacity), probe (data-free score), "
                   "train (test accuracy % after --train-steps seeded SGD steps on --data, one thread: seconds "
                   "a trial; --workers runs N at once)")
@click.option("--data", "data_name", default=None, metavar="NAME",
              help="train: the dataset each trial trains on, its input and classes fitted as `train --fit-input` "
                   "does: digits (bundled), synthetic, cifar10:PATH or folder:PATH  [default: digits]")
@click.option("--train-steps", type=click.IntRange(1, 1_000_000), default=None,
              help=f"train: SGD steps of batch 128 a trial (warm-up over the first fifth)  [default: {DEFAULT_STEPS}]")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="train: run N trials at once on a local Dask cluster of N single-threaded workers on 127.0.0.1")
@click.option("--scheduler", metavar="tcp://HOST:PORT", default=None,
              help="train: run trials on an existing Dask cluster, one per worker offering slot=1")
@click.option("--trials", type=click.IntRange(1, 100_000), default=200, show_default=True,
              help="finished trials the study should hold (a resumed study counts its own)")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="the sampler's seed (train: also every trial's weights and data order)")
@click.option("--sampler", type=click.Choice(("nsga2", "tpe")), default="nsga2", show_default=True,
              help="Optuna's NSGA-II or multi-objective TPE")
@click.option("--verify", "verify_k", type=click.IntRange(0, 100), default=5, show_default=True,
              help="measure this many best front points with the bench harness (as the profile was made)")
@click.option("--reference", "references", multiple=True, metavar="SPEC",
              help="also measure this spec in the verify sweep (repeatable), e.g. the preset the budget came from")
@click.option("--edf-samples", type=click.IntRange(0, 10_000), default=None,
              help="networks drawn uniformly for the report's EDF  [default: 100; 0 for train, each is a run]")
@click.option("--resume", is_flag=True, help="continue the study in -o")
@click.option("--dry-run", is_flag=True, help="print the space's size, one trial's cost and the run's; write nothing")
@click.option("--no-plots", is_flag=True, help="write the report's table only (no matplotlib)")
@click.option("--any-machine", is_flag=True, help="apply a profile made on another machine anyway, with a warning")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("search"),
              show_default=True, help="folder for study.db, front.jsonl, specs/, verify.jsonl and report/")
def search(space_ref: str, profile_path: Path, budget_ms: float, objective: str, data_name: str | None,
           train_steps: int | None, workers: int | None, scheduler: str | None, trials: int, seed: int,
           sampler: str, verify_k: int, references: tuple[str, ...], edf_samples: int | None, resume: bool,
           dry_run: bool, no_plots: bool, any_machine: bool, out: Path) -> None:
    """Search a design space (a file or a bundled name) for the best networks within a latency budget.

    Optuna explores the space (two objectives: predicted latency down, the objective up); the front's best
    points are measured with the bench harness; a point measured over the budget is marked, never reported
    as fitting. Writes front.jsonl, specs/*.yaml, verify.jsonl and report/ (pareto, edf, front.md) in -o.
    With --objective train each trial is a short training run (see --dry-run for what it costs).
    """
    from resgraph.search.front import read_references
    from resgraph.search.run import SearchSettings
    from resgraph.search.run import dry_run as plan_run
    from resgraph.search.run import search as run_search
    from resgraph.search.space import load_space

    train = objective == "train"
    for given, flag in ((data_name, "--data"), (train_steps, "--train-steps"), (workers, "--workers"),
                        (scheduler, "--scheduler")):
        if given is not None and not train:
            raise UsageError(f"{flag}: only --objective train uses it (received --objective {objective})")
    sp = load_space(space_ref)
    settings = SearchSettings(profile=profile_path, budget_ms=budget_ms, out=out, objective=objective,
                              trials=trials, seed=seed, sampler=sampler, verify=verify_k, resume=resume,
                              edf_samples=(0 if train else 100) if edf_samples is None else edf_samples,
                              plots=not no_plots, references=references, data=data_name or "digits",
                              train_steps=train_steps or DEFAULT_STEPS, workers=workers, scheduler=scheduler)
    if dry_run:
        for line in plan_run(sp, settings, any_machine=any_machine):
            click.echo(line)
        return
    outcome = run_search(sp, settings, any_machine=any_machine)
    h = outcome.header
    verified = [p for p in outcome.points if p.measured_ms is not None]
    failed = f", {h.failed} failed (study.db keeps why)" if h.failed else ""
    click.echo(f"{h.trials} trials ({h.fitting} predicted within {h.budget_ms:g} ms, {h.refused} refused draws"
               f"{failed}); "
               f"front of {len(outcome.points)} in {out / 'front.jsonl'}, {outcome.seconds:.0f} s")
    for p in outcome.points[: max(verify_k, 5)]:
        measured = "" if p.measured_ms is None else f", measured {p.measured_ms:.2f} ms"
        click.echo(f"  {p.name}: {objective} {p.value:.6g}, predicted {p.predicted_ms:.2f} ms{measured}: "
                   f"{p.status.replace('_', ' ')} -> {out / p.spec_file}")
    if verified:
        fits = sum(p.status == "fits" for p in verified)
        click.echo(f"verified {len(verified)}: {fits} fit the budget measured, {len(verified) - fits} break it")
    for r in read_references(out / "front.jsonl"):
        measured = "not measured" if r.measured_ms is None else f"measured {r.measured_ms:.2f} ms"
        click.echo(f"  reference {r.name}: {objective} {r.value:.6g}, predicted {r.predicted_ms:.2f} ms, {measured}")
    if outcome.interrupted:
        click.echo(f"interrupted: {h.trials} finished trials kept in {out / 'study.db'}; --resume continues",
                   err=True)
        raise click.exceptions.Exit(130)
