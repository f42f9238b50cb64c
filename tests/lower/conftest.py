"""Fixtures for the lowering tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Run these correctness tests on one intra-op thread, restored afterwards.

    On a 2-core machine shared with other processes, OpenMP's second thread spins
    at every barrier while its core is taken: a ResNet-1202 forward went from
    0.4 s on one thread to 6-20 s on two. Timing lives in bench/, not here.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
