"""Explore a space with Optuna: two objectives (predicted latency down, the objective up), a latency budget as a
constraint, the study in SQLite beside the results so ``--resume`` continues it.

Each trial suggests every dimension, builds the spec and validates it (a draw the constraints or the
spec's rules refuse is told to Optuna as pruned, with the reason kept), then scores it. Ctrl-C (or
SIGTERM) ends the trial in flight as failed and keeps every finished one: they are already in the
study's database.
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
from resgraph.search.sample import Dim, dimensions, draw
from resgraph.search.score import Score, Scorer
from resgraph.search.space import Space

__all__ = ["SAMPLERS", "StudyResult", "open_study", "run_study", "trial_name"]

SAMPLERS = ("nsga2", "tpe")
DB = "study.db"


@dataclass
class StudyResult:
    """The finished trials (scored ones as candidates), how many draws were refused, whether it was interrupted."""

    candidates: list[Candidate]
    refused: int
    finished: int
    interrupted: bool = False


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
    """(scored trials as candidates, refused draws, finished trials) of a study."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    cands = [Candidate(t.number, t.values[0], t.values[1], {**t.user_attrs, "picks": t.params})
             for t in trials if t.state == TrialState.COMPLETE]
    return cands, len(trials) - len(cands), len(trials)


def run_study(study: Any, space: Space, scorer: Scorer, *, trials: int, budget_ms: float, progress: bool = True,
              on_trial: Callable[[int], None] | None = None) -> StudyResult:
    """Run trials until the study holds ``trials`` finished ones (resumed trials count); Ctrl-C stops it cleanly."""
    from optuna.trial import TrialState
    from tqdm import tqdm

    dims = dimensions(space)
    cands, refused, finished = candidates(study)
    cache: dict[str, Score] = {}
    best = max((c for c in cands if c.latency_ms <= budget_ms), key=lambda c: c.value, default=None)
    interrupted = False
    with tqdm(total=trials, initial=min(finished, trials), unit="trial", file=sys.stderr, disable=not progress,
              dynamic_ncols=True, leave=True) as bar:
        while finished < trials:
            trial = study.ask()
            try:
                picks = {d.name: _suggest(trial, d) for d in dims}
                d = draw(space, picks, trial_name(space, trial.number))
                if d.spec is None:
                    trial.set_user_attr("refused", f"{d.reason}: {d.problem}")
                    study.tell(trial, state=TrialState.PRUNED)
                    refused += 1
                else:
                    key = json.dumps(picks, sort_keys=True)
                    sc = cache.get(key) or scorer.score(d.spec)
                    cache[key] = sc
                    p = sc.prediction
                    attrs = {"latency_ms": p.p50_ms, "low_ms": p.low_ms, "high_ms": p.high_ms, "macs": sc.macs,
                             "params": sc.params, "depth": sc.depth, "value": sc.objective}
                    for k, v in attrs.items():
                        trial.set_user_attr(k, v)
                    trial.set_constraint("over_budget_ms", p.p50_ms - budget_ms)  # <= 0: within the budget
                    study.tell(trial, [p.p50_ms, sc.objective])
                    c = Candidate(trial.number, p.p50_ms, sc.objective, {**attrs, "picks": picks})
                    cands.append(c)
                    if c.latency_ms <= budget_ms and (best is None or c.value > best.value):
                        best = c
            except KeyboardInterrupt:
                study.tell(trial, state=TrialState.FAIL)
                interrupted = True
                break
            except BaseException:
                study.tell(trial, state=TrialState.FAIL)
                raise
            finished += 1
            bar.update(1)
            if best is not None:
                bar.set_postfix_str(f"best {scorer.objective} {best.value:.4g} at {best.latency_ms:.2f} ms "
                                    f"(t{best.trial})", refresh=False)
            if on_trial is not None:
                on_trial(finished)
    return StudyResult(cands, refused, finished, interrupted)
