"""A run's checkpoint: model, optimizer, schedule, random state and the unlogged window, written atomically.

Everything a resumed run needs to continue the very same curve; the file is
replaced whole (never half-written) and carries the run id it belongs to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resgraph.atomic import ensure_folder, regular_file, save_torch
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
    save_torch(payload, path)


def load_checkpoint(path: Path, run: str, model: nn.Module, opt: torch.optim.Optimizer, sched: Any, *,
                    steps: int) -> Checkpoint:
    """Restore ``model``, ``opt``, ``sched`` and the global RNG from ``path``; the run ids must agree.

    Unpickling with ``weights_only`` runs no code, but the values are still the file's: every one is checked
    against this run (``steps`` long) before any is loaded, so a tampered or foreign file is one line, never a
    crash mid-run or a run that finishes with a false record.
    """
    try:
        regular_file(path, "a training checkpoint")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}; remove it to start afresh") from None

    def refuse(why: str) -> UsageError:
        return UsageError(f"{path}: not a resgraph training checkpoint ({why}); remove it to start afresh")

    try:
        size, most = path.stat().st_size, _most_bytes(model)
        if size > most:
            raise refuse(f"{size:,} bytes, where this run's checkpoint takes at most {most:,}")
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(payload, dict) and isinstance(payload.get("run"), str) and payload["run"] != run:
            raise UsageError(f"{path}: a checkpoint of another run ({payload['run']!r}, expected {run!r}); "
                             "remove it to start afresh")
        why = checkpoint_problem(payload, model, opt, sched, steps)
        if why:
            raise refuse(why)
        model.load_state_dict(payload["model"])
        opt.load_state_dict(payload["optimizer"])
        sched.load_state_dict(payload["schedule"])
        torch.set_rng_state(payload["rng"])
        loss, wrong, seen = payload["window"]
        return Checkpoint(run, payload["step"], (float(loss), wrong, seen), float(payload["train_s"]))
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: say which, never a traceback
        raise refuse(type(exc).__name__) from None


_KEYS = ("run", "step", "window", "train_s", "model", "optimizer", "schedule", "rng")


def _most_bytes(model: nn.Module) -> int:
    """A generous bound on a checkpoint's size: the model's tensors three times over (weights, momentum, slack)
    and 1 MiB of the rest; a bigger file is refused before torch.load holds it in memory."""
    return 3 * sum(t.numel() * t.element_size() for t in model.state_dict().values()) + (1 << 20)


def _number(v: Any, integer: bool = False) -> bool:
    """A finite, non-negative number (an int where ``integer``); a bool is neither."""
    if integer:
        return type(v) is int and v >= 0
    return type(v) in (int, float) and math.isfinite(v) and v >= 0


def checkpoint_problem(payload: Any, model: nn.Module, opt: torch.optim.Optimizer, sched: Any,
                       steps: int) -> str | None:
    """Why ``payload`` is no checkpoint of this run (a short clause naming the field), or None."""
    if not isinstance(payload, dict):
        return f"a {type(payload).__name__}, not a dict"
    if set(payload) != set(_KEYS):
        missing, extra = sorted(set(_KEYS) - set(payload), key=str), sorted(set(payload) - set(_KEYS), key=str)
        return "; ".join([f"missing {', '.join(missing)}"] * bool(missing)
                         + [f"unexpected {', '.join(map(repr, extra))}"] * bool(extra))
    step = payload["step"]
    if not _number(step, integer=True) or step > steps:
        return f"step {step!r} is not a whole number from 0 to {steps}"
    window = payload["window"]
    if not (isinstance(window, (list, tuple)) and len(window) == 3 and _number(window[0])
            and _number(window[1], True) and _number(window[2], True) and window[1] <= window[2]):
        return f"window {window!r} is not [loss sum, wrong, seen] with 0 <= wrong <= seen"
    if not _number(payload["train_s"]):
        return f"train_s {payload['train_s']!r} is not a finite number of seconds >= 0"
    rng = payload["rng"]
    want_rng = torch.get_rng_state()
    if not isinstance(rng, torch.Tensor) or rng.dtype != want_rng.dtype or rng.shape != want_rng.shape:
        return "rng is not the CPU generator's state (a uint8 tensor of 5056 bytes)"
    return (_model_problem(payload["model"], model) or _optimizer_problem(payload["optimizer"], opt, sched, step)
            or _schedule_problem(payload["schedule"], sched, step))


def _model_problem(sd: Any, model: nn.Module) -> str | None:
    from resgraph.lower.weights import tensor_problem

    expected = model.state_dict()
    if not isinstance(sd, dict) or set(sd) != set(expected):
        return "model is not this network's state_dict (its keys differ)"
    return next((f"model.{k}: {why}" for k, want in expected.items()
                 if (why := tensor_problem(sd[k], want, "this network"))), None)


def _optimizer_problem(sd: Any, opt: torch.optim.Optimizer, sched: Any, step: int) -> str | None:
    """The SGD state: its settings this run's, its learning rate the schedule's at ``step``, each momentum buffer
    a finite tensor of its parameter's shape and dtype."""
    from resgraph.lower.weights import tensor_problem

    expected = opt.state_dict()
    if not isinstance(sd, dict) or set(sd) != {"state", "param_groups"}:
        return "optimizer is not an SGD state_dict (state, param_groups)"
    groups = sd["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(expected["param_groups"]):
        return f"optimizer.param_groups: expected {len(expected['param_groups'])} group(s)"
    for i, (g, want) in enumerate(zip(groups, expected["param_groups"], strict=True)):
        if not isinstance(g, dict) or set(g) != set(want):
            return f"optimizer.param_groups[{i}]: its keys are not SGD's"
        lr = g["lr"]
        should = sched.base_lrs[i] * sched.lr_lambdas[i](step)
        if type(lr) not in (int, float) or not math.isfinite(lr) or not math.isclose(lr, should, rel_tol=1e-9,
                                                                                         abs_tol=1e-12):
            return f"optimizer.param_groups[{i}].lr {lr!r} is not the schedule's {should:g} at step {step}"
        changed = next((k for k in want if k != "lr" and (type(g[k]) is not type(want[k]) or g[k] != want[k])), None)
        if changed:
            return f"optimizer.param_groups[{i}].{changed} {g[changed]!r} is not this run's {want[changed]!r}"
    params = [p for g in opt.param_groups for p in g["params"]]
    state = sd["state"]
    if not isinstance(state, dict):
        return "optimizer.state is not a dict"
    for k, v in state.items():
        if type(k) is not int or not 0 <= k < len(params):
            return f"optimizer.state: {k!r} is no parameter's index (0 to {len(params) - 1})"
        if not isinstance(v, dict) or not set(v) <= {"momentum_buffer"}:
            return f"optimizer.state[{k}] holds other than a momentum_buffer"
        buf = v.get("momentum_buffer")
        if buf is not None and (why := tensor_problem(buf, params[k].detach(), "its parameter")):
            return f"optimizer.state[{k}].momentum_buffer: {why}"
    return None


def _schedule_problem(sd: Any, sched: Any, step: int) -> str | None:
    """LambdaLR's state: exactly its keys (its load_state_dict copies any key into the scheduler), at ``step``."""
    expected = sched.state_dict()
    if not isinstance(sd, dict) or set(sd) != set(expected):
        extra = sorted(set(sd) - set(expected), key=str) if isinstance(sd, dict) else []
        return "schedule is not this run's LambdaLR state" + (f" (unexpected {', '.join(map(repr, extra))})"
                                                               if extra else "")
    if sd["base_lrs"] != expected["base_lrs"] or sd["lr_lambdas"] != expected["lr_lambdas"]:
        return "schedule.base_lrs or lr_lambdas are not this run's"
    if sd["last_epoch"] != step or sd["_step_count"] != step + 1:
        return f"schedule is at step {sd['last_epoch']!r}, the checkpoint at {step}"
    last = sd["_last_lr"]
    if not (isinstance(last, list) and len(last) == len(expected["_last_lr"])
            and all(type(v) in (int, float) and math.isfinite(v) for v in last)):
        return "schedule._last_lr is not one finite learning rate per group"
    bad = next((k for k in expected if k not in ("base_lrs", "lr_lambdas", "last_epoch", "_step_count", "_last_lr")
                and type(sd[k]) is not type(expected[k])), None)
    return f"schedule.{bad} {sd[bad]!r} is not a {type(expected[bad]).__name__}" if bad else None
