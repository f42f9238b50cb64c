"""Training records: one ``step`` record per logged step, one ``run`` record when a run ends.

They share the results-file machinery of the bench harness (whole-line appends,
fsync, tolerant reads) but have their own shape, checked by pydantic as they are
read back, so a hand-edited or foreign line is skipped with one warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resgraph.bench.record import _Num
from resgraph.bench.results import read_records

_Text = Annotated[str, Field(min_length=1, max_length=400)]


class _Common(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    run: str = Field(min_length=1, max_length=64)  # hash of everything that shapes the curve: --resume's key
    spec: _Text
    spec_hash: str
    data: _Text
    seed: int


class StepRecord(_Common):
    """Training loss and error averaged over the steps since the last log; test figures when evaluated."""

    record: Literal["train_step"]
    step: int = Field(ge=1)
    epoch: int = Field(ge=0)
    lr: _Num
    train_loss: _Num
    train_err: _Num
    test_loss: _Num = None
    test_err: _Num = None


class RunRecord(_Common):
    """The end of a run: final figures (eval mode, whole splits), speed and what the network is."""

    record: Literal["train_run"]
    steps: int = Field(ge=1)
    batch: int = Field(ge=1)
    diverged: bool = False
    final_train_loss: _Num = None
    final_train_err: _Num = None
    final_test_loss: _Num = None
    final_test_err: _Num = None
    images_per_s: _Num = None
    wall_s: _Num = None
    depth: int | None = None
    residual: bool | None = None
    design: str | None = None


KINDS = {"train_step": StepRecord, "train_run": RunRecord}


def check_train_record(rec: dict[str, Any]) -> str | None:
    """Why ``rec`` is not a training record (a warning's clause), or None when it is one."""
    model = KINDS.get(rec.get("record"))  # type: ignore[arg-type]
    if model is None:
        return "line that is no training record (no 'record': train_step or train_run)"
    try:
        model.model_validate(rec)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        return f"malformed training record: {'.'.join(map(str, err['loc'])) or 'record'}: {err['msg'].lower()}"
    return None


def read_train_records(path: str | Path) -> list[dict[str, Any]]:
    """The training records of a results file, in file order; anything else is skipped with a warning."""
    return read_records(path, check_train_record)


def is_train_file(path: str | Path) -> bool:
    """Whether a results file holds training records (its first JSON object says ``record: train_*``)."""
    import itertools
    import json

    if not Path(path).is_file():  # a FIFO would block; read_records then says what it is
        return False
    with Path(path).open(encoding="utf-8", errors="replace") as f:
        for line in itertools.islice(f, 1000):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                return str(rec.get("record", "")).startswith("train_")
    return False


def curves(records: list[dict[str, Any]]) -> tuple[dict[str, dict[int, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """Per run: its step records by step (a re-run step supersedes the earlier one), and its run record."""
    steps: dict[str, dict[int, dict[str, Any]]] = {}
    runs: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["record"] == "train_step":
            steps.setdefault(r["run"], {})[r["step"]] = r
        else:
            runs[r["run"]] = r
    return steps, runs
