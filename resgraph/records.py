"""Typed JSON-lines record files: one writer (whole lines, fsynced, under one lock), one reader.

Benchmark rows (``resgraph.bench.record``) and training records (``resgraph.train.records``) are
pydantic models on :class:`RecordModel`; this module is the only code that writes or reads their
files. Torch-free and numpy-free: the command line's front end may import it.

- :func:`writer` holds a file's lock from the first check (regular file, writable, room on the
  disk) to the last row, so no second sweep can slip in between; a second writer of the same
  file, however it is spelt (a symlink, a relative path), is refused.
- :meth:`Writer.append` writes one record as one line in a single write, then fsyncs: a crash
  never leaves half a row, and a write that fails part way is rolled back.
- :func:`read` parses every line with the record type's own parser; a line that is not JSON, not
  an object or not a record of that type is skipped with one warning naming file and line.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from resgraph.atomic import ensure_folder, named
from resgraph.errors import UsageError

__all__ = [
    "MIN_FREE_BYTES",
    "Num",
    "Text",
    "clean_text",
    "first_object",
    "objects",
    "RecordModel",
    "Writer",
    "problem",
    "printable_text",
    "read",
    "tagged",
    "writer",
]

MAX_LINE = 1 << 20  # characters: a record is a few KB; a longer line is not one, and is not parsed
MIN_FREE_BYTES = 64 * 1024  # room for a few hundred records: below it a sweep would measure, then lose, its rows

# A measured number; JSON writes 600.0 as 600, which strict mode would refuse as a float.
Num = Annotated[float | None, BeforeValidator(lambda v: float(v) if type(v) is int else v)]

R = TypeVar("R", bound="RecordModel")


def printable_text(v: str | None) -> str | None:
    """Text fields are printed on terminals and written into Markdown and CSV: no control characters."""
    if v is not None and not v.isprintable():
        raise ValueError("must be printable text")
    return v


def clean_text(v: Any) -> Any:
    """Free text (an exception's message, a reason): control characters escaped, so no line can drive a terminal."""
    if isinstance(v, str) and not v.isprintable():
        return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in v)
    return v


Text = Annotated[str | None, BeforeValidator(clean_text)]


class RecordModel(BaseModel):
    """One line of a record file: immutable, typed, and readable by field name for tables."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def from_json(cls: type[R], obj: dict[str, Any]) -> R:
        """A record read from disk: strict types; fields this resgraph does not know are dropped."""
        return cls.model_validate({k: v for k, v in obj.items() if k in cls.model_fields}, strict=True)

    def evolve(self: R, **changes: Any) -> R:
        """A copy with ``changes``, validated like a new record (a misspelt field is an error, not a new key)."""
        return type(self).model_validate({**self.__dict__, **changes})

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default`` when the record type has no such field (tables look fields up by name)."""
        return getattr(self, key) if key in type(self).model_fields else default

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def line(self) -> bytes:
        """The record as one UTF-8 JSON line, newline included (NaN and inf are written as null)."""
        return (self.model_dump_json() + "\n").encode("utf-8")


def tagged(kinds: Mapping[str, type[R]], what: str) -> Callable[[dict[str, Any]], R | str]:
    """A parser for files of several record types told apart by their ``record`` field (training, profiles)."""

    def parse(obj: dict[str, Any]) -> R | str:
        model = kinds.get(str(obj.get("record")))
        if model is None:
            return f"line that is no {what} (no 'record': {' or '.join(kinds)})"
        try:
            return model.from_json(obj)
        except ValidationError as exc:
            return f"malformed {what}: {problem(exc)}"

    return parse


def problem(exc: ValidationError) -> str:
    """A validation error as one short clause: the first field's path and message, and how many more."""
    errors = exc.errors(include_url=False)
    where = ".".join(str(p) for p in errors[0]["loc"]) or "record"
    more = f" ({len(errors)} problems)" if len(errors) > 1 else ""
    return f"{where}: {errors[0]['msg'].lower()}{more}"


def _check_regular(path: Path) -> None:
    if path.exists() and not path.is_file():  # a FIFO would block every read and append
        raise UsageError(f"{path}: not a regular file: a results file is JSON lines on disk")


class Writer:
    """Appends records to a file whose lock this process holds (made by :func:`writer`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, rec: RecordModel) -> None:
        """Append one record as a whole line in a single write, then fsync; a failed write is rolled back."""
        data = rec.line()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise named(exc, self.path) from None
        size = os.fstat(fd).st_size
        try:
            if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a previous writer was killed mid-line: start a fresh one
            written = os.write(fd, data)
            while written < len(data):  # a short write on a regular file is rare (disk full): finish it
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)  # no half line left behind
            raise named(exc, self.path) from None
        finally:
            os.close(fd)

    def restart(self) -> None:
        """Start the file afresh (the demo's): only ever under the lock, so no other writer's file is removed."""
        self.path.unlink(missing_ok=True)


def lock_path(path: Path) -> Path:
    """The lock file of a record file: beside the file it resolves to, so every spelling of it shares one lock."""
    real = Path(os.path.realpath(path))
    return real.with_name(f".{real.name}.lock")


@contextlib.contextmanager
def writer(path: str | os.PathLike[str]) -> Iterator[Writer]:
    """Hold ``path`` for one writer, from the checks to the last record; a second writer is refused, not run.

    Before anything is measured: the file is regular (or absent), can be written and its disk has room.
    """
    path = Path(path)
    ensure_folder(path.parent)
    _check_regular(path)
    try:
        fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
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
        yield Writer(path)
    finally:
        os.close(fd)  # closing releases the lock; the empty lock file stays for the next writer


def read(path: str | os.PathLike[str], parse: Callable[[dict[str, Any]], R | str]) -> list[R]:
    """Every record of ``path`` in file order (none when it does not exist).

    ``parse`` turns one JSON object into a record, or says in a short clause why it is none; such lines
    and lines that are not JSON objects are skipped with one warning each, naming file and line.
    """
    out: list[R] = []
    for n, obj in objects(path):
        parsed = parse(obj) if isinstance(obj, dict) else obj if isinstance(obj, str) else \
            "line that is not a JSON object"
        if isinstance(parsed, str):
            warnings.warn(f"{path}:{n}: skipping a {parsed}", stacklevel=2)
        else:
            out.append(parsed)
    return out


def first_object(path: str | os.PathLike[str], lines: int = 1000) -> dict[str, Any] | None:
    """The first JSON object among the first ``lines`` lines of ``path``, read as :func:`read` reads (no warnings):
    what tells a training file from a bench one."""
    for n, obj in objects(path):
        if isinstance(obj, dict):
            return obj
        if n >= lines:
            break
    return None


def objects(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON value) of every non-blank line; a line that is none is a clause saying why.

    The one place record files are parsed: a BOM is no part of the first record, bytes that are not UTF-8
    are replaced, a line over :data:`MAX_LINE` is not parsed, and nesting deeper than any record is no record.
    """
    path = Path(path)
    if not path.exists():
        return
    _check_regular(path)
    with path.open(encoding="utf-8-sig", errors="replace") as f:
        for n, text in enumerate(f, 1):
            if not text.strip():
                continue
            if len(text) > MAX_LINE:
                yield n, f"line of {len(text):,} characters (a record is under {MAX_LINE:,})"
                continue
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):  # RecursionError: nesting deeper than any record
                yield n, "line that is not valid JSON (an interrupted write?)"
                continue
            yield n, value if not isinstance(value, str) else "line that is not a JSON object"
