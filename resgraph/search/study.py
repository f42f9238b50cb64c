"""Explore a space with Optuna: two objectives (predicted latency down, the objective up), a latency budget as a
constraint, the study in SQLite beside the results so ``--resume`` continues it.

Each trial suggests every dimension, builds the spec and validates it (a draw the constraints or the
spec's rules refuse is told to Optuna as pruned, with the reason kept; for ``train``, a network predicted
over the budget is not trained, no run could put it on the front), then scores it: the prediction
here, the objective in a :mod:`pool <resgraph.search.pool>` (here, or ``train`` runs on Dask workers, one
trial in flight per worker). An objective that raises (a train run whose loss became NaN) is told as
failed, the reason kept in the trial's ``failed`` attribute; it counts as finished. Ctrl-C (or SIGTERM)
ends the trials in flight as failed without a reason, so ``--resume`` runs them again, and keeps every
finished one: they are already in the study's database.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resgraph.errors import UsageError
from resgraph.search.front import Candidate
from resgraph.search.pool import Here, Pool
from resgraph.search.sample import Dim, dimensions, draw
from resgraph.search.score import Counts, Scorer
from resgraph.search.space import Space

__all__ = ["SAMPLERS", "StudyResult", "candidates", "failed_trials", "open_study", "run_study", "trial_name"]

SAMPLERS = ("nsga2", "tpe")
DB = "study.db"


@dataclass
class StudyResult:
    """The finished trials (scored ones as candidates), how many draws were refused and how many trials failed,
    whether it was interrupted."""

    candidates: list[Candidate]
    refused: int
    finished: int
    interrupted: bool = False
    failed: int = 0


def trial_name(space: Space, number: int) -> str:
    return f"{space.name}_t{number:04d}"


def open_study(out: Path, space: Space, settings: dict[str, Any], *, sampler: str, seed: int, resume: bool) -> Any:
    """The study in ``out/study.db``: new (refused if one is there without ``resume``) or resumed (refused if its
    settings differ: another space, profile, budget or objective would mix incomparable trials)."""
    import optuna
    from optuna.samplers import NSGAIISampler, TPESampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = out / DB
    if db.exists() and not resume:
        raise UsageError(f"{db}: a study is already there; --resume continues it, or choose another -o")
    if resume and not db.exists():
        raise UsageError(f"{db}: no study to resume")
    if resume:
        stored = optuna.load_study(study_name=space.name, storage=f"sqlite:///{db}").user_attrs
        sampler = stored.get("sampler", sampler)
        for key, value in settings.items():
            if stored.get(key) != value:
                raise UsageError(f"{db}: the study was run with {key} {stored.get(key)!r}, not {value!r}; resume it "
                                 "with the same settings, or start another -o")
    # the budget is each trial's constraint (Trial.set_constraint): NSGA-II's constrained domination, TPE's too
    picked = NSGAIISampler(seed=seed) if sampler == "nsga2" else TPESampler(seed=seed, multivariate=True)
    study = optuna.create_study(study_name=space.name, storage=f"sqlite:///{db}", sampler=picked,
                                directions=["minimize", "maximize"], load_if_exists=resume)
    if not resume:
        for key, value in {**settings, "sampler": sampler, "seed": seed}.items():
            study.set_user_attr(key, value)
    return study


def _suggest(trial: Any, d: Dim) -> Any:
    if d.integer:
        return trial.suggest_int(d.name, d.values[0], d.values[-1])
    return trial.suggest_categorical(d.name, list(d.values))


def candidates(study: Any) -> tuple[list[Candidate], int, int]:
    """(scored trials as candidates, refused draws, finished trials) of a study; a train trial predicted over the
    budget (``untrained``) is refused, not a candidate.

    A trial whose objective failed (``failed`` says why) is finished; one cut by Ctrl-C is not, and runs again.
    """
    from optuna.trial import TrialState

    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED,
                                                                   TrialState.FAIL))
              if t.state != TrialState.FAIL or "failed" in t.user_attrs]
    cands = [Candidate(t.number, t.values[0], t.values[1], {**t.user_attrs, "picks": t.params})
             for t in trials if t.state == TrialState.COMPLETE and "untrained" not in t.user_attrs]
    refused = sum(t.state == TrialState.PRUNED or "untrained" in t.user_attrs for t in trials)
    return cands, refused, len(trials)


def failed_trials(study: Any) -> int:
    """Trials whose objective failed (a train run that diverged or raised), the reason kept in ``failed``."""
    from optuna.trial import TrialState

    return sum("failed" in t.user_attrs for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))


@dataclass
class _Pending:
    """A trial whose objective is being computed (here or on a worker)."""

    trial: Any
    picks: dict[str, Any]
    key: str
    counts: Counts
    future: Any = None


def _reason(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return (f"{type(e).__name__}: {msg[0]}" if msg else type(e).__name__)[:400]


def run_study(study: Any, space: Space, scorer: Scorer, *, trials: int, budget_ms: float, progress: bool = True,
              on_trial: Callable[[int], None] | None = None, pool: Pool | None = None) -> StudyResult:
    """Run trials until the study holds ``trials`` finished ones (resumed trials count); Ctrl-C stops it cleanly.

    Optuna's ask and tell: up to ``pool.size`` trials are asked for and in flight at once, each told as its
    objective comes back. A train trial whose objective raised is told failed with the reason in ``failed``
(another objective's error is a bug, and ends the search).
    """
    from optuna.trial import TrialState
    from tqdm import tqdm

    pool = pool or Here()
    dims = dimensions(space)
    cands, refused, finished = candidates(study)
    failed = failed_trials(study)
    cache: dict[str, float] = {}
    best = max((c for c in cands if c.latency_ms <= budget_ms), key=lambda c: c.value, default=None)
    interrupted = False
    flight: list[_Pending] = []
    asked: Any = None  # a trial asked for and not yet in flight

    with tqdm(total=trials, initial=min(finished, trials), unit="trial", file=sys.stderr, disable=not progress,
              dynamic_ncols=True, leave=True) as bar:

        def done() -> None:
            nonlocal finished
            finished += 1
            bar.update(1)
            if best is not None:
                bar.set_postfix_str(f"best {scorer.objective} {best.value:.4g} at {best.latency_ms:.2f} ms "
                                    f"(t{best.trial})", refresh=False)
            if on_trial is not None:
                on_trial(finished)

        def tell(p: _Pending, value: float) -> None:
            nonlocal best
            pred = p.counts.prediction
            attrs = {"latency_ms": pred.p50_ms, "low_ms": pred.low_ms, "high_ms": pred.high_ms, "macs": p.counts.macs,
                     "params": p.counts.params, "depth": p.counts.depth, "value": value}
            for k, v in attrs.items():
                p.trial.set_user_attr(k, v)
            p.trial.set_constraint("over_budget_ms", pred.p50_ms - budget_ms)  # <= 0: within the budget
            study.tell(p.trial, [pred.p50_ms, value])
            cache[p.key] = value
            c = Candidate(p.trial.number, pred.p50_ms, value, {**attrs, "picks": p.picks})
            cands.append(c)
            if c.latency_ms <= budget_ms and (best is None or c.value > best.value):
                best = c

        try:
            while finished < trials:
                while len(flight) < pool.size and finished + len(flight) < trials:
                    asked = trial = study.ask()
                    picks = {d.name: _suggest(trial, d) for d in dims}
                    d = draw(space, picks, trial_name(space, trial.number))
                    if d.spec is None:
                        trial.set_user_attr("refused", f"{d.reason}: {d.problem}")
                        study.tell(trial, state=TrialState.PRUNED)
                        asked = None
                        refused += 1
                        done()
                        continue
                    key = json.dumps(picks, sort_keys=True)
                    p = _Pending(trial, picks, key, scorer.count(d.spec))
                    over = p.counts.prediction.p50_ms - budget_ms
                    if scorer.objective == "train" and over > 0:
                        # A training run costs seconds: not spent on a network that can never make the front. Told
                        # complete with its violation (and objective 0, which constrained domination never reads
                        # while the violation is > 0), so the sampler learns where the budget lies.
                        trial.set_user_attr("untrained", f"predicted {p.counts.prediction.p50_ms:.3g} ms, over the "
                                                         f"{budget_ms:g} ms budget")
                        trial.set_constraint("over_budget_ms", over)
                        study.tell(trial, [p.counts.prediction.p50_ms, 0.0])
                        asked = None
                        refused += 1
                        done()
                        continue
                    if key in cache:  # the sampler drew these picks before: the objective is deterministic
                        asked = None
                        tell(p, cache[key])
                        done()
                        continue
                    flight.append(p)
                    asked = None
                    fn, args = scorer.task(d.spec, p.counts)
                    p.future = pool.submit(fn, *args)
                for fut in pool.wait([p.future for p in flight]):
                    p = next(q for q in flight if q.future is fut)
                    flight.remove(p)
                    try:
                        value = float(fut.result())
                    except Exception as e:  # noqa: BLE001 - a diverged or crashed run fails its trial, not the search
                        if scorer.objective != "train":  # counts and the probe do not fail: this is a bug, say so
                            raise
                        p.trial.set_user_attr("failed", _reason(e))
                        study.tell(p.trial, state=TrialState.FAIL)
                        failed += 1
                    else:
                        tell(p, value)
                    done()
        except KeyboardInterrupt:
            interrupted = True
        finally:  # Ctrl-C or an error: whatever is in flight is failed (no reason: --resume asks again)
            pool.cancel([p.future for p in flight if p.future is not None])
            for t in [asked, *(p.trial for p in flight)]:
                if t is not None:
                    study.tell(t, state=TrialState.FAIL)
    return StudyResult(cands, refused, finished, interrupted, failed)
