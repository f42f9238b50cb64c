"""Commands about how well a network trains: train (short runs on offline data) and probe (at initialisation)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from resgraph.cli.values import finite
from resgraph.errors import UsageError

if TYPE_CHECKING:
    from resgraph.train.loop import Schedule

MAX_LR = 100.0  # a thousand times the paper's; 1e308 overflowed the schedule and weight decay into NaN
MAX_SEED = 2**31 - 1  # the data order's generator is seeded with seed * 1,000,003 + epoch: it must fit 64 bits


def _seeds(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    """``--seed 0,1,2``: distinct non-negative integers."""
    try:
        seeds = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers (received {value!r})") from None
    if not seeds or any(not 0 <= s <= MAX_SEED for s in seeds) or len(set(seeds)) != len(seeds):
        raise click.BadParameter(f"expected distinct integers from 0 to {MAX_SEED} (received {value!r})")
    return seeds



def _data_help() -> str:
    return ("digits (8x8, bundled with scikit-learn), synthetic (generated, 3x32x32), cifar10:PATH (CIFAR-10 python "
            "batches) or folder:PATH (ImageFolder tree with train/ and val/)")


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--data", "data_name", default="digits", show_default=True, help=_data_help())
@click.option("--fit-input", is_flag=True,
              help="train each spec with the data's input channels, size and classes (e.g. resnet20 on 1x8x8 digits)")
@click.option(
    "--shortcuts",
    is_flag=True,
    help="train each SPEC with every shortcut option (A, B, C, ...) and as its plain twin, as `compare --shortcuts`",
)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="SGD steps per run [default: 1000]")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None, callback=finite,
              help="passes over the training set, instead of --steps")
@click.option("--batch", type=click.IntRange(min=1), default=128, show_default=True, help="images per step")
@click.option("--seed", "seeds", default="0", show_default=True, callback=_seeds,
              help="comma-separated seeds (weights and data order); each spec is trained once per seed")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True, max=MAX_LR), default=0.1, show_default=True,
              callback=finite,
              help="peak learning rate (the paper's 0.1 at batch 128)")
@click.option("--weight-decay", type=click.FloatRange(min=0, max=1), default=1e-4, show_default=True, callback=finite,
              help="L2 penalty on every parameter (the paper's 1e-4)")
@click.option("--schedule", type=click.Choice(["step", "cosine"]), default="step", show_default=True,
              help="step: divide by 10 at 50 % and 75 % of the steps (the paper's); cosine: cosine decay to 0")
@click.option("--warmup", type=click.IntRange(min=0), default=0, show_default=True,
              help="steps of linear learning-rate warm-up")
@click.option("--log-every", type=click.IntRange(min=1), default=None, help="steps between training-loss records "
              "[default: steps/100]")
@click.option("--eval-every", type=click.IntRange(min=1), default=None,
              help="steps between test evaluations and checkpoints [default: steps/10]")
@click.option("--threads", type=click.IntRange(min=1, max=4096), default=None,
              help="intra-op threads [default: the CPUs this process may use]")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("train.jsonl"), show_default=True,
              help="results file (JSON lines, appended)")
@click.option("--resume", is_flag=True, help="skip finished runs in --out and continue an interrupted one from its "
              "checkpoint")
@click.option(
    "--save-weights",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder for each trained state_dict (NAME-seedS.pt) and the spec it was trained as (NAME-seedS.yaml)",
)
def train(
    specs: tuple[str, ...],
    data_name: str,
    fit_input: bool,
    shortcuts: bool,
    steps: int | None,
    epochs: float | None,
    batch: int,
    seeds: list[int],
    lr: float,
    weight_decay: float,
    schedule: Schedule,
    warmup: int,
    log_every: int | None,
    eval_every: int | None,
    threads: int | None,
    out: Path,
    resume: bool,
    save_weights: Path | None,
) -> None:
    """Train SPECs in turn on the same data order, as the paper trains (SGD, momentum 0.9, decay 1e-4).

    Records every logged step and each run's end to --out; `resgraph report` draws them.
    """
    from resgraph.graph.load import load_spec
    from resgraph.train import TrainConfig, fit_to_data, load_data, train_specs
    from resgraph.train.report import FINAL_COLUMNS, final_rows, format_rows

    if steps is not None and epochs is not None:
        raise UsageError("--steps and --epochs: give one of them, not both")
    loaded = [load_spec(ref) for ref in specs]
    if shortcuts:
        from resgraph.entries import shortcut_variants

        loaded = [v for s in loaded for v in shortcut_variants(s)]
    data = load_data(data_name, loaded[0].input.hw)
    fitted = [fit_to_data(s, data, fit_input) for s in loaded]
    n = len(data.train)  # type: ignore[arg-type]  # torch's Dataset declares no __len__; every Data split has one
    if batch > n:
        raise UsageError(f"--batch {batch}: larger than the {n} training images of {data.name}")
    total = steps if steps is not None else (max(1, round(epochs * (n // batch))) if epochs is not None else 1000)
    configs = [TrainConfig(steps=total, batch=batch, lr=lr, weight_decay=weight_decay, schedule=schedule,
                           warmup=min(warmup, total), seed=s, log_every=log_every or 0,
                           eval_every=eval_every or 0) for s in seeds]
    click.echo(f"resgraph train: {len(fitted)} spec(s) x {len(seeds)} seed(s) on {data.name} ({data.shape}, "
               f"{n} training images), {total} steps of batch {batch} (about {total * batch / n:.1f} epochs), "
               f"lr {lr} ({schedule}), records to {out}", err=True)
    records = train_specs(fitted, data, configs, out, resume=resume, threads=threads, save_weights=save_weights)
    click.echo(format_rows(final_rows(records), FINAL_COLUMNS))
    if diverged := [r for r in records if r.get("diverged")]:
        click.echo(f"warning: {len(diverged)} run(s) diverged (loss became NaN or infinite): "
                   + ", ".join(f"{r['spec']} seed {r['seed']} at step {r['stopped_at']}" for r in diverged)
                   + "; try a lower --lr or a --warmup", err=True)
    if save_weights:
        click.echo(f"weights in {save_weights}/ (NAME-seedS.pt, with the spec it was trained as in NAME-seedS.yaml)",
                   err=True)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("--batch", type=click.IntRange(min=2), default=32, show_default=True,
              help="random images for the activation and gradient-norm figures")
@click.option("--pairs", type=click.IntRange(min=1), default=8, show_default=True,
              help="pairs of nearby random inputs for the gradient correlation")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
              help="seed of the weights, the random inputs and stochastic depth's masks")
@click.option("-o", "--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="also write probe.csv and the plot (probe.png, probe.svg) here")
@click.option("--threads", type=click.IntRange(min=1, max=4096), default=None,
              help="intra-op threads [default: the CPUs this process may use]")
def probe(specs: tuple[str, ...], batch: int, pairs: int, seed: int, out_dir: Path | None, threads: int | None) -> None:
    """Per residual block at initialisation: activation scale, gradient norm, and gradient correlation.

    Data-free: a seeded random batch, BatchNorm in training mode. Plain networks'
    gradients explode toward the input and decorrelate with depth; residual ones don't.
    """
    from resgraph.bench.env import default_threads, fixed_threads
    from resgraph.graph import compile_spec
    from resgraph.graph.analyze import analyze
    from resgraph.graph.load import load_spec
    from resgraph.lower import build_model
    from resgraph.train.probe import probe_blocks
    from resgraph.train.report import PROBE_COLUMNS, format_rows, write_probe

    rows: list[dict[str, Any]] = []
    loaded = [load_spec(ref) for ref in specs]
    with fixed_threads(threads or default_threads()):
        for spec in loaded:
            g = compile_spec(spec)
            depth = analyze(g).depth
            gm = build_model(g, seed=seed)
            found = probe_blocks(gm, g, (spec.input.channels, *spec.input.hw), spec.head.classes, batch=batch,
                                 pairs=pairs, seed=seed)
            if not found:
                raise UsageError(f"{spec.name}: has no residual blocks to probe")
            rows += [{"spec": spec.name, "depth": depth, "residual": spec.residual, **r} for r in found]
            click.echo(f"probed {spec.name}: {len(found)} blocks", err=True)
    click.echo(format_rows(rows, PROBE_COLUMNS))
    if out_dir is not None:
        for path in write_probe(rows, out_dir):
            click.echo(str(path))


DEMO_SPECS = ("plain20", "plain56", "resnet20", "resnet56")


def training_demo(out_dir: Path, steps: int, threads: int | None) -> None:
    """``resgraph demo --train``: the degradation problem on the bundled digits, in a few minutes."""
    from resgraph.atomic import ensure_folder
    from resgraph.graph.load import load_spec
    from resgraph.train import TrainConfig, fit_to_data, load_data, train_specs
    from resgraph.train.report import FINAL_COLUMNS, final_rows, format_rows, write_train_report

    ensure_folder(out_dir)
    data = load_data("digits")
    specs = [fit_to_data(load_spec(n), data, fit=True) for n in DEMO_SPECS]
    out = out_dir / "train.jsonl"  # replaced, under its lock
    # A warm-up over the first fifth, the same for every network: without it the 56-layer residual net
    # starts slower than the 20-layer one at lr 0.1 (as the paper's 110-layer one did; docs/training.md).
    cfg = TrainConfig(steps=steps, warmup=steps // 5)
    threads = threads or 1  # one thread is steadier than two contended ones on shared cores
    click.echo(f"resgraph demo --train: {', '.join(DEMO_SPECS)} on the bundled digits ({data.shape}), {steps} steps "
               f"of batch 128 each ({cfg.warmup} of warm-up), seed 0, {threads} thread(s)", err=True)
    records = train_specs(specs, data, [cfg], out, threads=threads, replace=True,
                          on_interrupt="the demo starts afresh each time; for resumable runs use `resgraph train`")
    click.echo(format_rows(final_rows(records), FINAL_COLUMNS))
    for path in write_train_report(out, out_dir):
        click.echo(f"wrote {path}")
