"""resgraph search on the docs profile with a few trials: the front, its spec files, resume, dry run, verification."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("optuna", reason="resgraph search needs optuna (the `search` extra)")
pytest.importorskip("sklearn", reason="the latency model needs scikit-learn (the `train` extra)")

from resgraph.cli.main import main  # noqa: E402
from resgraph.errors import UsageError  # noqa: E402
from resgraph.graph import compile_spec  # noqa: E402
from resgraph.graph.passes import count_macs, count_params  # noqa: E402
from resgraph.latency.model import LatencyModel  # noqa: E402
from resgraph.latency.profile import read_profile  # noqa: E402
from resgraph.search.front import Candidate, pareto, read_front, read_references  # noqa: E402
from resgraph.search.run import SearchSettings, search  # noqa: E402
from resgraph.search.score import Scorer  # noqa: E402
from resgraph.search.space import load_space  # noqa: E402
from resgraph.search.study import candidates, open_study  # noqa: E402
from resgraph.search.verify import Measured  # noqa: E402
from resgraph.spec import load_spec  # noqa: E402

PROFILE = Path(__file__).resolve().parents[2] / "docs" / "data" / "latency" / "profile-eager-fp32-b1.jsonl"
BUDGET = 10.0  # ms: resnet56's predicted latency on the docs profile is 10.1


@pytest.fixture(scope="module")
def model() -> LatencyModel:
    return LatencyModel(read_profile(PROFILE))  # fitted once: the machine check is load_model's, not needed here


def _settings(out: Path, **kw) -> SearchSettings:
    base = {"profile": PROFILE, "budget_ms": BUDGET, "out": out, "trials": 16, "verify": 0, "edf_samples": 0,
            "plots": False, "progress": False}
    return SearchSettings(**{**base, **kw})


def test_macs_and_params_are_the_graphs_exact_counts(model):
    scorer = Scorer(model, "params")
    for name, params in (("resnet50", 25_557_032), ("resnet20", 269_722)):
        spec = load_spec(name)
        sc = scorer.score(spec)
        g = compile_spec(spec)
        assert sc.params == params == count_params(g)
        assert sc.macs == count_macs(g)
        assert sc.objective == float(params)
        assert sc.prediction.p50_ms > 0


def test_the_front_is_within_budget_and_nothing_on_it_is_dominated():
    cands = [Candidate(0, 5, 10, {}), Candidate(1, 4, 10, {}), Candidate(2, 6, 20, {}), Candidate(3, 12, 99, {}),
             Candidate(4, 7, 15, {}), Candidate(5, 3, 1, {})]
    front = pareto(cands, budget_ms=10)
    assert [c.trial for c in front] == [2, 1, 5]  # 3 is over budget; 0 and 4 are dominated


def test_a_tiny_search_writes_a_front_whose_specs_validate(tmp_path, model):
    out = tmp_path / "s"
    outcome = search(load_space("cifar_resnet"), _settings(out, plots=True, edf_samples=8), model=model)
    headers, points = read_front(out / "front.jsonl")
    assert len(headers) == 1 and headers[0].trials == 16 and headers[0].objective == "macs"
    assert points and points == outcome.points
    assert all(p.predicted_ms <= BUDGET and p.status == "unverified" and p.measured_ms is None for p in points)
    assert [p.value for p in points] == sorted((p.value for p in points), reverse=True)
    assert [p.predicted_ms for p in points] == sorted((p.predicted_ms for p in points), reverse=True)
    files = [str(out / p.spec_file) for p in points]
    res = CliRunner().invoke(main, ["validate", *files])
    assert res.exit_code == 0, res.output
    for p, f in zip(points, files, strict=True):
        spec = load_spec(f)
        assert spec.name == p.name and Scorer(model, "macs").score(spec).macs == p.macs
    assert "extends: resnet20" in Path(files[0]).read_text()  # shorter than the whole spec
    for name in ("front.md", "pareto.png", "pareto.svg", "edf.png", "edf.svg"):
        assert (out / "report" / name).stat().st_size > 0
    assert points[0].name in (out / "report" / "front.md").read_text()


def test_resume_continues_the_study_and_refuses_other_settings(tmp_path, model):
    out = tmp_path / "s"
    sp = load_space("cifar_resnet")
    search(sp, _settings(out, trials=6), model=model)
    with pytest.raises(UsageError, match="a study is already there; --resume continues it"):
        search(sp, _settings(out, trials=6), model=model)
    with pytest.raises(UsageError, match="the study was run with budget_ms 10.0, not 12.0"):
        search(sp, _settings(out, trials=6, resume=True, budget_ms=12.0), model=model)
    first, _ = read_front(out / "front.jsonl")
    search(sp, _settings(out, trials=11, resume=True), model=model)
    headers, _ = read_front(out / "front.jsonl")
    assert first[0].trials == 6 and headers[0].trials == 11
    study = open_study(out, sp, {"space": sp.name, "profile": str(PROFILE.resolve()), "budget_ms": BUDGET,
                                 "objective": "macs"}, sampler="nsga2", seed=0, resume=True)
    _, _, finished = candidates(study)
    assert finished == 11 and [t.number for t in study.get_trials()] == list(range(11))


def test_ctrl_c_keeps_every_finished_trial(tmp_path, model, monkeypatch):
    out = tmp_path / "s"
    sp = load_space("cifar_resnet")
    real, calls = Scorer.value, {"n": 0}

    def interrupting(self, spec, counts):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self, spec, counts)

    monkeypatch.setattr(Scorer, "value", interrupting)
    outcome = search(sp, _settings(out, trials=10), model=model)
    assert outcome.interrupted
    headers, _ = read_front(out / "front.jsonl")
    kept = headers[0].trials
    assert kept >= 3 and kept < 10  # three scored (and any refused draws before the fourth) are kept
    monkeypatch.setattr(Scorer, "value", real)
    search(sp, _settings(out, trials=10, resume=True), model=model)
    assert read_front(out / "front.jsonl")[0][0].trials == 10


def test_a_point_measured_over_the_budget_is_marked_never_fitting(tmp_path, model):
    out = tmp_path / "s"

    budget = 30.0  # a wider budget: a front of several points in a few trials

    def fabricated(specs):  # the first point measures over the budget, the others under; the reference at 20 ms
        return {s.name: Measured(20.0 if s.name == "resnet56" else budget * (1.5 if i == 0 else 0.5), None)
                for i, s in enumerate(specs)}

    outcome = search(load_space("cifar_resnet"), _settings(out, trials=24, verify=3, budget_ms=budget,
                                                            references=("resnet56",)), model=model, measure=fabricated)
    points = read_front(out / "front.jsonl")[1]
    assert len(points) >= 2, "the tiny search found too small a front to test"
    assert points[0].status == "breaks_budget" and points[0].measured_ms == budget * 1.5
    assert all(p.status == "fits" for p in points[1:3])
    assert all(p.status == "unverified" for p in points[3:])
    table = (out / "report" / "front.md").read_text()
    assert "| breaks budget |" in table and f"{len(points[:3]) - 1} fit the budget measured, 1 break" in table
    assert outcome.points == points
    (ref,) = read_references(out / "front.jsonl")
    assert ref.name == "resnet56" and ref.measured_ms == 20.0 and ref.macs == 125_485_696
    assert "Reference resnet56 in the same sweep" in table and "the budget is 1.500x its measured" in table


def test_dry_run_says_size_and_cost_and_writes_nothing(tmp_path):
    out = tmp_path / "never"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a profile from another machine, where the tests run elsewhere
        res = CliRunner().invoke(main, ["search", "cifar_resnet", "--profile", str(PROFILE), "--budget-ms", "10",
                                        "--trials", "500", "--dry-run", "--any-machine", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "36,006,768 networks before constraints" in res.output
    assert "one trial:" in res.output and "500 trials" in res.output and "minutes in all" in res.output
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--data", "digits"], "--data: only --objective train uses it"),
    (["--budget-ms", "nan"], "expected a finite number"),
])
def test_search_options_are_one_line_errors(tmp_path, args, message):
    base = ["search", "cifar_resnet", "--profile", str(PROFILE), "--budget-ms", "10", "-o", str(tmp_path / "o")]
    res = CliRunner().invoke(main, [*base, *args])
    assert res.exit_code == 2 and message in res.output and len(res.output.strip().splitlines()) == 1, res.output
