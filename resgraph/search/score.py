"""A trial's two numbers: the latency model's prediction, and the objective (higher is better).

``macs`` and ``params`` are exact, counted on the same compiled segments the prediction uses (a
network's repeated blocks counted as often as they repeat). ``probe`` is the data-free probe of
:mod:`resgraph.train.probe` at initialisation: the gradient correlation at the last residual block
(near 1 the gradient is a smooth function of the input, near 0 it is shattered noise), which builds
the module (torch). ``train`` is the test accuracy (%) after a short, seeded training run on ``--data``
(:mod:`resgraph.search.train_objective`): seconds a trial instead of milliseconds, so its trials may run
on Dask workers; the counts and the prediction are always made here, only the objective travels."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resgraph.errors import UsageError
from resgraph.latency.model import LatencyModel, Prediction
from resgraph.latency.predict import expand
from resgraph.search.train_objective import TrainObjective
from resgraph.spec.model import ResNetSpec

__all__ = ["OBJECTIVES", "Counts", "Score", "Scorer"]

OBJECTIVES = {
    "macs": "multiply-adds per image (capacity; exact)",
    "params": "parameters (capacity; exact)",
    "probe": "gradient correlation at the last block at initialisation (data-free probe; builds the module)",
    "train": "test accuracy (%) after a short seeded training run on --data (seconds a trial; --workers)",
}


@dataclass(frozen=True)
class Counts:
    """What is known of a spec before its objective: its counts and its predicted latency."""

    macs: int
    params: int
    depth: int
    prediction: Prediction


@dataclass(frozen=True)
class Score(Counts):
    """What one trial found: the spec's counts, its predicted latency, and the objective's value."""

    objective: float
    seconds: float  # what scoring it cost


class Scorer:
    """Scores specs against one latency model and one objective; the model refuses kinds it never timed."""

    def __init__(self, model: LatencyModel, objective: str, *, probe_batch: int = 8, seed: int = 0,
                 train: TrainObjective | None = None) -> None:
        if objective not in OBJECTIVES:
            raise UsageError(f"--objective: unknown objective {objective!r}; one of {', '.join(OBJECTIVES)}")
        self.model, self.objective = model, objective
        self.probe_batch, self.seed = probe_batch, seed
        self.train = train or TrainObjective(seed=seed)
        self._value: Callable[[ResNetSpec, Counts], float] = {
            "macs": lambda s, c: float(c.macs), "params": lambda s, c: float(c.params), "probe": self._probe,
            "train": lambda s, c: self.train(s)}[objective]

    def count(self, spec: ResNetSpec) -> Counts:
        """Predict and count ``spec``; a kind the profile never timed is a :class:`UsageError` naming it."""
        named = expand(spec)
        _, segs, macs, _ = named
        if missing := self.model.missing(segs):
            raise UsageError(f"{spec.name}: {self.model.profile.path} never timed {', '.join(missing)}: profile a "
                             "space that has it (`resgraph profile --space FILE`), or leave it out of the space")
        (pred,) = self.model.predict_many([named])
        return Counts(macs, sum(s.params for s in segs), spec.depth, pred)

    def value(self, spec: ResNetSpec, counts: Counts) -> float:
        """The objective of ``spec`` in this process; a train run that fails is :class:`TrialFailed`."""
        return self._value(spec, counts)

    def task(self, spec: ResNetSpec, counts: Counts) -> tuple[Callable[..., float], tuple[Any, ...]]:
        """The objective as a function and its arguments, what a pool runs: for train, the recipe (plain data,
        it travels to a Dask worker) and the spec; otherwise this scorer's own ``value``."""
        if self.objective == "train":
            return self.train, (spec,)
        return self.value, (spec, counts)

    def score(self, spec: ResNetSpec) -> Score:
        """Count, predict and score ``spec`` here."""
        start = time.perf_counter()
        c = self.count(spec)
        value = self.value(spec, c)
        return Score(c.macs, c.params, c.depth, c.prediction, value, time.perf_counter() - start)

    def _probe(self, spec: ResNetSpec, counts: Counts) -> float:
        from resgraph.graph import compile_spec
        from resgraph.lower import build_model
        from resgraph.train.probe import probe_blocks

        g = compile_spec(spec)
        gm = build_model(g, seed=self.seed)
        rows = probe_blocks(gm, g, (spec.input.channels, *spec.input.hw), spec.head.classes,
                            batch=self.probe_batch, pairs=4, seed=self.seed)
        return float(rows[-1]["grad_corr"]) if rows else 0.0
