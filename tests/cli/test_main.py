"""The group's error handling: user errors are one line and exit 2, resgraph's own faults exit 1."""

from __future__ import annotations

import errno

import click
import pytest
from click.testing import CliRunner

from resgraph.cli.main import COMMANDS, main


@pytest.fixture
def raising():
    """A temporary command that raises what the test hands it."""
    box: dict[str, BaseException] = {}

    @click.command("raise-it")
    def cmd() -> None:
        raise box["exc"]

    main.add_command(cmd)
    yield box
    main.commands.pop("raise-it")


@pytest.mark.parametrize("exc, code, text", [
    (OSError(errno.ENOSPC, "No space left on device", "out/r.jsonl"), 2, "out/r.jsonl: No space left on device"),
    (PermissionError(errno.EACCES, "Permission denied"), 2, "Permission denied"),
    (OSError("the cluster's socket broke"), 1, "internal error: OSError: the cluster's socket broke"),
    (ModuleNotFoundError("No module named 'onnx'", name="onnx"), 2, "needs the package 'onnx'"),
    (ImportError("cannot import name 'x' from 'resgraph.bench'", name="resgraph.bench"), 1, "internal error"),
])
def test_errors_are_one_line_with_the_right_exit_code(raising, exc, code, text):
    raising["exc"] = exc
    res = CliRunner().invoke(main, ["raise-it"])
    assert res.exit_code == code and text in res.output and len(res.output.strip().splitlines()) == 1


def test_every_listed_command_loads_and_is_named_as_listed():
    for name in COMMANDS:
        cmd = main.get_command(click.Context(main), name)
        assert isinstance(cmd, click.Command) and cmd.name == name
    assert main.list_commands(click.Context(main)) == sorted(COMMANDS)


def test_help_lists_each_commands_own_summary_without_importing_it():
    for name, (_, summary) in COMMANDS.items():  # the table --help reads is the commands' own first sentence
        assert summary == main.get_command(click.Context(main), name).get_short_help_str(10_000), name
    import subprocess
    import sys

    code = ("import sys; from resgraph.cli.main import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('resgraph.cli.') and m.endswith('_cmds')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]") and "validate" in out  # every command listed, none of their modules imported


def test_sigterm_stops_a_sweep_like_ctrl_c_keeping_finished_rows(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", "from resgraph.cli import main; main()", "bench", "resnet20",
                             "--backend", "eager,channels_last,folded", "--batch", "1,2,4,8", "--in-process",
                             "--no-roofline", "--warmup", "1", "--iters", "3", "--min-time", "0.5", "--out", str(out)],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out.exists() and out.read_text().count("\n") >= 1):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM)" in err and "Traceback" not in err and "leaked" not in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert 1 <= len(rows) < 12 and all(r["status"] == "ok" for r in rows)
    assert not os.path.exists(str(out) + ".tmp")


def test_help_texts_print_as_written():
    for name in COMMANDS:
        text = CliRunner().invoke(main, [name, "--help"]).output
        assert "%%" not in text, name


@pytest.mark.parametrize("args, text", [
    (["bench", "resnet20", "--row-timeout", "nan"], "expected a finite number (received nan)"),
    (["bench", "resnet20", "--row-timeout", "1e308"], "--row-timeout"),
    (["bench", "resnet20", "--min-time", "inf"], "--min-time"),
    (["bench", "resnet20", "--threads", "99999999999"], "--threads"),
    (["train", "resnet20", "--lr", "nan"], "expected a finite number"),
    (["profile", "--min-time", "nan"], "expected a finite number"),
])
def test_numeric_options_are_checked_up_front(args, text, tmp_path):
    res = CliRunner().invoke(main, [*args, *(["--out", str(tmp_path / "r.jsonl")] if args[0] == "bench" else [])])
    assert res.exit_code == 2 and text in res.output and len(res.output.strip().splitlines()) == 1, res.output


@pytest.mark.parametrize("args, text", [
    (["train", "resnet20", "--lr", "1e308"], "'--lr': 1e+308 is not in the range 0<x<=100.0"),
    (["train", "resnet20", "--weight-decay", "1e308"], "--weight-decay"),
    (["lower", "resnet20", "--seed", str(2**64)], "is not in the range 0<=x<=18446744073709551615"),
    (["export", "resnet20", "--seed", "-1"], "is not in the range 0<=x<=18446744073709551615"),
])
def test_learning_rates_and_seeds_have_ranges(args, text):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and text in res.output and len(res.output.strip().splitlines()) == 1, res.output
