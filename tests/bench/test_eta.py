"""A sweep's ETA: rows' predicted time grows with work, rounds and slots as it should, and the demo says it."""

from __future__ import annotations

from resgraph.bench import TimingConfig, plan
from resgraph.bench.eta import row_seconds, sweep_seconds
from resgraph.bench.row import ModelEntry
from resgraph.bench.toy import tiny_resnet
from resgraph.units import human_duration


def _jobs(macs, backends=("eager",), batches=(1, 8)):
    return plan([ModelEntry("n", tiny_resnet, macs=macs, input_shape=(3, 32, 32))], backends, batches)


def test_a_rows_time_grows_with_its_work_and_a_sweeps_with_rounds_and_falls_with_workers():
    timing = TimingConfig()
    b1, b8 = _jobs(1.8e9)  # resnet18's multiply-adds
    assert row_seconds(b8, timing, 1.5) > row_seconds(b1, timing, 1.5) > timing.min_time_s
    assert row_seconds(b1, timing, 3.0) > row_seconds(b1, timing, 1.5)  # a slower machine now: longer
    (ort,) = _jobs(1.8e9, ("onnxruntime",), (1,))
    assert row_seconds(ort, timing, 1.5) > row_seconds(b1, timing, 1.5)  # an export first
    one = sweep_seconds([b1, b8], timing, 1.5)
    assert sweep_seconds([b1, b8], TimingConfig(repeat=3), 1.5) == 3 * one
    assert sweep_seconds([b1, b8], timing, 1.5, workers=2) == one / 2


def test_the_demos_estimate_is_near_what_it_took_on_a_quiet_machine():
    # the demo: 5 resnet18 variants x eager, channels_last x batch 1, 8 took about 70 s at speed index 1.5 ms
    jobs = _jobs(1.8e9, ("eager", "channels_last")) * 5
    assert 35 < sweep_seconds(jobs, TimingConfig(), 1.5) < 140


def test_durations_are_said_as_a_person_says_them():
    assert [human_duration(s) for s in (2, 42, 200, 7300)] == ["about 5 s", "about 40 s", "about 3 min",
                                                              "about 2 h"]
