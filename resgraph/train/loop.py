"""Train one spec on one dataset with one seed, as the paper does (§3.4, §4.2), resumably.

SGD with momentum 0.9 and weight decay 1e-4 on every parameter; BatchNorm in
training mode; the learning rate divided by 10 at 50 % and 75 % of the steps
(the paper's 32k and 48k of 64k) or cosine-decayed, after an optional linear
warm-up. The data order depends only on the seed and the epoch, so every spec
trained with one seed sees the same batches, and a run resumed from its
checkpoint continues the very same curve.
"""

from __future__ import annotations

import hashlib
import json
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from resgraph.data import Data, fetch
from resgraph.records import Writer
from resgraph.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from resgraph.train.records import RunRecord, StepRecord

__all__ = ["Interrupted", "TrainConfig", "train_run", "evaluate"]

Schedule = Literal["step", "cosine"]
EVAL_BATCH = 500


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training curve besides the spec and the data."""

    steps: int
    batch: int = 128
    lr: float = 0.1  # the paper's, for batch 128
    weight_decay: float = 1e-4
    momentum: float = 0.9
    schedule: Schedule = "step"
    warmup: int = 0  # steps of linear warm-up to lr
    seed: int = 0
    log_every: int = 0  # 0: about 100 points per curve
    eval_every: int = 0  # 0: about 10 evaluations per run

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch < 1:
            raise ValueError("steps and batch must be >= 1")
        if not all(math.isfinite(v) and v >= 0 for v in (self.lr, self.weight_decay, self.momentum)):
            raise ValueError("lr, weight_decay and momentum must be finite and >= 0")
        log = self.log_every or max(1, self.steps // 100)
        object.__setattr__(self, "log_every", log)
        object.__setattr__(self, "eval_every", self.eval_every or max(log, (self.steps // 10) // log * log))

    def lr_at(self, step: int) -> float:
        """The learning rate of 0-based ``step``: the schedule's, ramped linearly over the warm-up.

        The ramp multiplies the schedule (it never climbs past a decay that falls inside a long warm-up).
        """
        ramp = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        if self.schedule == "cosine":
            return ramp * self.lr * 0.5 * (1 + math.cos(math.pi * step / self.steps))
        return ramp * self.lr * (0.1 ** ((step >= self.steps // 2) + (step >= self.steps * 3 // 4)))

    def run_id(self, spec_hash: str, data: str) -> str:
        """Identity of the curve: same id, same records (timings aside)."""
        key = json.dumps({"spec": spec_hash, "data": data, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class _Window:
    """Loss and errors summed since the last logged step."""

    loss: float = 0.0
    wrong: int = 0
    seen: int = 0

    def mean(self) -> tuple[float, float]:
        return self.loss / max(1, self.seen), self.wrong / max(1, self.seen)


@dataclass
class RunInfo:
    """What a run record says about the network, beyond its name (from the IR, not the module)."""

    spec: str
    spec_hash: str
    depth: int
    residual: bool
    design: str
    params: int
    threads: int | None = None  # intra-op threads it trained with
    env: dict[str, Any] | None = None  # versions, device, CPU (resgraph.bench.env.environment)


def _order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """Epoch ``epoch``'s shuffled indices, a function of (seed, epoch) only: the same for every spec."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, honoured at the end of a step: the checkpoint then holds exactly ``step`` steps."""

    def __init__(self, step: int) -> None:
        super().__init__(step)
        self.step = step


class _StepBoundary:
    """Defers Ctrl-C to the end of the step in flight; a second Ctrl-C stops at once.

    A step cut in half has moved BatchNorm's running statistics and drawn stochastic-depth
    masks already: a checkpoint taken there would not resume the same curve.
    """

    def __init__(self) -> None:
        self.requested = False
        self.before: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _StepBoundary:
        if threading.current_thread() is threading.main_thread():
            self.before = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.before is not None:
            signal.signal(signal.SIGINT, self.before)


@torch.no_grad()
def evaluate(model: nn.Module, ds: Any) -> tuple[float, float]:
    """Mean cross-entropy and error rate over a whole split, BatchNorm in eval mode."""
    was = model.training
    model.eval()
    loss, wrong, n = 0.0, 0, len(ds)
    for start in range(0, n, EVAL_BATCH):
        x, y = fetch(ds, torch.arange(start, min(n, start + EVAL_BATCH)))
        out = model(x)
        loss += nn.functional.cross_entropy(out, y, reduction="sum").item()
        wrong += int((out.argmax(1) != y).sum())
    model.train(was)
    return loss / n, wrong / n


def train_run(
    model: nn.Module,
    info: RunInfo,
    data: Data,
    cfg: TrainConfig,
    out: Writer,
    *,
    checkpoint: Path,
    resume: bool = False,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> RunRecord:
    """Train ``model`` (freshly initialised) and append its records to ``out``; return the run record.

    ``checkpoint`` is written atomically every evaluation and on Ctrl-C (at the end of the step
    in flight), and removed when the run ends; with ``resume`` a run continues from it. ``progress(step, figures)``
    is called after every step.
    """
    n = len(data.train)  # type: ignore[arg-type]  # torch's Dataset declares no __len__; every Data split has one
    per_epoch = n // cfg.batch
    if per_epoch < 1:
        raise ValueError(f"--batch {cfg.batch} is larger than the {n} training images of {data.name}")
    run = cfg.run_id(info.spec_hash, data.name)
    base: dict[str, Any] = {"run": run, "spec": info.spec, "spec_hash": info.spec_hash, "data": data.name,
                            "seed": cfg.seed}
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cfg.lr_at(s) / cfg.lr)
    state = Checkpoint(run=run, step=0, window=(0.0, 0, 0), train_s=0.0)
    torch.manual_seed(cfg.seed)  # stochastic depth draws from the global generator; the checkpoint keeps its state
    if resume and checkpoint.exists():
        state = load_checkpoint(checkpoint, run, model, opt, sched, steps=cfg.steps)
    resumed_at = state.step or None
    window = _Window(*state.window)
    train_s, wall0 = state.train_s, time.perf_counter()
    model.train()
    order, order_epoch = _order(n, cfg.seed, 0), 0
    diverged = False
    figures: dict[str, float] = {}
    step = state.step
    with _StepBoundary() as stop:
        while step < cfg.steps:
            epoch, j = divmod(step, per_epoch)
            if epoch != order_epoch:
                order, order_epoch = _order(n, cfg.seed, epoch), epoch
            t0 = time.perf_counter()
            x, y = fetch(data.train, order[j * cfg.batch:(j + 1) * cfg.batch])
            outputs = model(x)
            loss = nn.functional.cross_entropy(outputs, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            train_s += time.perf_counter() - t0
            lr, step = cfg.lr_at(step), step + 1
            value = loss.item()
            if not math.isfinite(value):
                diverged = True
                out.append(StepRecord(**base, step=step, epoch=epoch, lr=lr))
                break
            window.loss += value * len(y)
            window.wrong += int((outputs.argmax(1) != y).sum())
            window.seen += len(y)
            evaluating = step % cfg.eval_every == 0 or step == cfg.steps
            if evaluating or step % cfg.log_every == 0:
                train_loss, train_err = window.mean()
                window = _Window()
                test_loss, test_err = evaluate(model, data.test) if evaluating else (None, None)
                rec = StepRecord(**base, step=step, epoch=epoch, lr=lr, train_loss=train_loss, train_err=train_err,
                                 test_loss=test_loss, test_err=test_err)
                out.append(rec)
                figures = {k: v for k, v in (("train_loss", train_loss), ("train_err", train_err),
                                             ("test_err", test_err)) if v is not None}
            if (evaluating and step < cfg.steps) or stop.requested:
                save_checkpoint(checkpoint, Checkpoint(run, step, (window.loss, window.wrong, window.seen), train_s),
                                model, opt, sched)
            if stop.requested:  # the step is whole and saved: --resume continues from here
                raise Interrupted(step)
            if progress:
                progress(step, figures)
    final: dict[str, Any] = {}
    if not diverged:
        final["final_train_loss"], final["final_train_err"] = evaluate(model, data.train)
        final["final_test_loss"], final["final_test_err"] = evaluate(model, data.test)
    done, this_s = step - state.step, train_s - state.train_s  # what this process trained (after a resume: since it)
    record = RunRecord(
        **base,
        steps=cfg.steps,
        batch=cfg.batch,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        momentum=cfg.momentum,
        schedule=cfg.schedule,
        warmup=cfg.warmup,
        diverged=diverged,
        stopped_at=step,
        **final,
        images_per_s=done * cfg.batch / this_s if done and this_s > 0 else None,
        train_s=train_s,
        wall_s=time.perf_counter() - wall0,
        resumed_at=resumed_at,
        depth=info.depth,
        residual=info.residual,
        design=info.design,
        params=info.params,
        threads=info.threads,
        env=info.env,
        timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    out.append(record)
    checkpoint.unlink(missing_ok=True)
    return record
