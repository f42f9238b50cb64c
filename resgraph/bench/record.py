"""A benchmark row's record: the one definition of what a results line holds, its key, and its reader.

``run_row`` builds a :class:`Record` once a row is measured; sweeps, rounds, ``compare``,
``report``, isolated and Dask rows pass it on unchanged or as a validated copy
(:meth:`~resgraph.records.RecordModel.evolve`). Any JSON line may sit in a results file (another
tool's output, a hand edit, a record of an older resgraph): :func:`read_results` keeps the records,
skips the rest with one warning naming file and line. Files written before the schema had a
version read as version 1; their missing fields are unset.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from resgraph import records
from resgraph.records import Num, RecordModel, Text, clean_text, printable_text

__all__ = ["CAUSES", "TRANSIENT_CAUSES", "Attempt", "Cause",
           "JOB_FIELDS", "KEY_FIELDS", "PLACE_FIELDS", "SCHEMA_VERSION", "STATUSES", "Place", "Record",
           "by_placement", "check_record", "latest_by_key", "load_results", "parse_record", "placement_label",
           "read_results"]

SCHEMA_VERSION = 4  # 1: records before the schema was versioned (no schema_version field); 3: speed_ms; 4: cause
STATUSES = ("ok", "skipped", "failed", "mismatch")
Status = Literal["ok", "skipped", "failed", "mismatch"]
# Why a row failed. The first three come from outside the row (an operator's or the OOM killer's signal, the
# row timeout, a lost Dask worker): the same row may well pass next time, so --resume measures it again. The
# others are the row's own doing (a segfault, an early exit, an exception in the backend): --resume keeps
# them, --retry-failed runs them again.
CAUSES = ("killed", "timeout", "lost", "crashed", "error")
TRANSIENT_CAUSES = frozenset({"killed", "timeout", "lost"})
Cause = Literal["killed", "timeout", "lost", "crashed", "error"]
# How failed records written before `cause` existed said why (resgraph.bench.isolate, dask_runner).
_LEGACY_TRANSIENT = re.compile(r"the row's process died of (SIGKILL|SIGTERM|SIGINT|SIGHUP|SIGQUIT)\b"
                               r"|timed out: no result after|the Dask worker running the row was lost")
# What a row measures (Job.key). weights, data, calibration and hint are null where unused, as in records older
# than them.
JOB_FIELDS = ("spec", "spec_hash", "backend", "device", "batch", "precision", "weights", "data", "calibration",
              "hint")
PLACE_FIELDS = ("host", "device_model")  # where it was measured: two machines' rows are never one row
KEY_FIELDS = (*JOB_FIELDS, *PLACE_FIELDS)  # identifies a row in a results file
Place = tuple[str | None, str | None]  # (host, device model)

_Short = Field(None, max_length=300)


class Attempt(RecordModel):
    """An earlier attempt at a row that did not stand (a retried or re-run failure): what came out, when, where."""

    status: Status
    reason: Text = None
    cause: Cause | None = None
    timestamp: str | None = Field(None, max_length=40)
    wall_s: Num = None
    host: str | None = _Short
    worker: str | None = _Short

    _text = field_validator("timestamp", "host", "worker")(printable_text)


class Record(RecordModel):
    """One benchmark row: what was measured, where, how, and what came out."""

    schema_version: int = Field(SCHEMA_VERSION, ge=1)
    # what the row measures (JOB_FIELDS)
    spec: str = Field(min_length=1, max_length=400)
    spec_hash: str = ""
    backend: str = Field(min_length=1, max_length=100)
    device: str = Field("cpu", min_length=1, max_length=100)
    batch: int = Field(ge=1, le=1 << 31)
    precision: str = Field("fp32", min_length=1, max_length=20)
    weights: str | None = Field(None, max_length=600)  # "file.pt@sha256-prefix"; None: random init
    data: str | None = Field(None, max_length=600)  # data set calibrated on and checked with
    calibration: int | None = Field(None, ge=1)  # calibration batches; None where the precision needs none
    hint: str | None = Field(None, max_length=40)  # the backend's performance hint (openvino); None where it takes none
    # where it was measured (absent in records from before sweeps left the process)
    host: str | None = _Short
    device_model: str | None = _Short
    slot: str | None = _Short
    worker: str | None = _Short
    # outcome
    status: Status
    reason: Text = None
    cause: Cause | None = None  # why a 'failed' row failed (CAUSES); None on the other statuses and in old records
    attempts: int | None = Field(None, ge=1)  # this one included
    earlier: list[Attempt] | None = Field(None, max_length=1000)  # the attempts before this one, oldest first
    wall_s: Num = None  # the row's whole span, process start included where it had its own
    # latency (ms) and throughput (images/s) of the timed calls
    min_ms: Num = None
    p10_ms: Num = None
    p50_ms: Num = None
    p90_ms: Num = None
    p99_ms: Num = None
    mean_ms: Num = None
    std_ms: Num = None
    cv: Num = None
    throughput: Num = None
    samples: int | None = None
    # trust: load, CPU share, rounds
    load_before: Num = None
    load_after: Num = None
    cpu_ratio: Num = None
    steal: Num = Field(None, ge=0, le=1)  # share of the CPU time the hypervisor gave other guests while timed
    speed_ms: Num = Field(None, ge=0)  # the machine's speed index around the row (resgraph.bench.speed), ms
    unstable: Text = None
    repeat: int | None = None
    round_p50_ms: list[float] | None = None
    round_spread: Num = None
    first_result_s: Num = None
    peak_mem_bytes: int | None = None
    mem_method: str | None = Field(None, max_length=100)
    # floating precisions: closeness to fp32 eager
    max_abs_err: Num = None
    max_rel_err: Num = None
    tolerance: Num = None
    # int8: agreement with fp32 eager (resgraph.precision)
    calibration_data: str | None = None
    check_images: int | None = Field(None, ge=1)
    check_data: str | None = None
    top1_agreement: Num = Field(None, ge=0, le=1)
    top5_overlap: Num = Field(None, ge=0, le=1)
    cosine: Num = Field(None, ge=-1, le=1)
    test_error: Num = Field(None, ge=0, le=100)
    ref_test_error: Num = Field(None, ge=0, le=100)
    # roofline
    gflops: Num = None
    pct_peak: Num = None
    peak_gflops: Num = None
    # the network, as the caller counted it
    macs: Num = None
    params: int | None = None
    depth: int | None = None
    design: str | None = None
    input_shape: list[int] | None = None
    # how it was timed
    threads: int | None = None
    warmup: int | None = None
    iters: int | None = None
    min_time_s: Num = None
    env: dict[str, Any] | None = None
    timestamp: str | None = Field(None, max_length=40)

    _text = field_validator("spec", "backend", "device", "precision", "spec_hash", "design", "host", "device_model",
                            "slot", "worker", "weights", "data", "hint", "calibration_data", "check_data", "mem_method",
                            "timestamp")(printable_text)

    @field_validator("env", mode="before")
    @classmethod
    def _clean_env(cls, v: Any) -> Any:
        """The environment's text is printed into reports too: control characters escaped, like ``reason``."""
        if isinstance(v, dict):
            # values are text, numbers or null: anything else (a list, a dict) is kept as its text
            return {str(clean_text(k)): x if x is None or isinstance(x, (bool, int, float)) else clean_text(str(x))
                    for k, x in v.items()}
        return v

    @property
    def transient(self) -> bool:
        """Whether this is a failure from outside the row (CAUSES), which --resume measures again."""
        if self.status != "failed":
            return False
        if self.cause is not None:
            return self.cause in TRANSIENT_CAUSES
        return bool(self.reason and _LEGACY_TRANSIENT.match(self.reason))  # written before records had a cause

    def as_attempt(self) -> Attempt:
        """This record as an earlier attempt of the row that supersedes it."""
        return Attempt(status=self.status, reason=self.reason, cause=self.cause, timestamp=self.timestamp,
                       wall_s=self.wall_s, host=self.host, worker=self.worker)

    def after(self, earlier: list[Attempt]) -> Record:
        """This record with ``earlier`` attempts before its own (and its own earlier ones), counted in ``attempts``."""
        if not earlier:
            return self
        history = [*earlier, *(self.earlier or [])]
        return self.evolve(earlier=history, attempts=len(history) + 1)

    @property
    def job_key(self) -> tuple[Any, ...]:
        """What the row measures: JOB_FIELDS in order (``Job.key``)."""
        return tuple(getattr(self, k) for k in JOB_FIELDS)

    @property
    def placement(self) -> Place:
        """(host, device model) it was measured on; records older than named hosts take their env's device."""
        env = self.env if isinstance(self.env, dict) else {}
        named = env.get("device_name")
        return self.host, self.device_model or (named if isinstance(named, str) else None)

    @property
    def key(self) -> tuple[Any, ...]:
        """The identity of a row: same key, same measurement (on the same host and device model)."""
        return (*self.job_key, *self.placement)

    @property
    def label(self) -> str:
        """``resnet50/onnxruntime/int8/b1``, as progress bars and messages name a row."""
        return f"{self.spec}/{self.backend}/{self.precision}/b{self.batch}" + (f"/{self.hint}" if self.hint else "")


def parse_record(obj: dict[str, Any]) -> Record | str:
    """A JSON object as a :class:`Record`, or why it is none (a warning's clause)."""
    if missing := [k for k in ("spec", "status") if k not in obj]:
        return f"record without {', '.join(missing)} (not a resgraph bench record?)"
    try:
        return Record.from_json({"schema_version": 1, **obj})
    except ValidationError as exc:
        return f"malformed record: {records.problem(exc)}"


def check_record(obj: Any) -> str | None:
    """Why ``obj`` is not a resgraph bench record (one short clause), or None when it is one."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    parsed = parse_record(obj)
    return parsed if isinstance(parsed, str) else None


def read_results(path: str | os.PathLike[str]) -> list[Record]:
    """Every bench record of a results file in file order; any other line is skipped with a warning naming it."""
    return records.read(path, parse_record)


def latest_by_key(recs: Iterable[Record]) -> dict[tuple[Any, ...], Record]:
    """The last record of each row key (a re-run supersedes an earlier one)."""
    return {r.key: r for r in recs}


def load_results(path: str | os.PathLike[str]) -> list[Record]:
    """The latest record per row key of a results file: what ``report`` and ``--resume`` see."""
    return list(latest_by_key(read_results(path)).values())


def by_placement(recs: Iterable[Any]) -> dict[Place, list[Any]]:
    """Records (or rows wrapping them) grouped by the (host, device model) they were measured on, first seen first."""
    groups: dict[Place, list[Any]] = {}
    for r in recs:
        groups.setdefault(r.placement, []).append(r)
    return groups


def placement_label(place: Place) -> str:
    """``host vm, AMD EPYC`` (a record from before hosts were named says so)."""
    host, model = place
    return f"host {host or 'not recorded'}, {model or 'device model not recorded'}"
