"""The ``train`` objective: test accuracy (%) after a short, seeded training run on ``--data``.

Each trial trains its network as ``resgraph train`` does (:func:`resgraph.train.train_specs`, the
network's input and head fitted to the data as ``--fit-input`` fits them), with one recipe for every
trial: ``steps`` SGD steps of batch 128 at lr 0.1, a linear warm-up over the first fifth (without it
deep residual nets start slower than shallow ones, docs/training.md), seed 0's weights and data order,
one thread. So the value of a trial is reproduced by

    resgraph train SPEC --data DATA --fit-input --steps STEPS --warmup STEPS//5 --seed SEED --threads 1

and a trial gives the same number in this process and on any Dask worker. A run whose loss became
NaN, or that raised, is :class:`TrialFailed` (the search tells Optuna the trial failed, and keeps why).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from resgraph.spec.model import ResNetSpec

__all__ = ["DEFAULT_STEPS", "TrainObjective", "TrialFailed"]

DEFAULT_STEPS = 40  # resnet20 on digits: ~3 s of training on one core here, ~96 % test accuracy


class TrialFailed(Exception):
    """A trial's objective could not be had (the loss diverged, the network does not fit the data, ...)."""


@dataclass(frozen=True)
class TrainObjective:
    """One short training recipe, the same for every trial; plain data, so it travels to Dask workers."""

    data: str = "digits"
    steps: int = DEFAULT_STEPS
    seed: int = 0
    threads: int = 1  # one: the same floating-point sums in this process and on every worker

    @property
    def warmup(self) -> int:
        return self.steps // 5

    def check(self) -> None:
        """Load the data here once, so a wrong ``--data`` is one error before the study, not a failed trial each."""
        from resgraph.train import load_data

        load_data(self.data)

    def __call__(self, spec: ResNetSpec) -> float:
        """Train ``spec`` (fitted to the data) and return its test accuracy in % (100 - test error)."""
        from resgraph.errors import ResgraphError
        from resgraph.train import TrainConfig, fit_to_data, load_data, train_specs

        data = load_data(self.data, spec.input.hw)
        try:
            fitted = fit_to_data(spec, data, fit=True)
        except ResgraphError as e:  # a stem that shrinks 8x8 digits to nothing, say
            raise TrialFailed(f"does not fit {data.name} ({data.shape}): {str(e).strip().splitlines()[0]}") from None
        # evaluated once, at the end: evaluations never change the curve (eval mode, no generator drawn)
        cfg = TrainConfig(steps=self.steps, warmup=self.warmup, seed=self.seed, log_every=self.steps,
                          eval_every=self.steps)
        with tempfile.TemporaryDirectory(prefix="resgraph-trial-") as tmp:
            (rec,) = train_specs([fitted], data, [cfg], Path(tmp) / "train.jsonl", threads=self.threads,
                                 progress=False, on_interrupt="the trial is dropped; --resume continues the search")
        if rec.diverged or rec.final_test_err is None:
            raise TrialFailed(f"diverged at step {rec.stopped_at} of {self.steps} (loss became NaN or infinite)")
        return 100.0 * (1.0 - rec.final_test_err)

    def timed(self, spec: ResNetSpec, steps: int) -> float:
        """Seconds one run of ``steps`` steps takes here (the dry run's measurement)."""
        start = time.perf_counter()
        with contextlib.suppress(TrialFailed):  # a diverged run took its steps all the same (or fewer)
            TrainObjective(self.data, steps, self.seed, self.threads)(spec)
        return time.perf_counter() - start
