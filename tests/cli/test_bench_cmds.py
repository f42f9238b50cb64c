"""The measuring commands end to end on a tiny CIFAR net: records, resume, report, demo, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from resgraph.bench.record import SCHEMA_VERSION, Record
from resgraph.cli.main import main
from resgraph.kinds import SHORTCUTS

FAST = ["--warmup", "1", "--iters", "3", "--min-time", "0", "--threads", "1"]
REQUIRED = ("spec", "backend", "device", "batch", "precision", "p50_ms", "p90_ms", "p99_ms", "throughput", "status")


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bench_writes_a_valid_record(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    res = run("bench", "resnet20", "--backend", "eager", "--batch", "1", "--device", "cpu", "--out", str(out),
              "--no-roofline", *FAST)
    assert res.exit_code == 0, res.output
    (rec,) = records(out)
    assert set(REQUIRED) <= set(rec) and set(Record.model_fields) == set(rec) and rec["schema_version"] == SCHEMA_VERSION
    assert rec["spec"] == "resnet20" and rec["status"] == "ok" and rec["batch"] == 1
    assert rec["params"] == 269_722 and rec["depth"] == 20
    assert 0 < rec["p50_ms"] <= rec["p90_ms"] <= rec["p99_ms"]
    assert rec["throughput"] == pytest.approx(1000 / rec["p50_ms"])
    assert rec["env"]["torch"] and rec["threads"] == 1
    assert "resnet20" in res.output and "Traceback" not in res.output


def test_interrupted_sweep_resumes(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    args = ["bench", "resnet20", "--backend", "eager,channels_last", "--batch", "1,2", "--out", str(out),
            "--no-roofline", *FAST]
    assert run(*args).exit_code == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 4
    # An interruption after two rows: the finished rows stay, a half-written line may trail.
    out.write_text("\n".join(rows[:2]) + "\n" + rows[2][:40])
    res = run(*args, "--resume")
    assert res.exit_code == 0, res.output
    done = records_tolerant(out)
    keys = {(r["backend"], r["batch"]) for r in done}
    assert keys == {("eager", 1), ("eager", 2), ("channels_last", 1), ("channels_last", 2)}
    assert len(done) == 4  # the two finished rows were not measured again
    assert [r["timestamp"] for r in done[:2]] == [json.loads(x)["timestamp"] for x in rows[:2]]


def records_tolerant(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


@pytest.mark.parametrize(("args", "message"), [
    (["bench", "resnet20", "--backend", "eagre"], "--backend: unknown backend 'eagre'"),
    (["bench", "resnet20", "--precision", "fp8"], "--precision: unknown precision 'fp8'"),
    (["bench", "resnet51"], "unknown preset 'resnet51'"),
    (["compare", "resnet20", "--backend", "nope"], "--backend: unknown backend 'nope'"),
    (["bench", "resnet20", "--torchvision"], "spec 'resnet20' is none of torchvision's networks"),
])
def test_usage_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_bad_batch_list_is_a_usage_error() -> None:
    res = CliRunner().invoke(main, ["bench", "resnet20", "--batch", "1,x"])
    assert res.exit_code == 2 and "comma-separated list of batch sizes" in res.output


def test_compare_shortcut_options_side_by_side() -> None:
    res = run("compare", "resnet20", "--shortcuts", *FAST, "--repeat", "2")  # the table, not its verdicts
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    names = [ln.split()[0] for ln in lines[2:7]]
    assert names == [f"resnet20_{o}" for o in SHORTCUTS.names()] + ["resnet20_plain"]
    assert "1.00x" in lines[2]  # the first row is the reference
    assert "basic, cifar stem, shortcut D" in lines[5] and "no shortcuts (plain)" in lines[6]
    # Option A is parameter-free, so it and the plain twin have the same params.
    assert "269.7 K" in lines[2] and "269.7 K" in lines[6]


def test_report_writes_tables_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    assert run("bench", "resnet20", "plain20", "--batch", "1,2", "--out", str(out), "--no-roofline",
               *FAST).exit_code == 0
    res = run("report", str(out), "-o", str(tmp_path / "rep"))
    assert res.exit_code == 0, res.output
    written = {Path(p).name for p in res.output.split()}
    assert {"results.md", "results.csv"} <= written
    assert any(n.endswith(".png") for n in written) and any(n.endswith(".svg") for n in written)
    assert len((tmp_path / "rep" / "results.csv").read_text().splitlines()) == 1 + 4


def test_report_of_empty_file_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    res = CliRunner().invoke(main, ["report", str(empty), "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "no records" in res.output


def test_demo_compares_every_shortcut_option_and_plain(tmp_path: Path) -> None:
    res = run("demo", "--network", "resnet20", "--backend", "eager", "--batch", "1", "-o", str(tmp_path), *FAST)
    assert res.exit_code == 0, res.output
    rows = records(tmp_path / "results.jsonl")  # in the order they finished (a drifted row is measured last)
    assert sorted(r["spec"] for r in rows) == ["resnet20_A", "resnet20_B", "resnet20_C", "resnet20_D",
                                               "resnet20_plain"]
    assert all(r["status"] == "ok" for r in rows)
    assert "rows, about " in res.output and "on this machine now" in res.output  # the ETA, said first
    params = {r["spec"]: r["params"] for r in rows}
    assert params["resnet20_A"] == params["resnet20_plain"] == 269_722 < params["resnet20_B"] < params["resnet20_C"]
    assert params["resnet20_D"] == params["resnet20_B"]  # D's pool has no weights: B's projections, pooled
    assert next(r for r in rows if r["spec"] == "resnet20_D")["design"] == "basic, cifar stem, shortcut D"
    assert "| resnet20_D | basic, cifar stem, shortcut D |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "results.md").exists() and list(tmp_path.glob("*.png"))
    page = (tmp_path / "index.html").read_text()  # the one page to open: every variant's row and picture
    assert page.count('<figure class="block">') == 5 and "resnet20_plain" in page


def test_backends_lists_every_backend_with_its_state() -> None:
    res = run("backends")
    assert res.exit_code == 0
    assert "eager" in res.output and "runs here: fp32" in res.output
    assert "tensorrt" in res.output and "skipped:" in res.output


def test_torchvision_baseline_needs_the_same_network(tmp_path: Path) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text("extends: resnet18\nname: resnet18\nstages: [{blocks: 1}, {blocks: 1}, {blocks: 1}, {blocks: 1}]\n")
    res = CliRunner().invoke(main, ["bench", str(spec), "--torchvision", "--out", str(tmp_path / "r.jsonl")])
    assert res.exit_code == 2
    assert "is none of torchvision's networks" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize(("args", "message"), [
    (["bench", "resnet20", "--device", "gpu"], "--device: expected cpu, cuda or cuda:N (received 'gpu')"),
    (["summary", "resnet20", "--batch", "0"], "resgraph summary: Invalid value for '--batch'"),
    (["bench", "resnet20", "--out", "/proc/r.jsonl"], "/proc/r.jsonl: No such file or directory"),
])
def test_bad_options_and_unwritable_outputs_are_one_line(args: list[str], message: str) -> None:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [message] or message in res.output.strip().splitlines()[0]


def test_resume_remeasures_rows_of_another_thread_count(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    args = ["bench", "resnet20", "--out", str(out), "--no-roofline", "--warmup", "0", "--iters", "1",
            "--min-time", "0"]
    assert run(*args, "--threads", "1").exit_code == 0
    assert run(*args, "--threads", "1", "--resume").exit_code == 0
    assert len(records(out)) == 1  # same threads: resumed, not measured again
    assert run(*args, "--threads", "2", "--resume").exit_code == 0
    assert [r["threads"] for r in records(out)] == [1, 2]


def test_shortcuts_leave_out_an_option_that_cannot_build_the_net_and_say_why(tmp_path: Path) -> None:
    spec = tmp_path / "shrink.yaml"
    spec.write_text("name: shrink\ninput: {size: 32}\nstem: cifar\nhead: {classes: 3}\n"
                    "stages: [{blocks: 1, width: 64}, {blocks: 1, width: 32, stride: 2}]\n")
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text("extends: resnet20\nname: mixed\nstages: [{}, {shortcut: C}, {}]\n")
    res = CliRunner().invoke(main, ["compare", str(spec), str(mixed), "--shortcuts", *FAST, "--repeat", "1"])
    assert res.exit_code == 0, res.output
    assert "warning: shrink: leaving out option A: stages[1].width: shortcut A cannot shrink channels" in res.output
    assert "warning: mixed: its stages' own shortcut options are cleared" in res.output
    names = [ln.split()[0] for ln in res.output.splitlines() if ln.startswith(("shrink_", "mixed_"))]
    assert names == ["shrink_B", "shrink_C", "shrink_D", "shrink_plain", "mixed_A", "mixed_B", "mixed_C", "mixed_D",
                     "mixed_plain"]


def test_torchvision_baseline_is_found_by_structure_not_by_name(tmp_path: Path) -> None:
    from resgraph.entries import spec_entry, torchvision_entry
    from resgraph.spec import load_spec

    spec = tmp_path / "my_next.yaml"
    spec.write_text("extends: resnext50_32x4d\nname: my_next\n")
    s = load_spec(spec)
    entry = torchvision_entry(s, spec_entry(s))
    assert entry.name == "torchvision:resnext50_32x4d"
    assert sum(p.numel() for p in entry.factory().parameters()) == 25_028_904


def test_every_option_of_every_command_says_what_it_does() -> None:
    import click

    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        bare = [p.name for p in command.params if isinstance(p, click.Option) and not p.help]
        assert not bare, f"resgraph {name}: options without help: {bare}"


def test_the_public_api_is_listed_and_versioned() -> None:
    import resgraph

    assert isinstance(resgraph.__version__, str) and resgraph.__version__
    assert {"load_spec", "compile_spec", "analyze", "build_model", "__version__"} <= set(dir(resgraph))


def test_torchvision_match_ignores_what_does_not_change_the_network_and_long_names_fit(tmp_path: Path) -> None:
    from resgraph.entries import shortcut_variants, spec_entry, torchvision_entry
    from resgraph.spec import load_spec

    spec = tmp_path / "copy.yaml"
    spec.write_text("extends: resnet18\nname: copy\ndescription: my copy\ninput: {size: 160}\nzero_init_residual: true\n")
    s = load_spec(spec)
    assert torchvision_entry(s, spec_entry(s)).name == "torchvision:resnet18"
    long = tmp_path / "long.yaml"
    long.write_text(f"extends: resnet20\nname: {'n' * 200}\n")
    names = [v.name for v in shortcut_variants(load_spec(long))]
    assert len(names) == 5 and all(len(n) <= 200 for n in names) and names[-1].endswith("_plain")


def test_a_sweep_that_measured_nothing_fails(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    res = run("bench", "resnet20", "--backend", "cuda_graphs", "--out", str(out), "--in-process", "--no-roofline",
              *FAST)
    assert res.exit_code == 3 and "no row was measured: all 1 were skipped" in res.output


def test_resume_and_retry_failed_say_which_rows_they_measure_again(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    args = ["bench", "resnet20", "--backend", "eager", "--batch", "1,2,4", "--out", str(out), "--no-roofline",
            "--in-process", *FAST]
    assert run(*args).exit_code == 0
    recs = records(out)  # as if the b1 row's process had been SIGKILLed and the b2 row had segfaulted
    recs[0].update(status="failed", reason="the row's process died of SIGKILL", cause="killed")
    recs[1].update(status="failed", reason="the row's process died of SIGSEGV", cause="crashed")
    out.write_text("".join(json.dumps(r) + "\n" for r in recs))
    dry = run(*args, "--resume", "--dry-run").output
    assert "3 rows: 2 already in" in dry and "1 to measure (1 of them again" in dry and "(again: killed)" in dry
    dry = run(*args, "--retry-failed", "--dry-run").output
    assert "3 rows: 1 already in" in dry and "(again: crashed)" in dry
    res = run(*args, "--resume")
    assert res.exit_code == 3 and len(records(out)) == 4  # only the killed row ran again; the crashed one stands
    again = Record.from_json(records(out)[-1])
    assert again.batch == 1 and again.status == "ok" and again.attempts == 2 and again.earlier[0].cause == "killed"
