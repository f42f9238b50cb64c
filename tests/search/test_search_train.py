"""resgraph search --objective train: accuracies that `resgraph train` reproduces, failed trials kept, Dask workers."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("optuna", reason="resgraph search needs optuna (the `search` extra)")
pytest.importorskip("sklearn", reason="digits and the latency model need scikit-learn (the `train` extra)")

import resgraph.train  # noqa: E402
from resgraph.cli.main import main  # noqa: E402
from resgraph.latency.model import LatencyModel  # noqa: E402
from resgraph.latency.profile import read_profile  # noqa: E402
from resgraph.search.front import read_front  # noqa: E402
from resgraph.search.run import SearchSettings, search  # noqa: E402
from resgraph.search.space import load_space  # noqa: E402
from resgraph.search.train_objective import TrainObjective, TrialFailed  # noqa: E402

PROFILE = Path(__file__).resolve().parents[2] / "docs" / "data" / "latency" / "profile-eager-fp32-b1.jsonl"
STEPS = 3
# cifar_resnet's choices cut to small networks, so a trial trains in well under a second
SMALL = """name: cifar_small
base: resnet20
choices:
  blocks: [1, 2]
  widths: {multiplier: [1.0, 1.5], step: 0.5, divisor: 8}
  block: [basic]
  shortcut: [A, B]
  attention: [none]
"""


@pytest.fixture(scope="module")
def model() -> LatencyModel:
    return LatencyModel(read_profile(PROFILE))


def _settings(out: Path, **kw) -> SearchSettings:
    base = {"profile": PROFILE, "budget_ms": 50.0, "out": out, "objective": "train", "trials": 3, "verify": 0,
            "edf_samples": 0, "plots": False, "progress": False, "train_steps": STEPS}
    return SearchSettings(**{**base, **kw})


def _space(tmp_path: Path):
    path = tmp_path / "cifar_small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return load_space(str(path))


def _retrained(spec_file: Path, tmp_path: Path) -> float:
    """The spec trained by `resgraph train` with the recipe a train trial uses."""
    out = tmp_path / "again.jsonl"
    res = CliRunner().invoke(main, ["train", str(spec_file), "--data", "digits", "--fit-input", "--steps", str(STEPS),
                                    "--warmup", str(STEPS // 5), "--seed", "0", "--threads", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    (run,) = [r for r in map(json.loads, out.read_text().splitlines()) if r["record"] == "train_run"]
    return 100.0 * (1.0 - run["final_test_err"])


def test_train_trials_are_accuracies_that_resgraph_train_reproduces(tmp_path, model):
    out = tmp_path / "s"
    outcome = search(_space(tmp_path), _settings(out), model=model)
    (header,), points = read_front(out / "front.jsonl")
    assert header.objective == "train" and header.trials == 3 and header.failed == 0
    assert points and points == outcome.points
    assert all(0.0 <= p.value <= 100.0 and p.objective == "train" for p in points)
    best = points[0]
    assert best.value == pytest.approx(_retrained(out / best.spec_file, tmp_path), abs=1e-9)


def test_a_failed_trial_is_told_failed_with_its_reason_and_the_search_goes_on(tmp_path, model, monkeypatch):
    import optuna

    calls = {"n": 0}

    def flaky(self, spec):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TrialFailed("diverged at step 2 of 3 (loss became NaN or infinite)")
        if calls["n"] == 2:
            raise RuntimeError("out of memory")
        return 42.0

    monkeypatch.setattr(TrainObjective, "__call__", flaky)
    out = tmp_path / "s"
    outcome = search(_space(tmp_path), _settings(out, trials=4), model=model)
    assert not outcome.interrupted and outcome.header.trials == 4 and outcome.header.failed == 2
    study = optuna.load_study(study_name="cifar_small", storage=f"sqlite:///{out / 'study.db'}")
    reasons = [t.user_attrs["failed"] for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert reasons == ["TrialFailed: diverged at step 2 of 3 (loss became NaN or infinite)",
                       "RuntimeError: out of memory"]
    assert {p.value for p in outcome.points} == {42.0}
    assert calls["n"] == 5  # four trials and the base, drawn in the report
    # a resumed study counts its failed trials as finished: they are not run again
    outcome = search(_space(tmp_path), _settings(out, trials=5, resume=True), model=model)
    assert outcome.header.trials == 5 and outcome.header.failed == 2 and calls["n"] == 7


def test_a_network_predicted_over_the_budget_is_refused_not_trained(tmp_path, model, monkeypatch):
    calls = []
    monkeypatch.setattr(TrainObjective, "__call__", lambda self, spec: calls.append(spec.name) or 50.0)
    outcome = search(_space(tmp_path), _settings(tmp_path / "s", budget_ms=1e-3), model=model)
    assert outcome.header.trials == 3 and outcome.header.refused == 3 and not outcome.points
    assert calls == ["resnet20"]  # the base, drawn in the report; no trial trained


def test_a_run_whose_loss_diverged_fails_its_trial(monkeypatch):
    from resgraph.spec import load_spec

    def diverged(specs, data, configs, out, **kw):
        class Rec:
            diverged, final_test_err, stopped_at = True, None, 2
        return [Rec()]

    monkeypatch.setattr(resgraph.train, "train_specs", diverged)
    with pytest.raises(TrialFailed, match="diverged at step 2 of 3"):
        TrainObjective(steps=3)(load_spec("resnet20"))


def test_dry_run_says_what_a_train_trial_costs(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CliRunner().invoke(main, ["search", str(_space(tmp_path).source), "--profile", str(PROFILE),
                                        "--budget-ms", "50", "--objective", "train", "--train-steps", "2",
                                        "--trials", "100", "--dry-run", "--any-machine", "-o", str(tmp_path / "n")])
    assert res.exit_code == 0, res.output
    assert "one train trial: ~" in res.output and "2 steps on digits" in res.output and "only those train" in res.output
    assert "100 trials train in this process" in res.output and "minutes in all" in res.output
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize("args, message", [
    (["--workers", "2"], "--workers: only --objective train uses it (received --objective macs)"),
    (["--train-steps", "5"], "--train-steps: only --objective train uses it"),
    (["--objective", "train", "--data", "nosuch"], "--data: unknown dataset 'nosuch'"),
    (["--objective", "train", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "choose one"),
])
def test_train_options_are_one_line_errors(tmp_path, args, message):
    base = ["search", "cifar_resnet", "--profile", str(PROFILE), "--budget-ms", "10", "-o", str(tmp_path / "o"),
            "--any-machine"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CliRunner().invoke(main, [*base, *args])
    assert res.exit_code == 2 and message in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert not (tmp_path / "o" / "study.db").exists()


def _has_cores(n: int) -> bool:
    from resgraph.bench.dask_runner import core_sets
    from resgraph.errors import UsageError

    try:
        return len(core_sets(n)) == n
    except UsageError:
        return False


@pytest.mark.skipif(not _has_cores(2), reason="two workers need two physical cores")
def test_two_local_workers_give_the_in_process_values(tmp_path, model):
    """Each worker's first trial imports torch and scikit-learn (~8 s here): the cost of this test."""
    pytest.importorskip("distributed")
    from resgraph.spec import load_spec

    out = tmp_path / "s"
    outcome = search(_space(tmp_path), _settings(out, trials=3, workers=2), model=model)
    assert outcome.header.trials == 3 and outcome.header.failed == 0 and outcome.points
    best = outcome.points[0]
    assert best.value == TrainObjective(steps=STEPS)(load_spec(out / best.spec_file))
