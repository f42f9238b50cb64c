"""A training checkpoint is the file's values, not resgraph's: each is checked against the run before resuming."""

from __future__ import annotations

import shutil

import pytest
import torch

from resgraph.errors import UsageError
from resgraph.spec import load_spec
from resgraph.train import TrainConfig, fit_to_data, load_data, loop, train_specs

pytest.importorskip("sklearn")

TINY = """
name: tiny
input: {channels: 3, size: 32}
stem: cifar
block: basic
shortcut: A
stages: [{blocks: 1, width: 16}]
head: {classes: 10}
"""
CFG = TrainConfig(steps=12, batch=64, lr=0.05, log_every=2, eval_every=4, seed=1)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A run cut after its first checkpoint (step 4): the results file and its checkpoint, kept aside."""
    folder = tmp_path_factory.mktemp("ck")
    data = load_data("digits")
    (folder / "tiny.yaml").write_text(TINY)
    spec = fit_to_data(load_spec(folder / "tiny.yaml"), data, fit=True)
    real, calls = loop.fetch, {"n": 0}

    def failing(ds, idx):
        calls["n"] += 1
        if calls["n"] == 7:  # past the checkpoint at step 4 (and its evaluation's fetch)
            raise RuntimeError("stop")
        return real(ds, idx)

    loop.fetch = failing
    try:
        with pytest.raises(RuntimeError):
            train_specs([spec], data, [CFG], folder / "t.jsonl", progress=False, threads=1)
    finally:
        loop.fetch = real
    [ck] = folder.glob(".t.jsonl.checkpoints/*.pt")
    return folder, spec, data, ck


def _resume_with(interrupted, tmp_path, change):
    folder, spec, data, ck = interrupted
    shutil.copy(folder / "t.jsonl", tmp_path / "t.jsonl")
    mine = tmp_path / ".t.jsonl.checkpoints" / ck.name
    mine.parent.mkdir()
    payload = torch.load(ck, weights_only=True)
    torch.save(change(payload), mine)
    return train_specs([spec], data, [CFG], tmp_path / "t.jsonl", resume=True, progress=False, threads=1), mine


def _set(path, value):
    def change(p):
        *keys, last = path
        d = p
        for k in keys:
            d = d[k]
        d[last] = value(d[last]) if callable(value) else value
        return p
    return change


@pytest.mark.parametrize("change, why", [
    (_set(["optimizer", "state", 0, "momentum_buffer"], lambda t: t[:1]), "optimizer.state[0].momentum_buffer: shape"),
    (_set(["optimizer", "state", 0, "momentum_buffer"], lambda t: t.double()), "momentum_buffer: dtype float64"),
    (_set(["optimizer", "state", 0, "momentum_buffer"], lambda t: t * float("nan")), "holds NaN or infinite values"),
    (_set(["optimizer", "state", 0, "momentum_buffer"], "x"), "momentum_buffer: a str, not a tensor"),
    (_set(["optimizer", "state", 10**6], {}), "1000000 is no parameter's index"),
    (_set(["optimizer", "param_groups", 0, "lr"], "0.1"), "param_groups[0].lr '0.1' is not the schedule's"),
    (_set(["optimizer", "param_groups", 0, "lr"], 1e308), "param_groups[0].lr 1e+308 is not the schedule's"),
    (_set(["optimizer", "param_groups", 0, "momentum"], 5.0), "param_groups[0].momentum 5.0 is not this run's 0.9"),
    (_set(["schedule", "step"], 1), "unexpected 'step'"),  # LambdaLR would copy it over its step method
    (_set(["schedule", "last_epoch"], 10**30), "schedule is at step"),
    (_set(["schedule", "_last_lr"], ["x"]), "schedule._last_lr is not one finite"),
    (_set(["step"], -1), "step -1 is not a whole number from 0 to 12"),
    (_set(["step"], 10**30), "is not a whole number from 0 to 12"),
    (_set(["step"], 4.0), "step 4.0 is not a whole number"),
    (_set(["window"], [float("nan"), 0, 0]), "window [nan, 0, 0] is not"),
    (_set(["train_s"], float("inf")), "train_s inf is not a finite number"),
    (_set(["rng"], torch.zeros(3)), "rng is not the CPU generator's state"),
    (_set(["model", "conv1.weight"], lambda t: t.half()), "model.conv1.weight: dtype float16"),
    (lambda p: {k: v for k, v in p.items() if k != "schedule"}, "missing schedule"),
    (lambda p: [p], "a list, not a dict"),
])
def test_a_tampered_checkpoint_is_refused_before_resuming(interrupted, tmp_path, change, why):
    with pytest.raises(UsageError, match="not a resgraph training checkpoint") as exc:
        _resume_with(interrupted, tmp_path, change)
    message = str(exc.value)
    assert why in message and message.endswith("; remove it to start afresh") and "\n" not in message, message


def test_an_untouched_checkpoint_resumes(interrupted, tmp_path):
    [rec], _ = _resume_with(interrupted, tmp_path, lambda p: p)
    assert rec["resumed_at"] == 4 and rec["stopped_at"] == 12


def test_an_oversized_checkpoint_is_refused_before_it_is_read(interrupted, tmp_path):
    def huge(p):
        p["pad"] = torch.zeros(4_000_000)
        return p
    with pytest.raises(UsageError, match=r"bytes, where this run's checkpoint takes at most"):
        _resume_with(interrupted, tmp_path, huge)
