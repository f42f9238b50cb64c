"""Predict a network's latency from a profile: measured segments, a regression for the rest, a calibration.

1. Each segment of the network is looked up by signature; one the profile timed gives its p50 and
   spread. One it did not is predicted by a random forest over the segment's features (MACs, params,
   activation bytes, channels, resolution, stride, ops) and its kind (block type, attention, shortcut,
   stem), trained on the profile's segments in log space, as nn-Meter does per kernel type. Never
   the nearest neighbour; and a kind the profile never saw is refused, not guessed.
2. The segments are mapped to the network's latency by ``measured = a * sum + c * segments``, fitted
   (relative least squares) on the profile's whole networks: what timing blocks alone misses, weights
   hot in cache (``a``) and one call overhead per block instead of per network (``c``, negative).
   With fewer than three such networks, one factor (the geometric mean of their ratios).
3. The interval adds, in quadrature, each segment's measured spread (p10-p90), the forest's
   out-of-bag error on regressed segments, and the calibration's relative spread (of the ratios).

The baseline it must beat: MACs times one rate (``measured = rate * MACs``, the rate the geometric mean
over the same whole networks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resgraph.errors import UsageError
from resgraph.latency.profile import Profile
from resgraph.latency.segments import FEATURES, Segment

__all__ = ["LatencyModel", "Prediction", "kind_tokens"]

Z90 = 1.645  # a two-sided 90 % interval of a normal error


def kind_tokens(seg: Segment) -> set[str]:
    """The categorical parts of a segment's kind: part, block type, attention, shortcut, stem kind."""
    part, _, rest = seg.kind.partition(":")
    tokens = {f"part={seg.part}"}
    if part == "block":
        body, _, shortcut = rest.partition("/")
        block, _, attention = body.partition("+")
        tokens |= {f"block={block}", f"attention={attention or 'none'}", f"shortcut={shortcut}"}
    elif part == "stem":
        tokens.add(f"stem={rest}")
    return tokens


@dataclass
class Prediction:
    """A network's predicted p50 latency (ms) with a 90 % interval, per stage and per segment."""

    spec: str
    p50_ms: float
    low_ms: float
    high_ms: float
    stages: dict[str, float] = field(default_factory=dict)  # stage name -> ms
    segments: list[tuple[str, str, float, bool]] = field(default_factory=list)  # scope, kind, ms, measured
    regressed: int = 0  # segments the profile did not time
    macs_baseline_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "p50_ms": round(self.p50_ms, 4), "low_ms": round(self.low_ms, 4),
                "high_ms": round(self.high_ms, 4), "stages": {k: round(v, 4) for k, v in self.stages.items()},
                "blocks": [{"scope": s, "kind": k, "ms": round(ms, 4), "measured": m} for s, k, ms, m in self.segments],
                "regressed_segments": self.regressed,
                "macs_baseline_ms": None if self.macs_baseline_ms is None else round(self.macs_baseline_ms, 4)}


class LatencyModel:
    """Fitted once per profile; predicts any spec whose kinds the profile covers, without building a module."""

    def __init__(self, profile: Profile) -> None:
        from sklearn.ensemble import RandomForestRegressor

        self.profile = profile
        segs = list(profile.segments.values())
        if len(segs) < 5:
            raise UsageError(f"{profile.path}: only {len(segs)} segments timed: too few to predict from "
                             "(an interrupted profile? continue it with --resume)")
        self.tokens = sorted(set().union(*(kind_tokens(s.segment()) for s in segs)))
        self.batch = profile.header.batch
        x = np.array([self._row(s.segment()) for s in segs])
        y = np.log(np.array([s.p50_ms for s in segs]))
        self.forest = RandomForestRegressor(n_estimators=200, min_samples_leaf=1, oob_score=True, random_state=0,
                                            n_jobs=1).fit(x, y)
        oob = getattr(self.forest, "oob_prediction_", None)
        self.log_err = float(np.std(y - oob)) if oob is not None else 0.2  # relative error of a regressed segment
        self._regressed: dict[tuple[str, str], float] = {}  # (signature, kind) -> the forest's ms, kept: a search
        # asks one spec at a time, and a forest call costs ~10 ms whatever its rows
        self.a, self.c, self.rel = 1.0, 0.0, 0.0  # calibration: factor, ms per segment, relative spread
        self.rate = 0.0  # the baseline's ms per MAC
        nets = [n for n in profile.networks if all(s in profile.segments for s in n.signatures)]
        if nets:
            sums = np.array([sum(profile.segments[s].p50_ms for s in n.signatures) for n in nets])
            meas = np.array([n.p50_ms for n in nets])
            macs = np.array([float(n.macs) for n in nets])
            counts = np.array([float(len(n.signatures)) for n in nets])
            self.a, self.c, self.rel = _calibrate(meas, sums, counts)
            self.rate, _ = _ratio(meas, macs)

    def _row(self, seg: Segment) -> list[float]:
        f = seg.features(self.batch)
        have = kind_tokens(seg)
        return [f[k] for k in FEATURES] + [float(t in have) for t in self.tokens]

    def missing(self, segs: list[Segment]) -> list[str]:
        """Kinds among ``segs`` that the profile never timed (a prediction for them would be a guess)."""
        known = set(self.tokens)
        return sorted({t for s in segs if s.signature not in self.profile.segments for t in kind_tokens(s)} - known)

    def predict_many(self, named: list[tuple[str, list[Segment], int, dict[int, str]]]) -> list[Prediction]:
        """Predictions for (spec name, segments with repeats, MACs, stage names) — one forest call for all."""
        # A regressed segment is keyed by its kind too: one computation can be two kinds (option C's
        # projection where B projects as well), and the kind is among the forest's features.
        timed, regressed = self.profile.segments, self._regressed
        unknown = {(s.signature, s.kind): s for _, segs, _, _ in named for s in segs
                   if s.signature not in timed and (s.signature, s.kind) not in regressed}
        if unknown:  # one forest call for every segment not seen before
            rows = np.array([self._row(s) for s in unknown.values()])
            regressed.update(zip(unknown, np.exp(self.forest.predict(rows)).tolist(), strict=True))
        out = []
        for name, segs, macs, stage_names in named:
            stages: dict[str, float] = {}
            parts: list[tuple[str, str, float, bool]] = []
            total, var, n_reg = 0.0, 0.0, 0
            for s in segs:
                hit = self.profile.segments.get(s.signature)
                if hit is not None:
                    ms = hit.p50_ms
                    half = ((hit.p90_ms or ms) - (hit.p10_ms or ms)) / 2 / Z90  # the spread as a standard deviation
                else:
                    ms, n_reg = regressed[s.signature, s.kind], n_reg + 1
                    half = ms * (math.exp(self.log_err) - 1)
                total += ms
                var += half * half
                stage = stage_names.get(s.stage, str(s.stage))
                share = max(0.0, ms * self.a + self.c)
                stages[stage] = stages.get(stage, 0.0) + share
                parts.append((s.scope, s.kind, share, hit is not None))
            p50 = max(sum(stages.values()), 1e-6)
            sd = math.sqrt(self.a * self.a * var + (p50 * self.rel) ** 2)
            base = self.rate * macs if self.rate else None
            out.append(Prediction(name, p50, max(0.0, p50 - Z90 * sd), p50 + Z90 * sd, stages, parts, n_reg, base))
        return out


def _calibrate(y: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> tuple[float, float, float]:
    """(a, c, relative spread) of ``y ~ a * sums + c * counts``, fitted on relative errors; else one factor."""
    if len(y) >= 3:
        coef, *_ = np.linalg.lstsq(np.stack([sums / y, counts / y], 1), np.ones_like(y), rcond=None)
        a, c = float(coef[0]), float(coef[1])
        fit = a * sums + c * counts
        if a > 0 and bool(np.all(fit > 0)):
            rel = np.log(y / fit)
            return a, c, float(math.sqrt(float(np.sum(rel ** 2)) / (len(y) - 2)))
    a, spread = _ratio(y, sums)
    return a, 0.0, spread


def _ratio(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """One factor ``y ~ a * x``: the geometric mean of the ratios, and the standard deviation of their logs."""
    logs = np.log(y / x)
    return float(np.exp(np.mean(logs))), float(np.std(logs, ddof=1)) if len(logs) > 1 else 0.0
