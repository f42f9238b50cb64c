"""The shape of one results record, checked as it is read back: a results file is data from disk.

Any JSON line may sit in a results file (another tool's output, a hand edit, a
record of an older resgraph). The report and ``--resume`` read fields by name
and type; a record whose fields have other types is skipped with one warning
naming its line, never a crash halfway through a report.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

Status = Literal["ok", "skipped", "failed", "mismatch"]
# A measured number; JSON writes 600.0 as 600, which strict mode would refuse as a float.
_Num = Annotated[float | None, BeforeValidator(lambda v: float(v) if type(v) is int else v)]


def _printable(v: str) -> str:
    if not v.isprintable():  # it is printed on terminals and written into Markdown and CSV
        raise ValueError("must be printable text")
    return v


class Record(BaseModel):
    """One benchmark row as ``run_row`` writes it; fields it does not know are kept."""

    model_config = ConfigDict(extra="allow", strict=True)

    spec: str = Field(min_length=1, max_length=400)
    spec_hash: str = ""
    backend: str = Field(min_length=1, max_length=100)
    device: str = Field("cpu", min_length=1, max_length=100)
    batch: int = Field(ge=1)
    precision: str = Field("fp32", min_length=1, max_length=20)
    weights: str | None = Field(None, max_length=600)
    data: str | None = Field(None, max_length=600)
    calibration: int | None = Field(None, ge=1)
    host: str | None = Field(None, max_length=300)  # absent in records of resgraph before sweeps left the process
    device_model: str | None = Field(None, max_length=300)
    slot: str | None = Field(None, max_length=300)
    worker: str | None = Field(None, max_length=300)
    status: Status
    reason: str | None = None
    attempts: int | None = Field(None, ge=1)
    wall_s: _Num = None
    min_ms: _Num = None
    p10_ms: _Num = None
    p50_ms: _Num = None
    p90_ms: _Num = None
    p99_ms: _Num = None
    mean_ms: _Num = None
    std_ms: _Num = None
    cv: _Num = None
    throughput: _Num = None
    samples: int | None = None
    load_before: _Num = None
    load_after: _Num = None
    cpu_ratio: _Num = None
    unstable: str | None = None
    repeat: int | None = None
    round_p50_ms: list[float] | None = None
    round_spread: _Num = None
    first_result_s: _Num = None
    peak_mem_bytes: int | None = None
    max_abs_err: _Num = None
    max_rel_err: _Num = None
    calibration_data: str | None = None
    check_images: int | None = Field(None, ge=1)
    check_data: str | None = None
    top1_agreement: _Num = Field(None, ge=0, le=1)
    top5_overlap: _Num = Field(None, ge=0, le=1)
    cosine: _Num = Field(None, ge=-1, le=1)
    test_error: _Num = Field(None, ge=0, le=100)
    ref_test_error: _Num = Field(None, ge=0, le=100)
    gflops: _Num = None
    pct_peak: _Num = None
    peak_gflops: _Num = None
    macs: _Num = None
    params: int | None = None
    depth: int | None = None
    design: str | None = None
    input_shape: list[int] | None = None
    threads: int | None = None
    env: dict[str, Any] | None = None

    _text = field_validator("spec", "backend", "device", "precision", "spec_hash", "design", "host", "device_model",
                            "slot", "worker", "weights", "data", "calibration_data", "check_data")(
        lambda v: v if v is None else _printable(v))


def check_record(rec: Any) -> str | None:
    """Why ``rec`` is not a resgraph bench record (one short clause), or None when it is one."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    try:
        Record.model_validate(rec)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "record"
        return f"{where}: {err['msg'].lower()}" + (f" ({len(exc.errors())} problems)" if len(exc.errors()) > 1 else "")
    return None
