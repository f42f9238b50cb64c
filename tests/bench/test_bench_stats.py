"""Statistics on known samples: exact percentiles, spread and throughput."""

import math

import numpy as np
import pytest

from resgraph.bench.stats import summarize


def test_percentiles_of_1_to_100_ms():
    s = summarize(np.arange(1, 101) * 1e-3, batch=8)
    # numpy's linear interpolation: rank (n-1)q  ->  p50 = 50.5, p90 = 90.1, p99 = 99.01
    assert s.n == 100
    assert s.min == pytest.approx(1e-3)
    assert s.p50 == pytest.approx(50.5e-3)
    assert s.p90 == pytest.approx(90.1e-3)
    assert s.p99 == pytest.approx(99.01e-3)
    assert s.mean == pytest.approx(50.5e-3)
    assert s.std == pytest.approx(math.sqrt((100**2 - 1) / 12) * 1e-3)  # population std of 1..n
    assert s.cv == pytest.approx(s.std / s.mean)
    assert s.throughput == pytest.approx(8 / 50.5e-3)


def test_as_ms_record_fields():
    d = summarize(np.array([0.002, 0.004, 0.006]), batch=2).as_ms()
    assert d["min_ms"] == pytest.approx(2.0)
    assert d["p50_ms"] == pytest.approx(4.0)
    assert d["mean_ms"] == pytest.approx(4.0)
    assert d["throughput"] == pytest.approx(500.0)
    assert d["samples"] == 3


def test_constant_samples_have_zero_spread():
    s = summarize(np.full(10, 0.01))
    assert s.std == pytest.approx(0, abs=1e-15) and s.cv == pytest.approx(0, abs=1e-12)
    assert s.p99 == pytest.approx(0.01)


@pytest.mark.parametrize("bad", [np.array([]), np.ones((2, 2))])
def test_rejects_empty_or_2d(bad):
    with pytest.raises(ValueError):
        summarize(bad)
