"""A trial's two numbers: the latency model's prediction, and the objective (higher is better).

``macs`` and ``params`` are exact, counted on the same compiled segments the prediction uses (a
network's repeated blocks counted as often as they repeat). ``probe`` is the data-free probe of
:mod:`resgraph.train.probe` at initialisation: the gradient correlation at the last residual block
(near 1 the gradient is a smooth function of the input, near 0 it is shattered noise), which builds
the module (torch). ``train`` is not scored here yet (see docs/search.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from resgraph.errors import UsageError
from resgraph.latency.model import LatencyModel, Prediction
from resgraph.latency.predict import expand
from resgraph.spec.model import ResNetSpec

__all__ = ["OBJECTIVES", "Score", "Scorer"]

OBJECTIVES = {
    "macs": "multiply-adds per image (capacity; exact)",
    "params": "parameters (capacity; exact)",
    "probe": "gradient correlation at the last block at initialisation (data-free probe; builds the module)",
    "train": "test error after a short training run on --data (not implemented yet)",
}


@dataclass(frozen=True)
class Score:
    """What one trial found: the spec's counts, its predicted latency, and the objective's value."""

    macs: int
    params: int
    depth: int
    prediction: Prediction
    objective: float
    seconds: float  # what scoring it cost


class Scorer:
    """Scores specs against one latency model and one objective; the model refuses kinds it never timed."""

    def __init__(self, model: LatencyModel, objective: str, *, probe_batch: int = 8, seed: int = 0) -> None:
        if objective not in OBJECTIVES:
            raise UsageError(f"--objective: unknown objective {objective!r}; one of {', '.join(OBJECTIVES)}")
        if objective == "train":
            raise UsageError("--objective train: not implemented yet (macs, params or probe); see docs/search.md")
        self.model, self.objective = model, objective
        self.probe_batch, self.seed = probe_batch, seed
        self._value: Callable[[ResNetSpec, int, int], float] = {
            "macs": lambda s, m, p: float(m), "params": lambda s, m, p: float(p), "probe": self._probe}[objective]

    def score(self, spec: ResNetSpec) -> Score:
        """Predict and count ``spec``; a kind the profile never timed is a :class:`UsageError` naming it."""
        start = time.perf_counter()
        named = expand(spec)
        _, segs, macs, _ = named
        if missing := self.model.missing(segs):
            raise UsageError(f"{spec.name}: {self.model.profile.path} never timed {', '.join(missing)}: profile a "
                             "space that has it (`resgraph profile --space FILE`), or leave it out of the space")
        (pred,) = self.model.predict_many([named])
        params = sum(s.params for s in segs)
        value = self._value(spec, macs, params)
        return Score(macs, params, spec.depth, pred, value, time.perf_counter() - start)

    def _probe(self, spec: ResNetSpec, macs: int, params: int) -> float:
        from resgraph.graph import compile_spec
        from resgraph.lower import build_model
        from resgraph.train.probe import probe_blocks

        g = compile_spec(spec)
        gm = build_model(g, seed=self.seed)
        rows = probe_blocks(gm, g, (spec.input.channels, *spec.input.hw), spec.head.classes,
                            batch=self.probe_batch, pairs=4, seed=self.seed)
        return float(rows[-1]["grad_corr"]) if rows else 0.0
