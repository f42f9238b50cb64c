"""Every row carries its evidence of trust: a row measured against a busy process is flagged, alone it is not."""

from __future__ import annotations

import multiprocessing as mp
import os
import time

from click.testing import CliRunner

from resgraph.bench import row as row_mod
from resgraph.bench.contention import CPU_SHARE_MIN, CV_MAX, Signals, verdict
from resgraph.bench.env import available_cpus, default_threads
from resgraph.bench.row import Job, ModelEntry, run_row
from resgraph.bench.timing import TimingConfig
from resgraph.bench.toy import tiny_resnet
from resgraph.cli.main import main

FAST = ["--warmup", "1", "--iters", "3", "--min-time", "0", "--threads", "1"]


def test_the_verdict_names_each_signal_that_crossed_its_threshold():
    assert verdict(0.05, Signals(0.2, 0.3, 0.97), threads=2, cpus=2) is None
    assert verdict(CV_MAX + 0.01, Signals(0.2, 0.3, 0.97), 2, 2) == "cv 0.11 > 0.10"
    assert verdict(0.05, Signals(0.2, 0.3, 0.69), 2, 2) is None  # a small net's threads idle between short ops
    starved = verdict(0.05, Signals(0.2, 0.3, 0.41), 2, 2)
    assert starved == "its 2 thread(s) got 41% of the CPU time they asked for"
    assert verdict(0.05, Signals(3.5, 3.0, None), 1, 2) == "load average 3.50 before the row on 2 CPUs"
    assert verdict(0.3, Signals(0.2, 0.3, 0.4), 2, 2).count(";") == 1  # two reasons, one line


def _spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def _row(threads: int = 1) -> dict:
    entry = ModelEntry("tiny", tiny_resnet, spec_hash="h", macs=1e6, input_shape=(3, 32, 32))
    return run_row(Job(entry, "eager", "cpu", 8), TimingConfig(warmup=3, iters=40, min_time_s=0.4), threads,
                   env={}, peak=None)


def test_a_row_that_competes_with_busy_processes_is_flagged_alone_it_is_not():
    alone = _row()
    assert alone["status"] == "ok" and alone["cpu_ratio"] >= CPU_SHARE_MIN, alone
    assert "CPU time" not in (alone["unstable"] or "")
    busy = [mp.Process(target=_spin, args=(time.time() + 20,), daemon=True) for _ in range(3 * (os.cpu_count() or 1))]
    for p in busy:
        p.start()
    try:
        contended = _row()
    finally:
        for p in busy:
            p.kill()
            p.join()
    assert contended["cpu_ratio"] < CPU_SHARE_MIN, contended
    assert "of the CPU time they asked for" in contended["unstable"]
    assert all(contended[k] is not None for k in ("load_before", "load_after", "cpu_ratio", "cv", "unstable"))


def test_the_default_thread_count_is_what_the_machine_can_give():
    n, why = available_cpus()
    assert default_threads() == n >= 1
    assert n <= len(os.sched_getaffinity(0)) and "affinity mask" in why


def test_exit_codes_say_failed_rows_and_under_strict_unstable_ones(monkeypatch, tmp_path):
    out = str(tmp_path / "r.jsonl")
    runner = CliRunner()  # --in-process: the monkeypatches below live in this process only
    monkeypatch.setattr(row_mod, "verdict", lambda *a, **k: "cv 0.50 > 0.10")
    res = runner.invoke(main, ["bench", "resnet20", "--out", out, "--no-roofline", "--in-process", *FAST])
    assert res.exit_code == 0 and "1 of 1 rows are unstable" in res.output and " unstable" in res.output
    res = runner.invoke(main, ["compare", "resnet20", "--strict", *FAST])
    assert res.exit_code == 4 and res.output.count("rows are unstable") == 1

    def broken(*args, **kwargs):
        raise RuntimeError("backend exploded")

    monkeypatch.setattr(row_mod, "prepare", broken)
    res = runner.invoke(main, ["bench", "resnet20", "--out", out, "--no-roofline", "--in-process", *FAST])
    assert res.exit_code == 3
    assert res.output.count("failed: resnet20/eager/fp32/b1: RuntimeError: backend exploded") == 1


def test_steal_time_is_read_from_the_kernel_and_flags_a_row():
    from resgraph.bench.contention import Signals, cpu_times, steal_share

    before = cpu_times("cpu  100 0 50 800 10 0 5 35 0 0\n")
    after = cpu_times("cpu  200 0 100 1500 20 0 10 170 0 0\n")
    assert before == (35, 1000) and after == (170, 2000)
    assert steal_share(before, after) == 0.135
    assert cpu_times("cpu 1 2 3") is None and steal_share(None, after) is None
    assert "hypervisor took 14% of the CPU time (steal)" in verdict(0.01, Signals(steal=0.135), 2)
    assert verdict(0.01, Signals(steal=0.01, cpu_ratio=0.9), 2) is None


def test_the_closing_warning_is_a_few_lines_whatever_the_number_of_rows(capsys):
    import click
    import pytest

    from resgraph.bench.record import Record
    from resgraph.cli.measure import finish

    why = ["cv 0.142 > 0.10", "the machine's speed index was 1.62 ms against the sweep's usual 1.86 ms (-13%)",
           "cv 0.2 > 0.10; its 2 thread(s) got 31% of the CPU time they asked for"]
    recs = [Record(spec=f"s{i}", backend="eager", batch=1, status="ok", unstable=why[i % 3]) for i in range(30)]
    recs += [Record(spec=f"f{i}", backend="eager", batch=1, status="failed", reason="RuntimeError: x") for i in range(9)]
    with pytest.raises(click.exceptions.Exit):
        finish(recs, False, "r.jsonl")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 + 4 + 1  # the warning, four failures named, one line for the rest
    assert err[0].startswith("warning: 30 of 39 rows are unstable: 20 their timings varied (cv); 10 the machine's "
                             "speed moved (speed index); 10 their threads were starved: s0/eager/fp32/b1, ")
    assert "and 26 more (`resgraph report r.jsonl` has each row's reason)" in err[0]
    assert err[-1].startswith("... and 5 more rows failed")
