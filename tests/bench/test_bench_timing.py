"""Timing loop: sample counts, warm-up, min_time extension, and the harness's own overhead."""

import time

import numpy as np
import pytest

from resgraph.bench.timing import measure_overhead, time_callable


def test_overhead_of_noop_is_under_10_microseconds():
    # Median of 100k no-op iterations, best of 3 runs so one scheduler hiccup
    # on a shared 2-core box can't fail it; the bound itself is the requirement.
    best = min(measure_overhead(iters=100_000) for _ in range(3))
    assert best < 10e-6, f"harness overhead {best * 1e9:.0f} ns per iteration"
    assert best < 2e-6, f"overhead {best * 1e9:.0f} ns: the hot loop has grown heavy"


def test_warmup_and_iters_counts():
    calls = []
    samples = time_callable(lambda: calls.append(1), warmup=4, iters=17)
    assert len(calls) == 21
    assert samples.shape == (17,)
    assert samples.dtype == np.float64
    assert (samples > 0).all()


def test_samples_measure_real_time():
    samples = time_callable(lambda: time.sleep(0.002), warmup=0, iters=5)
    assert samples.min() >= 0.002
    assert np.median(samples) < 0.05


def test_min_time_extends_sampling_and_max_iters_caps_it():
    samples = time_callable(lambda: time.sleep(0.001), warmup=0, iters=3, min_time_s=0.05)
    assert samples.size > 3
    assert samples.sum() >= 0.05
    capped = time_callable(lambda: None, warmup=0, iters=10, min_time_s=10.0, max_iters=500)
    assert capped.size == 500


@pytest.mark.parametrize("kw", [{"iters": 0, "warmup": 1}, {"iters": 5, "warmup": -1}])
def test_rejects_bad_counts(kw):
    with pytest.raises(ValueError):
        time_callable(lambda: None, **kw)
