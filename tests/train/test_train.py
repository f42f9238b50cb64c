"""resgraph train: mechanics on tiny budgets (not accuracy): learning, resuming, records, errors."""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import pytest
import torch

from resgraph.spec import load_spec
from resgraph.train import TrainConfig, fit_to_data, load_data, loop, train_specs
from resgraph.train.records import curves, read_train_records

pytest.importorskip("sklearn")

TINY = """
name: tiny
input: {channels: 3, size: 32}
stem: cifar
block: basic
shortcut: A
stages:
  - {blocks: 1, width: 16}
  - {blocks: 1, width: 32, stride: 2}
head: {classes: 10}
"""
TIMINGS = {"images_per_s", "train_s", "wall_s", "timestamp", "resumed_at", "env"}


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


def tiny_spec(tmp_path: Path, **extra: str) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY + "".join(f"{k}: {v}\n" for k, v in extra.items()))
    return p


def test_loss_falls_on_the_generated_task(tmp_path):
    data = load_data("synthetic")
    spec = load_spec(tiny_spec(tmp_path))
    out = tmp_path / "t.jsonl"
    [run] = train_specs([spec], data, [TrainConfig(steps=40, batch=32, lr=0.05, log_every=4)], out, progress=False, threads=1)
    steps, _ = curves(read_train_records(out))
    losses = [r["train_loss"] for _, r in sorted(next(iter(steps.values())).items())]
    assert len(losses) == 10
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3, losses
    assert run["final_train_err"] < 0.9 and run["images_per_s"] > 0 and not run["diverged"]


def _curve(path: Path) -> tuple[list[dict], dict]:
    steps, runs = curves(read_train_records(path))
    [(run, by_step)] = steps.items()
    return [by_step[s] for s in sorted(by_step)], runs[run].model_dump(exclude=set(TIMINGS))


@pytest.mark.parametrize("how", ["sigint", "crash"])  # Ctrl-C saves a checkpoint at the step's end; a crash does not
def test_resume_gives_the_uninterrupted_curve(tmp_path, digits, monkeypatch, how):
    spec = fit_to_data(load_spec(tiny_spec(tmp_path, drop_path="0.1")), digits, fit=True)  # stochastic depth: RNG state
    cfg = TrainConfig(steps=24, batch=64, lr=0.05, log_every=2, eval_every=6, seed=3)
    whole, cut = tmp_path / "whole.jsonl", tmp_path / "cut.jsonl"
    train_specs([spec], digits, [cfg], whole, progress=False, threads=1)

    real, calls = loop.fetch, {"n": 0}

    def failing(ds, idx):
        calls["n"] += 1
        if calls["n"] == 16:  # step 14's batch (after 2 evaluations): past the checkpoint at step 12, between logs
            if how == "crash":
                raise RuntimeError("stop")
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, in the middle of a step
        return real(ds, idx)

    monkeypatch.setattr(loop, "fetch", failing)
    with pytest.raises(KeyboardInterrupt if how == "sigint" else RuntimeError):
        train_specs([spec], digits, [cfg], cut, progress=False, threads=1)
    monkeypatch.setattr(loop, "fetch", real)
    checkpoints = list(tmp_path.glob(".cut.jsonl.checkpoints/*.pt"))
    assert len(checkpoints) == 1
    [rec] = train_specs([spec], digits, [cfg], cut, resume=True, progress=False, threads=1)
    assert rec["resumed_at"] == (14 if how == "sigint" else 12)  # Ctrl-C finished step 14 first
    assert _curve(cut) == _curve(whole)
    assert not list(tmp_path.glob(".cut.jsonl.checkpoints/*.pt"))  # a finished run leaves no checkpoint
    # A finished run is not trained again.
    assert train_specs([spec], digits, [cfg], cut, resume=True, progress=False, threads=1)[0]["timestamp"] == rec["timestamp"]


def test_step_records_carry_the_issue_fields(tmp_path, digits):
    spec = fit_to_data(load_spec("resnet20"), digits, fit=True)
    out = tmp_path / "r.jsonl"
    train_specs([spec], digits, [TrainConfig(steps=4, batch=64, log_every=2, eval_every=4)], out, progress=False, threads=1)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["record"] for r in lines] == ["train_step", "train_step", "train_run"]
    first = lines[0]
    assert {"spec", "spec_hash", "seed", "step", "epoch", "lr", "train_loss", "train_err"} <= first.keys()
    assert first["test_err"] is None and first["test_loss"] is None  # evaluated at step 4 only
    assert lines[1]["test_loss"] is not None and lines[1]["test_err"] is not None
    assert lines[2]["depth"] == 20 and lines[2]["residual"] is True and lines[2]["images_per_s"] > 0


def test_schedule_is_the_papers():
    cfg = TrainConfig(steps=100, lr=0.1)
    assert [cfg.lr_at(s) for s in (0, 49, 50, 74, 75, 99)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    warm = TrainConfig(steps=100, lr=0.1, warmup=10, schedule="cosine")
    assert warm.lr_at(0) == pytest.approx(0.01) and warm.lr_at(9) == pytest.approx(0.1 * 0.5 * (1 + math.cos(0.09 * math.pi)))
    assert warm.lr_at(99) < 0.001
    long = TrainConfig(steps=100, lr=0.1, warmup=80)  # a warm-up past the first decay never climbs over it
    assert max(long.lr_at(s) for s in range(50, 100)) <= 0.01 + 1e-12
    with pytest.raises(ValueError):
        TrainConfig(steps=10, lr=float("nan"))
    assert cfg.run_id("h", "digits") != TrainConfig(steps=100, lr=0.1, seed=1).run_id("h", "digits")


def test_fit_input_and_saved_weights_load_strictly(tmp_path, digits):
    from resgraph.lower import build_model

    spec = fit_to_data(load_spec("resnet20"), digits, fit=True)
    assert (spec.input.channels, spec.input.hw, spec.head.classes) == (1, (8, 8), 10)
    train_specs([spec], digits, [TrainConfig(steps=2, batch=32)], tmp_path / "r.jsonl", progress=False, threads=1,
                save_weights=tmp_path / "w")
    model = build_model(load_spec(tmp_path / "w" / "resnet20-seed0.yaml"))
    model.load_state_dict(torch.load(tmp_path / "w" / "resnet20-seed0.pt", weights_only=True), strict=True)


def test_a_mismatched_spec_names_both_shapes(digits):
    from resgraph.errors import UsageError

    with pytest.raises(UsageError, match=r"resnet20: input 3x32x32 but digits images are 1x8x8; head.classes 10"
                                         r"|resnet20: input 3x32x32 but digits images are 1x8x8"):
        fit_to_data(load_spec("resnet20"), digits, fit=False)


def test_a_malformed_training_line_is_skipped_with_a_warning(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"record": "train_step", "run": "x", "spec": "a", "spec_hash": "", "data": "d", "seed": 0, '
                 '"step": "three", "epoch": 0, "lr": 0.1, "train_loss": 1, "train_err": 0.5}\n')
    with pytest.warns(UserWarning, match=r"r.jsonl:1: skipping a malformed training record: step"):
        assert read_train_records(p) == []


def test_evaluations_need_not_fall_on_logged_steps(tmp_path, digits):
    spec = fit_to_data(load_spec(tiny_spec(tmp_path)), digits, fit=True)
    out = tmp_path / "r.jsonl"
    train_specs([spec], digits, [TrainConfig(steps=30, batch=32, log_every=5, eval_every=7)], out, progress=False,
                threads=1)
    steps, _ = curves(read_train_records(out))
    by_step = next(iter(steps.values()))
    assert [s for s, r in sorted(by_step.items()) if r.test_err is not None] == [7, 14, 21, 28, 30]
    assert {5, 10, 15, 20, 25} <= by_step.keys()


def test_a_bench_results_file_is_no_training_file(tmp_path, digits):
    from resgraph.errors import UsageError

    out = tmp_path / "bench.jsonl"
    out.write_text('{"spec": "resnet20", "backend": "eager", "batch": 1, "status": "ok"}\n')
    spec = fit_to_data(load_spec(tiny_spec(tmp_path)), digits, fit=True)
    with pytest.raises(UsageError, match="not training records"):
        train_specs([spec], digits, [TrainConfig(steps=2, batch=32)], out, progress=False, threads=1)


def test_saved_weights_stay_in_their_folder_whatever_the_specs_name(tmp_path, digits):
    from resgraph.atomic import file_name

    assert file_name("../../etc/x") == "_.._etc_x" and file_name("/abs") == "_abs" and file_name("..") == "x"
    assert "/" not in file_name("a/b\\c\x1b") and file_name(".hidden") == "hidden"
    spec = fit_to_data(load_spec(tiny_spec(tmp_path)), digits, fit=True).model_copy(update={"name": "../escape"})
    out, folder = tmp_path / "r.jsonl", tmp_path / "w"
    train_specs([spec], digits, [TrainConfig(steps=2, batch=32, log_every=1, eval_every=2)], out, progress=False,
                threads=1, save_weights=folder)
    assert sorted(p.name for p in folder.iterdir()) == ["_escape-seed0.pt", "_escape-seed0.yaml"]
    assert not (tmp_path / "escape-seed0.pt").exists()
