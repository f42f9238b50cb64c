"""make test's small budget of the non-spec fuzzer (tests/fuzz_inputs.py): seeded, so a finding reproduces."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fuzz_inputs import run  # noqa: E402 - a script beside the tests, not a package


def test_non_spec_inputs_give_exit_0_or_one_line():
    n, found = run(40, seed=0)
    assert n == 40 and found == [], found
