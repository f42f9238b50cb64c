"""--repeat N: rows measured in interleaved rounds, reported as the median of the rounds' medians."""

from __future__ import annotations

import pytest

from resgraph.bench import plan, run_sweep
from resgraph.bench.record import Record
from resgraph.bench.record import read_results as read_records
from resgraph.bench.rounds import combine, run_rounds
from resgraph.bench.row import ModelEntry
from resgraph.bench.timing import TimingConfig
from resgraph.bench.toy import tiny_resnet


def _rec(p50, status="ok", unstable=None):
    return Record(spec="a", backend="eager", status=status, p50_ms=p50, batch=2, unstable=unstable, reason=None,
                  p10_ms=p50 and p50 * 0.9, p90_ms=p50 and p50 * 1.1, throughput=p50 and 2e3 / p50)


def test_rounds_are_interleaved_and_each_row_is_yielded_after_its_last():
    calls = []
    jobs = plan([ModelEntry(n, tiny_resnet, input_shape=(3, 32, 32)) for n in ("a", "b")], ["eager"], [1])
    out = list(run_rounds(jobs, 3, lambda j: calls.append(j.model.name) or _rec(1.0)))
    assert calls == ["a", "b", "b", "a", "a", "b"]  # all rows once, then all again (in reverse: none always first)
    assert [j.model.name for j, _ in out] == ["a", "b"]


def test_combined_record_is_the_median_of_round_medians_with_their_spread():
    rec = combine([_rec(10.0), _rec(12.0), _rec(30.0, unstable="cv 0.3 > 0.10")])
    assert rec["p50_ms"] == 12.0 and rec["round_p50_ms"] == [10.0, 12.0, 30.0] and rec["repeat"] == 3
    assert rec["throughput"] == pytest.approx(2 * 1e3 / 12.0)
    assert rec["p10_ms"] <= rec["p50_ms"] <= rec["p90_ms"]  # the median round's own statistics
    even = combine([_rec(8.0), _rec(10.0)])
    assert even["p50_ms"] == 8.0 and even["p10_ms"] == pytest.approx(7.2)  # the lower median: a real round
    assert rec["round_spread"] == pytest.approx(20 / 12, abs=1e-4)
    assert rec["unstable"] == "rounds spread 167% of the median > 10%"  # one unstable round of three is outvoted
    steady = combine([_rec(10.0, unstable="cv 0.2 > 0.10"), _rec(10.1, unstable="cv 0.2 > 0.10"), _rec(10.05)])
    assert steady["unstable"] == "2 of 3 rounds unstable"
    failed = combine([_rec(10.0), _rec(None, status="failed")])
    assert failed["status"] == "failed" and failed["repeat"] == 2  # a failure is not averaged away


def test_a_sweep_with_repeat_writes_each_row_once_with_its_rounds(tmp_path):
    out = tmp_path / "r.jsonl"
    jobs = plan([ModelEntry("tiny", tiny_resnet, spec_hash="h", input_shape=(3, 32, 32))], ["eager"], [1, 2])
    rows = run_sweep(jobs, out, progress=False, threads=1,
                     timing=TimingConfig(warmup=1, iters=3, min_time_s=None, repeat=2), roofline=False)
    assert [r["repeat"] for r in rows] == [2, 2] and all(len(r["round_p50_ms"]) == 2 for r in rows)
    assert len(read_records(out)) == 2
