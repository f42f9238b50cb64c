"""Training records: one ``step`` record per logged step, one ``run`` record when a run ends.

They are written and read by ``resgraph.records`` like bench rows (whole-line appends, fsync,
tolerant reads) but have their own shape, checked by pydantic as they are
read back, so a hand-edited or foreign line is skipped with one warning.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from resgraph import records
from resgraph.records import Num, RecordModel

__all__ = ["KINDS", "RunRecord", "StepRecord", "TrainRecord", "curves", "is_train_file", "parse_train_record",
           "read_train_records"]

_Text = Annotated[str, Field(min_length=1, max_length=400)]


class _Common(RecordModel):
    run: str = Field(min_length=1, max_length=64)  # hash of everything that shapes the curve: --resume's key
    spec: _Text
    spec_hash: str
    data: _Text
    seed: int


class StepRecord(_Common):
    """Training loss and error averaged over the steps since the last log; test figures when evaluated."""

    record: Literal["train_step"] = "train_step"
    step: int = Field(ge=1)
    epoch: int = Field(ge=0)
    lr: Num
    train_loss: Num = None
    train_err: Num = None
    test_loss: Num = None
    test_err: Num = None


class RunRecord(_Common):
    """The end of a run: its recipe, final figures (eval mode, whole splits), speed and what the network is."""

    record: Literal["train_run"] = "train_run"
    steps: int = Field(ge=1)
    batch: int = Field(ge=1)
    lr: Num = None
    weight_decay: Num = None
    momentum: Num = None
    schedule: str | None = Field(None, max_length=40)
    warmup: int | None = Field(None, ge=0)
    diverged: bool = False
    stopped_at: int | None = Field(None, ge=0)
    final_train_loss: Num = None
    final_train_err: Num = None
    final_test_loss: Num = None
    final_test_err: Num = None
    images_per_s: Num = None
    train_s: Num = None
    wall_s: Num = None
    resumed_at: int | None = None
    depth: int | None = None
    residual: bool | None = None
    design: str | None = None
    params: int | None = None
    threads: int | None = None
    env: dict[str, Any] | None = None
    timestamp: str | None = Field(None, max_length=40)


TrainRecord = StepRecord | RunRecord
KINDS: dict[str, type[StepRecord] | type[RunRecord]] = {"train_step": StepRecord, "train_run": RunRecord}


# A JSON object as a training record, or why it is none (a warning's clause).
parse_train_record: Callable[[dict[str, Any]], TrainRecord | str] = records.tagged(KINDS, "training record")


def read_train_records(path: str | Path) -> list[TrainRecord]:
    """The training records of a results file, in file order; anything else is skipped with a warning."""
    return records.read(path, parse_train_record)


def is_train_file(path: str | Path) -> bool:
    """Whether a results file holds training records (its first JSON object says ``record: train_*``)."""
    if not Path(path).is_file():  # a FIFO would block; read_records then says what it is
        return False
    first = records.first_object(path)
    return first is not None and str(first.get("record", "")).startswith("train_")


def curves(recs: list[TrainRecord]) -> tuple[dict[str, dict[int, StepRecord]], dict[str, RunRecord]]:
    """Per run: its step records by step (a re-run step supersedes the earlier one), and its run record."""
    steps: dict[str, dict[int, StepRecord]] = {}
    runs: dict[str, RunRecord] = {}
    for r in recs:
        if isinstance(r, StepRecord):
            steps.setdefault(r.run, {})[r.step] = r
        else:
            runs[r.run] = r
    return steps, runs
