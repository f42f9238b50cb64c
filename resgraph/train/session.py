"""Train several specs on one dataset, seed by seed, into one results file: what ``resgraph train`` runs.

Glue between specs and the training loop (the loop never sees a spec): fits a
spec to the data or says why it does not fit, builds each model from its seed,
holds the results file's lock, shows progress and saves trained weights.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from resgraph import records
from resgraph.atomic import atomic_path, ensure_folder, file_name, save_torch
from resgraph.bench.env import default_threads, environment, fixed_threads
from resgraph.data import Data
from resgraph.errors import SpecError, UsageError, format_path, printable
from resgraph.spec import ResNetSpec, dump_spec
from resgraph.train.loop import Interrupted, RunInfo, TrainConfig, train_run
from resgraph.train.records import RunRecord, is_train_file, read_train_records

__all__ = ["fit_to_data", "train_specs", "checkpoint_path"]


def fit_to_data(spec: ResNetSpec, data: Data, fit: bool) -> ResNetSpec:
    """``spec`` if it takes ``data``'s images and classes; with ``fit``, a copy whose input and head do."""
    from resgraph.graph.load import validate_source
    from resgraph.spec.dump import spec_data
    from resgraph.spec.source import Source

    c, hw = spec.input.channels, spec.input.hw
    problems = []
    if (c, hw) != (data.channels, data.size):
        problems.append(f"input {c}x{hw[0]}x{hw[1]} but {data.name} images are {data.shape}")
    if spec.head.classes != data.classes:
        problems.append(f"head.classes {spec.head.classes} but {data.name} has {data.classes} classes")
    if not problems:
        return spec
    if not fit:
        raise UsageError(f"{printable(spec.name)}: {'; '.join(problems)} (pass --fit-input to train it with the data's "
                         "input and classes, or write a spec that extends it)")
    d = spec_data(spec)
    d["input"] = {"channels": data.channels, "size": list(data.size)}
    d["head"] = {**d.get("head", {}), "classes": data.classes}
    result = validate_source(Source(d, {}, spec.name))
    if result.errors:  # e.g. a stem that downsamples 8x8 digits to nothing
        err = result.errors[0]
        raise SpecError([err]) if not err.path else UsageError(
            f"{printable(spec.name)} fitted to {data.name} ({data.shape}): {format_path(err.path)}: {err.message}")
    assert result.spec is not None
    return result.spec


def checkpoint_path(out: Path, spec: str, run: str) -> Path:
    """Where a run's checkpoint lives: a hidden folder beside the results file."""
    return out.parent / f".{out.name}.checkpoints" / f"{file_name(spec)}-{run}.pt"


def train_specs(specs: Sequence[ResNetSpec], data: Data, configs: Sequence[TrainConfig], out: Path, *,
                resume: bool = False, threads: int | None = None, save_weights: Path | None = None,
                progress: bool = True, replace: bool = False,
                on_interrupt: str = "its checkpoint is kept: run the same command with --resume to continue",
                ) -> list[RunRecord]:
    """Train every spec under every config (one per seed), seed by seed; return the run records.

    With ``resume``, finished runs are skipped and an interrupted one continues from its checkpoint;
    ``replace`` starts ``out`` afresh (the demo's), once its lock is held. ``on_interrupt`` is what the
    message after Ctrl-C tells the user to do next.
    """
    from resgraph.entries import spec_hash
    from resgraph.graph import compile_spec
    from resgraph.graph.analyze import analyze
    from resgraph.lower import build_model

    threads = threads or default_threads()
    env = environment("cpu", threads)
    runs: list[RunRecord] = []
    with records.writer(out) as writer, fixed_threads(threads):
        if replace:
            writer.restart()
        if out.exists() and out.stat().st_size and not is_train_file(out):
            raise UsageError(f"{out}: holds records that are not training records (a bench results file?); "
                             "use another --out")
        known = read_train_records(out) if resume else []
        done = {r.run: r for r in known if isinstance(r, RunRecord)}
        started = {r.run for r in known}
        plan = [(cfg, spec) for cfg in configs for spec in specs]
        for i, (cfg, spec) in enumerate(plan, 1):
            h = spec_hash(spec)
            run = cfg.run_id(h, data.name)
            label = f"[{i}/{len(plan)}] {printable(spec.name)} seed {cfg.seed}"
            if run in done:
                if progress:
                    print(f"{label}: already in {out}, skipped (--resume)", file=sys.stderr)
                runs.append(done[run])
                continue
            g = compile_spec(spec)
            summary = analyze(g)
            model = build_model(g, seed=cfg.seed)
            info = RunInfo(spec.name, h, summary.depth, spec.residual, summary.design, summary.params, threads, env)
            ck = checkpoint_path(out, spec.name, run)
            if resume and run not in started and any(r.spec == spec.name for r in known):
                print(f"{label}: no run in {out} with these settings (steps, batch, lr, schedule, warm-up, weight "
                      "decay, seed, data or the spec changed): training from scratch", file=sys.stderr)
            try:
                with _bar(label, cfg.steps, progress) as bar:
                    rec = train_run(model, info, data, cfg, writer, checkpoint=ck, resume=resume,
                                    progress=bar.update_to if bar else None)
            except Interrupted as stop:
                print(f"{label}: interrupted after step {stop.step}; {on_interrupt}", file=sys.stderr)
                raise
            finally:
                with contextlib.suppress(OSError):
                    ck.parent.rmdir()  # only when empty: no run left a checkpoint
            runs.append(rec)
            if save_weights is not None:
                _save(save_weights, spec, cfg.seed, model)
    return runs


def _save(folder: Path, spec: ResNetSpec, seed: int, model: Any) -> None:
    """The trained state_dict and the spec it belongs to, side by side: ``NAME-seedS.pt`` and ``.yaml``."""
    ensure_folder(folder)
    stem = file_name(f"{spec.name}-seed{seed}", 120)  # the spec's name never chooses the folder
    save_torch(model.state_dict(), folder / f"{stem}.pt")
    try:
        with atomic_path(folder / f"{stem}.yaml") as tmp:
            tmp.write_text(dump_spec(spec, "yaml"), encoding="utf-8")
    except OSError:
        (folder / f"{stem}.pt").unlink(missing_ok=True)  # weights without the spec they belong to are half a pair
        raise


class _Bar:
    """A tqdm bar over steps, showing the latest logged loss and errors; the ETA is tqdm's."""

    def __init__(self, label: str, total: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=label, unit="step", dynamic_ncols=True, file=sys.stderr, leave=True)
        self.shown: dict[str, float] = {}

    def update_to(self, step: int, figures: dict[str, float]) -> None:
        self.bar.update(step - self.bar.n)
        if figures and figures != self.shown:
            self.shown = figures
            self.bar.set_postfix({k.replace("_", " "): f"{v:.3f}" for k, v in figures.items()}, refresh=False)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.close()


def _bar(label: str, total: int, show: bool) -> Any:
    return _Bar(label, total) if show else contextlib.nullcontext()
