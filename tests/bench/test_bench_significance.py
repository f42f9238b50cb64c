"""Ratios with intervals and verdicts, the speed-index re-measure and --repeat auto, on fabricated rounds."""

from __future__ import annotations

import numpy as np
import pytest

from resgraph.bench.comparison import relative_to_first
from resgraph.bench.record import Record
from resgraph.bench.rounds import measure_rounds
from resgraph.bench.significance import LEVEL, difference, level_for, settled
from resgraph.bench.speed import DRIFT_MAX, reference_times_ms, speed_index_ms


def _rounds(p50: float, n: int, noise: float, seed: int) -> list[float]:
    """n rounds' medians around p50 with multiplicative noise (a shared machine), seeded."""
    rng = np.random.default_rng(seed)
    return [float(p50 * np.exp(rng.normal(0, noise))) for _ in range(n)]


def _rec(spec: str, rounds: list[float], **kw) -> Record:
    p50 = sorted(rounds)[(len(rounds) - 1) // 2]
    return Record(spec=spec, backend="onnxruntime", batch=1, status="ok", p50_ms=p50, round_p50_ms=rounds,
                  repeat=len(rounds), **kw)


def test_the_same_network_twice_is_no_significant_difference():
    # resnet20 and a copy of its file: one latency, five rounds of a 5 %-noisy machine, paired by round
    machine = _rounds(1.0, 5, 0.10, seed=1)  # the machine's speed in each round, shared by both rows
    a = [2.6 * m * x for m, x in zip(machine, _rounds(1.0, 5, 0.02, seed=2), strict=True)]
    b = [2.6 * m * x for m, x in zip(machine, _rounds(1.0, 5, 0.02, seed=3), strict=True)]
    rows = relative_to_first([_rec("resnet20", a), _rec("resnet20#2", b)])
    assert rows[0].relative == 1.0 and rows[0].verdict is None
    d = rows[1].diff
    assert d is not None and d.paired and d.rounds == 5 and d.level == LEVEL
    assert d.low < 1 < d.high and d.verdict == "no significant difference"
    lo, hi = rows[1].interval
    assert lo < rows[1].relative < hi  # speed's interval is the time ratio's, inverted


def test_a_deeper_network_is_slower_and_the_shallower_faster():
    machine = _rounds(1.0, 3, 0.10, seed=4)
    r20 = [2.6 * m for m in machine]
    r56 = [7.1 * m * x for m, x in zip(machine, _rounds(1.0, 3, 0.03, seed=5), strict=True)]
    slower = relative_to_first([_rec("resnet20", r20), _rec("resnet56", r56)])[1]
    assert slower.verdict == "slower" and slower.relative == pytest.approx(2.6 / 7.1, rel=0.05)
    assert slower.interval[1] < 1  # the whole interval of its speed is below the first's
    faster = relative_to_first([_rec("resnet56", r56), _rec("resnet20", r20)])[1]
    assert faster.verdict == "faster" and faster.interval[0] > 1


def test_unpaired_runs_use_welch_and_one_round_has_no_interval():
    before, after = _rounds(10.0, 4, 0.02, seed=6), _rounds(12.0, 4, 0.02, seed=7)
    d = difference(before, after, paired=False)
    assert not d.paired and d.verdict == "slower" and d.low > 1.1 and d.high < 1.35
    same = difference(before, _rounds(10.0, 4, 0.02, seed=8), paired=False)
    assert same.verdict == "no significant difference"
    one = difference(None, None, paired=False, a_p50=10.0, b_p50=12.0)
    assert one.ratio == pytest.approx(1.2) and one.low is None and "one round" in one.verdict


def test_auto_looks_share_the_level_and_decided_means_excludes_one_or_within_five_percent():
    assert level_for(False) == LEVEL and level_for(True) > 0.99  # 5 % over up to 8 looks
    assert difference([10, 10.1, 9.9], [13, 13.2, 12.9], paired=True).decided  # clearly slower
    assert difference([10, 10.1, 9.9], [10.02, 10.1, 9.92], paired=True).decided  # within +-5 %
    assert not difference([10, 13, 8], [11, 9, 12], paired=True).decided  # too noisy to say either
    assert settled([10, 10.1, 9.95]) and not settled([10, 14, 7])


def _measured(speeds: dict[str, list[float]]):
    """A fake runner: each call of a row gives its next speed index (p50 10 ms), counting calls per row."""
    calls: dict[str, int] = {}

    def measure(batch):
        for name in batch:
            i = calls[name] = calls.get(name, 0) + 1
            yield name, Record(spec=name, backend="eager", batch=1, status="ok", p50_ms=10.0,
                               speed_ms=speeds[name][i - 1], threads=2)

    return measure, calls


def test_a_row_whose_speed_index_drifted_is_re_measured_then_flagged_if_still_off():
    # a, b, c set the usual speed (2 ms); d drifted 50 % and recovers; e drifted and stays off
    measure, calls = _measured({"a": [2.0], "b": [2.0], "c": [2.0], "d": [3.0, 2.05], "e": [3.0, 2.9]})
    out = dict(measure_rounds(list("abcde"), lambda n: n, measure, 1))
    assert calls == {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2}
    assert out["d"].speed_ms == 2.05 and out["d"].unstable is None  # the re-measure stands
    assert out["e"].speed_ms == 2.9 and "speed index was 2.9 ms against the sweep's usual 2.05 ms" in out["e"].unstable
    assert f"> {DRIFT_MAX:.0%} after a re-measure" in out["e"].unstable


def test_one_slow_reading_at_the_start_does_not_flag_the_rows_after_it():
    # the first row ran beside the end of another job (2.6 ms); the machine's usual speed is 2 ms
    measure, calls = _measured({"a": [2.6], "b": [2.0, 2.0], "c": [2.05], "d": [1.95], "e": [2.6, 2.02]})
    out = dict(measure_rounds(list("abcde"), lambda n: n, measure, 1))
    assert calls == {"a": 1, "b": 1, "c": 1, "d": 1, "e": 2}  # the low median of 2.6 and 2.0 is 2.0
    assert all(r.unstable is None for r in out.values())


def test_repeat_auto_stops_once_decided_and_runs_to_the_cap_otherwise():
    measure, calls = _measured({"a": [2.0] * 10})
    list(measure_rounds(["a"], lambda n: n, measure, 10, adaptive=True, decided=lambda recs: True))
    assert calls == {"a": 3}  # at least three rounds, then the first look
    measure, calls = _measured({"a": [2.0] * 10})
    out = list(measure_rounds(["a"], lambda n: n, measure, 10, adaptive=True, decided=lambda recs: False))
    assert calls == {"a": 10} and out[0][1].repeat == 10


def test_the_reference_kernel_gives_a_positive_index():
    runs = [reference_times_ms(2), reference_times_ms(2)]
    assert all(t > 0 for run in runs for t in run) and speed_index_ms(runs) > 0
