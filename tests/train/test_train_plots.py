"""The training and probe pictures draw what the file holds: no empty panel, no two specs as one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from resgraph.train import report


@pytest.fixture
def captured(monkeypatch):
    pytest.importorskip("matplotlib")
    figs = []
    monkeypatch.setattr(report, "save_figure", lambda fig, out, stem, formats: figs.append(fig) or [])
    return figs


def _probe_rows(spec, depth, residual, scale):
    return [{"spec": spec, "depth": depth, "residual": residual, "block": b, "scope": f"b{b}", "stage": 1,
             "act_std": scale * (b + 1), "grad_norm": scale, "grad_corr": 0.5} for b in range(3)]


def test_two_probed_specs_of_one_depth_and_kind_are_two_distinct_lines(captured, tmp_path: Path):
    rows = _probe_rows("resnet20", 20, True, 1.0) + _probe_rows("my_resnet20_w2", 20, True, 2.0)
    report._probe_plot(rows, tmp_path, ("png",))
    (fig,) = captured
    lines = fig.axes[0].lines
    assert len(lines) == 2 and lines[0].get_color() != lines[1].get_color()
    assert lines[0].get_marker() != lines[1].get_marker()


def test_a_training_file_without_plain_nets_draws_no_plain_panel(captured, tmp_path: Path):
    from resgraph.train.records import RunRecord, StepRecord

    common = {"run": "r0", "spec": "resnet20", "spec_hash": "h", "data": "digits", "seed": 0}
    run = RunRecord.model_validate({**common, "depth": 20, "residual": True, "steps": 2, "batch": 8,
                                    "final_test_err": 0.1})
    steps = {"r0": {s: StepRecord.model_validate({**common, "step": s, "epoch": 0, "lr": 0.1, "train_err": 0.2,
                                                  "test_err": 0.1}) for s in (1, 2)}}
    report._fig6(steps, {"r0": run}, tmp_path, ("png",))
    (fig,) = captured
    assert [ax.get_title() for ax in fig.axes] == ["residual networks"]
