"""``resgraph search``, start to end: study, front, spec files, verification, records, report.

Every file goes under the search's folder: ``study.db`` (the Optuna study), ``front.jsonl`` (typed
records), ``specs/*.yaml`` (the front, as spec files), ``verify.jsonl`` (the harness's rows of the
verified points) and ``report/`` (plots and table).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from resgraph.atomic import ensure_folder, file_name, glob_escape
from resgraph.errors import UsageError
from resgraph.latency.model import LatencyModel
from resgraph.search.front import FrontPoint, ReferencePoint, SearchHeader, pareto, write_front, write_spec
from resgraph.search.report import EdfSample, Reference, write_report
from resgraph.search.sample import dimensions, draw, random_picks, space_size
from resgraph.search.score import Scorer
from resgraph.search.space import Space
from resgraph.search.study import open_study, run_study, trial_name
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


@dataclass
class Outcome:
    """What a search wrote and found."""

    header: SearchHeader
    points: list[FrontPoint]
    files: list[Path] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0


def _settings_attrs(space: Space, s: SearchSettings) -> dict[str, object]:
    return {"space": space.name, "profile": str(s.profile.resolve()), "budget_ms": float(s.budget_ms),
            "objective": s.objective}


def _references(space: Space, scorer: Scorer) -> list[Reference]:
    """The bundled presets of the base's input and classes that the profile can predict (the base only for probe)."""
    from resgraph.graph.load import load_spec
    from resgraph.spec.presets import preset_names

    base = space.base
    names = preset_names() if scorer.objective != "probe" else [base.name]
    out = []
    for name in names:
        spec = load_spec(name) if name != base.name else base
        if spec.input.hw != base.input.hw or spec.head.classes != base.head.classes:
            continue
        try:
            sc = scorer.score(spec)
        except UsageError:  # a kind the profile never timed: not drawn rather than guessed
            continue
        out.append(Reference(spec.name, sc.prediction.p50_ms, sc.objective))
    return out


def _reference_point(spec: ResNetSpec, scorer: Scorer) -> ReferencePoint:
    sc = scorer.score(spec)
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
            sc = scorer.score(d.spec)
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
    scorer = Scorer(model, s.objective, seed=s.seed)
    ensure_folder(s.out)
    study = open_study(s.out, space, _settings_attrs(space, s), sampler=s.sampler, seed=s.seed, resume=s.resume)
    result = run_study(study, space, scorer, trials=s.trials, budget_ms=s.budget_ms, progress=s.progress)
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
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    ref_specs = [load_spec(r) for r in s.references]
    ref_points = [_reference_point(spec, scorer) for spec in ref_specs]
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


def dry_run(space: Space, s: SearchSettings, *, any_machine: bool = False) -> list[str]:
    """What the search would do and cost, measured on a few draws; nothing is written."""
    t0 = time.perf_counter()
    model = _model(s, any_machine)
    fit_s = time.perf_counter() - t0
    scorer = Scorer(model, s.objective, seed=s.seed)
    rng, dims = random.Random(s.seed), dimensions(space)
    timed: list[float] = []
    drawn = 0
    t1 = time.perf_counter()
    while len(timed) < 5 and drawn < 500:
        drawn += 1
        d = draw(space, random_picks(dims, rng), f"{space.name}_dry{drawn}")
        if d.spec is not None:
            timed.append(scorer.score(d.spec).prediction.p50_ms)
    per_trial = (time.perf_counter() - t1) / max(drawn, 1)
    per_scored = (time.perf_counter() - t1) / max(len(timed), 1)
    verify_s = verify_seconds([s.budget_ms] * (s.verify + len(s.references)))
    refs_s = per_scored * (20 if s.objective != "probe" else 1)
    total = fit_s + s.trials * per_trial + s.edf_samples * per_scored + refs_s + verify_s
    h = model.profile.header
    return [
        f"space {space.name} ({space.source}): {space_size(space):,} networks before constraints; "
        f"base {space.file.base}",
        f"profile {s.profile}: {h.backend}, {h.precision}, batch {h.batch}, {h.threads} thread(s), {h.device_model}; "
        f"fitting the latency model took {fit_s:.1f} s",
        f"one trial: {per_trial * 1e3:.1f} ms (a scored network {per_scored * 1e3:.1f} ms; {len(timed)} of {drawn} "
        f"draws were valid networks), objective {s.objective}",
        f"{s.trials} trials, {s.edf_samples} EDF draws, presets, and verifying {s.verify} point(s) by measurement "
        f"(~{verify_s:.0f} s at the budget's latency): about {total / 60:.1f} minutes in all",
        f"would write {s.out}/study.db, front.jsonl, specs/, verify.jsonl and report/ (nothing written: --dry-run)",
    ]
