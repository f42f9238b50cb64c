"""Helpers shared by the spec-language tests: run the CLI in-process, match diagnostics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from resgraph.cli.main import main

REPO = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO / "specs"
PRESET_FILES = sorted(SPECS_DIR.glob("*.yaml"))

# A valid spec whose line numbers the error tests rely on (line 1 is `name: t`).
BASE = """\
name: t
input: {channels: 3, size: 224}
stem: imagenet
block: basic
shortcut: B
stages:
  - {blocks: 2, width: 64}
  - {blocks: 2, width: 128, stride: 2}
  - {blocks: 2, width: 256, stride: 2}
head: {classes: 10}
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    """``text`` with its single occurrence of ``old`` replaced by ``new``."""
    assert text.count(old) == 1, f"{old!r} is not unique in the base spec"
    return text.replace(old, new)


@dataclass
class Run:
    """The outcome of one CLI call: exit code, stdout, stderr and both together."""

    code: int
    stdout: str
    stderr: str
    output: str


def run_cli(*args: str) -> Run:
    """``resgraph ARGS...`` in-process; an exception escaping the CLI fails the test."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr, result.output)


def diag_regex(file: str | Path, line: int | None, field: str, message: str) -> re.Pattern[str]:
    """A diagnostic line: ``file:line:col: field: ...message...`` (no line part when ``line`` is None)."""
    where = re.escape(str(file)) + (rf":{line}:\d+" if line is not None else "")
    what = (re.escape(field) + ": " if field else "") + ".*" + re.escape(message)
    return re.compile(rf"^{where}: {what}", re.MULTILINE)
