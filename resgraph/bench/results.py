"""The results file: one JSON record per line, appended whole, read back tolerantly."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from resgraph.atomic import ensure_folder, named
from resgraph.bench.record import check_record
from resgraph.errors import UsageError

MIN_FREE_BYTES = 64 * 1024  # room for a few hundred records: below it a sweep would measure, then lose, its rows

__all__ = ["JOB_FIELDS", "KEY_FIELDS", "PLACE_FIELDS", "RECORD_FIELDS", "STATUSES", "row_key", "placement",
           "by_placement", "placement_label",
           "append_record", "read_records", "latest_by_key"]

STATUSES = ("ok", "skipped", "failed", "mismatch")
# What a row measures (Job.key). weights, data and calibration are null where unused, as in records older than them.
JOB_FIELDS = ("spec", "spec_hash", "backend", "device", "batch", "precision", "weights", "data", "calibration")
PLACE_FIELDS = ("host", "device_model")  # where it was measured: two machines' rows are never one row
KEY_FIELDS = (*JOB_FIELDS, *PLACE_FIELDS)  # identifies a row in a results file
RECORD_FIELDS = (
    *KEY_FIELDS, "slot", "worker",
    "status", "reason", "attempts", "wall_s",
    "min_ms", "p10_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "cv", "throughput", "samples",
    "load_before", "load_after", "cpu_ratio", "unstable", "repeat", "round_p50_ms", "round_spread",
    "first_result_s", "peak_mem_bytes", "mem_method",
    "max_abs_err", "max_rel_err", "tolerance",
    "calibration_data", "check_images", "check_data", "top1_agreement", "top5_overlap", "cosine",
    "test_error", "ref_test_error",
    "gflops", "pct_peak", "peak_gflops",
    "macs", "params", "depth", "design", "input_shape",
    "threads", "warmup", "iters", "min_time_s",
    "env", "timestamp",
)


def placement(rec: dict[str, Any]) -> tuple[str | None, str | None]:
    """(host, device model) a record was measured on.

    Records written before resgraph named hosts have no host (None) and their device model is
    the one their ``env`` names.
    """
    env = rec.get("env") if isinstance(rec.get("env"), dict) else {}
    return rec.get("host"), rec.get("device_model") or env.get("device_name")


def by_placement(records: Iterable[dict[str, Any]]) -> dict[tuple[str | None, str | None], list[dict[str, Any]]]:
    """Records grouped by the (host, device model) they were measured on, in first-seen order."""
    groups: dict[tuple[str | None, str | None], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(placement(r), []).append(r)
    return groups


def placement_label(place: tuple[str | None, str | None]) -> str:
    """``host vm, AMD EPYC`` (a record from before hosts were named says so)."""
    host, model = place
    return f"host {host or 'not recorded'}, {model or 'device model not recorded'}"


def row_key(rec: dict[str, Any]) -> tuple[Any, ...]:
    """The identity of a row: same key, same measurement (on the same host and device model)."""
    return (*(rec.get(k) for k in JOB_FIELDS), *placement(rec))


def _plain(o: Any) -> Any:
    """JSON fallback for numpy scalars/arrays, tuples and paths."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def _finite(o: Any) -> Any:
    """NaN and inf aren't JSON: store them as null."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def encode(rec: dict[str, Any]) -> bytes:
    """One record as one UTF-8 line, newline included."""
    return (json.dumps(_finite(rec), default=_plain, allow_nan=False) + "\n").encode("utf-8")


def append_record(path: str | os.PathLike[str], rec: dict[str, Any]) -> None:
    """Append one record as a whole line in a single write, then fsync, so a crash never leaves half a row.

    A write that fails part way (a full disk) is rolled back to where the file
    ended, and the error names ``path``.
    """
    line = encode(rec)
    path = Path(path)
    ensure_folder(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise named(exc, path) from None
    size = os.fstat(fd).st_size
    try:
        if _needs_newline(fd):
            line = b"\n" + line  # a previous writer was killed mid-line: start a fresh one
        written = os.write(fd, line)
        while written < len(line):  # a short write on a regular file is rare (disk full): finish it
            written += os.write(fd, line[written:])
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)  # no half line left behind
        raise named(exc, path) from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def sweep_lock(path: Path) -> Iterator[None]:
    """Hold the results file for one sweep: a second sweep on the same file is refused, not run twice.

    Also checks, before anything is measured, that the file can be written and its
    disk has room for the records.
    """
    ensure_folder(path.parent)
    if path.exists() and not path.is_file():  # a FIFO would block every append
        raise UsageError(f"{path}: not a regular file: a results file is JSON lines on disk")
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise named(exc, path) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{path}: another sweep is writing this results file; wait for it to finish or "
                             "use another --out") from None
        if not os.access(path if path.exists() else path.parent, os.W_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        if shutil.disk_usage(path.parent).free < MIN_FREE_BYTES:
            raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (less than {MIN_FREE_BYTES // 1024} KiB "
                          "free: nothing was measured)", str(path))
        yield
    finally:
        os.close(fd)  # closing releases the lock; the empty lock file stays for the next sweep


def _needs_newline(fd: int) -> bool:
    """Whether the file is non-empty and its last byte is not a newline."""
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _bench_record(rec: dict[str, Any]) -> str | None:
    """Why ``rec`` is no bench record, as a warning's clause, or None."""
    if missing := [k for k in ("spec", "status") if k not in rec]:
        return f"record without {', '.join(missing)} (not a resgraph bench record?)"
    if problem := check_record(rec):
        return f"malformed record: {problem}"
    return None


def read_records(path: str | os.PathLike[str],
                 check: Callable[[dict[str, Any]], str | None] = _bench_record) -> list[dict[str, Any]]:
    """All records in file order that ``check`` accepts; any other line is skipped with a warning naming it.

    ``check`` says why a JSON object is not a record of this file's kind (bench rows by default; training
    records pass their own).
    """
    path = Path(path)
    if not path.exists():
        return []
    if not path.is_file():  # a pipe would block the reader; a folder is no results file
        raise UsageError(f"{path}: not a regular file: a results file is JSON lines on disk")
    out: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                warnings.warn(f"{path}:{n}: skipping a line that is not valid JSON (an interrupted write?)", stacklevel=2)
                continue
            if not isinstance(rec, dict):
                warnings.warn(f"{path}:{n}: skipping a line that is not a JSON object", stacklevel=2)
            elif problem := check(rec):
                warnings.warn(f"{path}:{n}: skipping a {problem}", stacklevel=2)
            else:
                out.append(rec)
    return out


def latest_by_key(records: Iterable[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The last record of each row key (a re-run supersedes an earlier one)."""
    return {row_key(r): r for r in records}
