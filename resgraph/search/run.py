"""``resgraph search``, start to end: study, front, spec files, verification, records, report.

Every file goes under the search's folder: ``study.db`` (the Optuna study), ``front.jsonl`` (typed
records), ``specs/*.yaml`` (the front, as spec files), ``verify.jsonl`` (the harness's rows of the
verified points) and ``report/`` (plots and table).

With ``--objective train`` the study's trials train their networks (in this process, or on the Dask
workers of ``--workers``/``--scheduler``); the presets drawn in the report are then only the base, and
the EDF is drawn only when ``--edf-samples`` asks for it, since each of them is a training run too.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from resgraph.atomic import ensure_folder, file_name, glob_escape
from resgraph.errors import UsageError
from resgraph.latency.model import LatencyModel
from resgraph.search.front import FrontPoint, ReferencePoint, SearchHeader, pareto, write_front, write_spec
from resgraph.search.pool import open_pool
from resgraph.search.report import EdfSample, Reference, write_report
from resgraph.search.sample import dimensions, draw, random_picks, space_size
from resgraph.search.score import Scorer
from resgraph.search.space import Space
from resgraph.search.study import open_study, run_study, trial_name
from resgraph.search.train_objective import DEFAULT_STEPS, TrainObjective, TrialFailed
from resgraph.search.verify import Measure, Measured, bench_measure, judge, verify_seconds
from resgraph.spec.model import ResNetSpec

__all__ = ["Outcome", "SearchSettings", "dry_run", "search"]


@dataclass(frozen=True)
class SearchSettings:
    """What one search is asked to do."""

    profile: Path
    budget_ms: float
    out: Path
    objective: str = "macs"
    trials: int = 200
    seed: int = 0
    sampler: str = "nsga2"
    verify: int = 5
    resume: bool = False
    edf_samples: int = 100
    references: tuple[str, ...] = ()  # specs measured in the verify sweep beside the front (the budget's source)
    plots: bool = True
    progress: bool = True
    data: str = "digits"  # train: the dataset, its steps, and where trials run (None, None: in this process)
    train_steps: int = DEFAULT_STEPS
    workers: int | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:  # refused before a study is opened
        if (self.workers or self.scheduler) and self.objective != "train":
            raise UsageError("--workers/--scheduler: only --objective train runs its trials on Dask workers "
                             f"(received --objective {self.objective})")
        if self.workers and self.scheduler:
            raise UsageError("--workers and --scheduler: choose one (a local cluster, or an existing one)")
        if self.scheduler:
            from resgraph.bench.dask_runner import parse_address

            parse_address(self.scheduler)

    def scorer(self, model: LatencyModel) -> Scorer:
        return Scorer(model, self.objective, seed=self.seed,
                      train=TrainObjective(self.data, self.train_steps, self.seed))


@dataclass
class Outcome:
    """What a search wrote and found."""

    header: SearchHeader
    points: list[FrontPoint]
    files: list[Path] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0


def _settings_attrs(space: Space, s: SearchSettings) -> dict[str, object]:
    train = {"data": s.data, "train_steps": s.train_steps} if s.objective == "train" else {}
    return {"space": space.name, "profile": str(s.profile.resolve()), "budget_ms": float(s.budget_ms),
            "objective": s.objective, **train}


def _references(space: Space, scorer: Scorer) -> list[Reference]:
    """The bundled presets of the base's input and classes that the profile can predict (the base only for probe
    and train)."""
    from resgraph.graph.load import load_spec
    from resgraph.spec.presets import preset_names

    base = space.base
    names = preset_names() if scorer.objective not in ("probe", "train") else [base.name]
    out = []
    for name in names:
        spec = load_spec(name) if name != base.name else base
        if spec.input.hw != base.input.hw or spec.head.classes != base.head.classes:
            continue
        try:
            sc = scorer.score(spec)
        except (UsageError, TrialFailed):  # a kind the profile never timed, a failed run: not drawn, not guessed
            continue
        out.append(Reference(spec.name, sc.prediction.p50_ms, sc.objective))
    return out


def _reference_point(spec: ResNetSpec, scorer: Scorer) -> ReferencePoint | None:
    try:
        sc = scorer.score(spec)
    except TrialFailed as e:
        print(f"warning: --reference {spec.name}: {scorer.objective} failed ({e}); left out of front.jsonl",
              file=sys.stderr)
        return None
    return ReferencePoint(name=spec.name, value=sc.objective, macs=sc.macs, params=sc.params,
                          predicted_ms=sc.prediction.p50_ms)


def _measured_reference(r: ReferencePoint, m: Measured | None) -> ReferencePoint:
    if m is None:
        return r
    return r.evolve(measured_ms=m.p50_ms, measured_unstable=m.unstable, measured_note=m.note)


def _edf(space: Space, scorer: Scorer, n: int, seed: int) -> EdfSample:
    """``n`` networks drawn uniformly (refused draws drawn again, up to 20 n), scored."""
    rng, dims, out = random.Random(seed), dimensions(space), EdfSample()
    for i in range(20 * n):
        if len(out.value) >= n:
            break
        d = draw(space, random_picks(dims, rng), f"{space.name}_edf{i}")
        if d.spec is not None:
            try:
                sc = scorer.score(d.spec)
            except TrialFailed:
                continue
            out.latency_ms.append(sc.prediction.p50_ms)
            out.value.append(sc.objective)
    return out


def _model(s: SearchSettings, any_machine: bool) -> LatencyModel:
    from resgraph.latency.predict import load_model

    return load_model(s.profile, any_machine=any_machine)


def search(space: Space, s: SearchSettings, *, measure: Measure | None = None, any_machine: bool = False,
           model: LatencyModel | None = None) -> Outcome:
    """Run (or resume) the study, write the front's records and specs, verify the best ``s.verify``, report.

    ``measure`` replaces the bench harness (tests), ``model`` the profile's fitted model (fitted once by a caller).
    """
    from resgraph.graph.load import load_spec

    start = time.perf_counter()
    model = model or _model(s, any_machine)
    scorer = s.scorer(model)
    if s.objective == "train":
        scorer.train.check()
    ensure_folder(s.out)
    study = open_study(s.out, space, _settings_attrs(space, s), sampler=s.sampler, seed=s.seed, resume=s.resume)
    with open_pool(s.workers, s.scheduler) as pool:
        result = run_study(study, space, scorer, trials=s.trials, budget_ms=s.budget_ms, progress=s.progress,
                           pool=pool)
    front = pareto(result.candidates, s.budget_ms)
    specs_dir = ensure_folder(s.out / "specs")
    keep: set[Path] = set()
    points: list[FrontPoint] = []
    specs: dict[str, ResNetSpec] = {}
    for c in front:
        d = draw(space, dict(c.attrs["picks"]), trial_name(space, c.trial))
        if d.spec is None:  # the same picks validated when the trial ran: only a changed space file gets here
            raise UsageError(f"{space.source}: trial {c.trial} no longer builds a network of this space "
                             f"({d.problem}); start another -o for the changed space")
        path = write_spec(specs_dir, d.spec, space, f"{space.name} trial {c.trial}: predicted {c.latency_ms:.2f} ms "
                          f"on {model.profile.header.backend}, {s.objective} {c.value:.6g}")
        keep.add(path)
        specs[d.spec.name] = d.spec
        a = c.attrs
        points.append(FrontPoint(
            trial=c.trial, name=d.spec.name, spec_file=str(path.relative_to(s.out)), objective=s.objective,
            value=c.value, macs=int(a["macs"]), params=int(a["params"]), depth=int(a["depth"]),
            predicted_ms=c.latency_ms, predicted_low_ms=float(a["low_ms"]), predicted_high_ms=float(a["high_ms"]),
            budget_ms=s.budget_ms, picks=dict(c.attrs["picks"])))
    for old in specs_dir.glob(f"{glob_escape(file_name(space.name))}_t*.yaml"):  # a resumed study's old front
        if old not in keep:
            old.unlink()
    h = model.profile.header
    header = SearchHeader(
        space=space.name, base=space.file.base, profile=str(s.profile), backend=h.backend, precision=h.precision,
        batch=h.batch, device=h.device, threads=h.threads, budget_ms=s.budget_ms, objective=s.objective,
        sampler=str(study.user_attrs.get("sampler", s.sampler)), seed=s.seed, trials=result.finished,
        fitting=sum(c.latency_ms <= s.budget_ms for c in result.candidates), refused=result.refused,
        failed=result.failed,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    ref_specs = [load_spec(r) for r in s.references]
    ref_points = [r for spec in ref_specs if (r := _reference_point(spec, scorer)) is not None]
    if s.verify and (points or ref_specs) and not result.interrupted:
        results = s.out / "verify.jsonl"
        results.unlink(missing_ok=True)
        best = points[: s.verify]
        measured = (measure or bench_measure(h, results, s.progress))([specs[p.name] for p in best] + ref_specs)
        points = judge(best, measured) + points[s.verify:]
        ref_points = [_measured_reference(r, measured.get(r.name)) for r in ref_points]
    write_front(s.out / "front.jsonl", header, points, ref_points)
    files = [s.out / "front.jsonl", *sorted(keep)]
    if not result.interrupted:
        refs = _references(space, scorer)
        edf = _edf(space, scorer, s.edf_samples, s.seed) if s.edf_samples else None
        files += write_report(s.out / "report", header, result.candidates, points, refs, edf, s.plots, ref_points)
    return Outcome(header, points, files, result.interrupted, time.perf_counter() - start)


@dataclass(frozen=True)
class _TrainCost:
    """A train run's seconds, estimated from the base trained here for 1 and for n steps: a fixed cost a run, and
    a cost a step that scales with the network's MACs over the base's."""

    fixed_s: float
    step_s: float
    base_macs: int
    steps: int

    def of(self, macs: float) -> float:
        return self.fixed_s + self.steps * self.step_s * macs / self.base_macs


def _train_cost(space: Space, scorer: Scorer) -> _TrainCost:
    train = scorer.train
    train.check()
    n = max(2, min(train.steps, DEFAULT_STEPS))
    t_n = train.timed(space.base, n)
    t_1 = train.timed(space.base, 1)
    step = max(0.0, (t_n - t_1) / (n - 1))
    return _TrainCost(max(0.0, t_1 - step), step, scorer.count(space.base).macs, train.steps)


def _mean(xs: list[int]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def dry_run(space: Space, s: SearchSettings, *, any_machine: bool = False) -> list[str]:
    """What the search would do and cost, measured on a few draws (and, for train, two short runs of the base);
    nothing is written."""
    t0 = time.perf_counter()
    model = _model(s, any_machine)
    fit_s = time.perf_counter() - t0
    scorer = s.scorer(model)
    train = s.objective == "train"
    rng, dims = random.Random(s.seed), dimensions(space)
    macs: list[int] = []
    fits: list[int] = []  # the MACs of the valid draws predicted within the budget: the ones train trains
    drawn = 0
    t1 = time.perf_counter()
    while len(macs) < (50 if train else 5) and drawn < 2000:
        drawn += 1
        d = draw(space, random_picks(dims, rng), f"{space.name}_dry{drawn}")
        if d.spec is not None:
            c = scorer.count(d.spec) if train else scorer.score(d.spec)
            macs.append(c.macs)
            if c.prediction.p50_ms <= s.budget_ms:
                fits.append(c.macs)
    per_trial = (time.perf_counter() - t1) / max(drawn, 1)
    per_scored = (time.perf_counter() - t1) / max(len(macs), 1)
    lines, each = [], per_scored  # each: one network scored outside the study (EDF draws, presets, references)
    study_s = s.trials * per_trial
    if train:
        cost = _train_cost(space, scorer)
        one = cost.of(_mean(fits)) if fits else 0.0
        each += cost.of(_mean(macs))
        lines.append(
            f"one train trial: ~{one:.1f} s ({s.train_steps} steps on {s.data}, one thread; measured on the base "
            f"{space.base.name}: {cost.fixed_s:.1f} s a run + {cost.step_s * 1e3:.0f} ms a step, the step scaled "
            f"by MACs: the draws within the budget average {_mean(fits) / cost.base_macs:.2f}x the base's); "
            f"{len(fits)} of {drawn} uniform draws are predicted within {s.budget_ms:g} ms, and only those train")
        where = (f"on {s.workers} local worker(s) at once" if s.workers else
                 "on one of the scheduler's workers (divide by their number)" if s.scheduler else
                 "in this process, one at a time")
        trained_s = s.trials * one / (s.workers or 1)
        low = study_s + trained_s * len(fits) / max(drawn, 1)
        study_s += trained_s
        lines.append(f"{s.trials} trials train {where}: ~{low / 60:.1f} minutes if they fit as often as uniform "
                     f"draws, ~{study_s / 60:.1f} if every one does (the sampler steers toward the budget)")
    verify_s = verify_seconds([s.budget_ms] * (s.verify + len(s.references)))  # in all: the upper figure
    refs_s = each * (20 if s.objective not in ("probe", "train") else 1 + len(s.references))
    total = fit_s + study_s + s.edf_samples * each + refs_s + verify_s
    h = model.profile.header
    return [
        f"space {space.name} ({space.source}): {space_size(space):,} networks before constraints; "
        f"base {space.file.base}",
        f"profile {s.profile}: {h.backend}, {h.precision}, batch {h.batch}, {h.threads} thread(s), {h.device_model}; "
        f"fitting the latency model took {fit_s:.1f} s",
        f"one trial: {per_trial * 1e3:.1f} ms (a scored network {per_scored * 1e3:.1f} ms; {len(macs)} of {drawn} "
        f"draws were valid networks), objective {s.objective}" + (" (counts and prediction; training below)"
                                                                   if train else ""),
        *lines,
        f"{s.trials} trials, {s.edf_samples} EDF draws, presets, and verifying {s.verify} point(s) by measurement "
        f"(~{verify_s:.0f} s at the budget's latency): about {total / 60:.1f} minutes in all",
        f"would write {s.out}/study.db, front.jsonl, specs/, verify.jsonl and report/ (nothing written: --dry-run)",
    ]
