"""A run's checkpoint: model, optimizer, schedule, random state and the unlogged window, written atomically.

Everything a resumed run needs to continue the very same curve; the file is
replaced whole (never half-written) and carries the run id it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resgraph.atomic import atomic_path, ensure_folder, regular_file
from resgraph.errors import UsageError


@dataclass(frozen=True)
class Checkpoint:
    """Where a run stands: its id, steps done, the unlogged loss window and training seconds so far."""

    run: str
    step: int
    window: tuple[float, int, int]  # loss sum, wrong, seen since the last logged step
    train_s: float


def save_checkpoint(path: Path, ck: Checkpoint, model: nn.Module, opt: torch.optim.Optimizer,
                    sched: Any) -> None:
    """Write ``path`` whole, or leave the previous checkpoint as it was."""
    ensure_folder(path.parent)
    payload = {"run": ck.run, "step": ck.step, "window": list(ck.window), "train_s": ck.train_s,
               "model": model.state_dict(), "optimizer": opt.state_dict(), "schedule": sched.state_dict(),
               "rng": torch.get_rng_state()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path, run: str, model: nn.Module, opt: torch.optim.Optimizer, sched: Any) -> Checkpoint:
    """Restore ``model``, ``opt``, ``sched`` and the global RNG from ``path``; the run ids must agree."""
    try:
        regular_file(path, "a training checkpoint")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}; remove it to start afresh") from None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("run") != run:
            raise UsageError(f"{path}: a checkpoint of another run ({payload.get('run')!r}, expected {run!r}); "
                             "remove it to start afresh")
        model.load_state_dict(payload["model"])
        opt.load_state_dict(payload["optimizer"])
        sched.load_state_dict(payload["schedule"])
        torch.set_rng_state(payload["rng"])
        loss, wrong, seen = payload["window"]
        return Checkpoint(run, int(payload["step"]), (float(loss), int(wrong), int(seen)), float(payload["train_s"]))
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: say which, never a traceback
        raise UsageError(f"{path}: not a resgraph training checkpoint ({type(exc).__name__}); remove it to "
                         "start afresh") from None
