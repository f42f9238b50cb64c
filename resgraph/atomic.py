"""Atomic file output: a reader sees the old file or the whole new one, never half of it.

Every output resgraph writes (graph exports, ONNX/TensorRT files, state_dicts,
reports, the peak cache) goes through :func:`atomic_path`: written in a
temporary folder beside the target, then renamed over it. A failure (a full
disk, a read-only folder) removes the folder and raises an ``OSError`` that
names the user's path, not the temporary one. A folder left by a process that
was killed (``kill -9`` cannot be caught) is removed by the next write of the
same file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

_TAG = ".resgraph-tmp-"


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a path named like ``target`` in a temporary folder beside it; on success move its files into place.

    Whatever else the writer puts in the folder (an ONNX file's external weights) moves too;
    on failure the folder and everything in it is removed. The target's folder must exist.
    """
    target = Path(target)
    _remove_stale(target)
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TAG}{os.getpid()}-", dir=target.parent))
    except OSError as exc:
        raise named(exc, target) from None
    try:
        yield folder / target.name
        for item in folder.iterdir():
            os.replace(item, target.parent / item.name)
    except OSError as exc:
        raise named(exc, target) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ensure_folder(folder: Path) -> Path:
    """Create ``folder`` and its parents; a part of it that is a file is an error that says so."""
    folder = Path(folder)
    for part in (folder, *folder.parents):
        if part.exists() or part.is_symlink():
            if not part.is_dir():
                raise OSError(errno.ENOTDIR, "is a file, not a folder", str(part))
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise named(exc, folder) from None
    return folder


def write_bytes_atomic(target: Path, data: bytes | memoryview) -> None:
    """``target.write_bytes(data)``, atomically and flushed to disk."""
    with atomic_path(target) as tmp, open(tmp, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save_torch(obj: object, target: Path) -> None:
    """``torch.save(obj, target)``, atomically and flushed: the one way resgraph writes a ``.pt`` file.

    Serialised in memory first: torch's own file writer reports a full disk as a RuntimeError
    ("unexpected pos ..."), written here it is ``TARGET: No space left on device``, and nothing is left behind.
    """
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    ensure_folder(Path(target).parent)
    write_bytes_atomic(target, buf.getbuffer())


def named(exc: OSError, target: Path) -> OSError:
    """The same error, naming ``target`` (the user's path) instead of the temporary file."""
    return OSError(exc.errno, exc.strerror or str(exc), str(target))


def _remove_stale(target: Path) -> None:
    """Remove temporary folders of ``target`` whose writer process no longer exists."""
    try:
        siblings = list(target.parent.glob(f".{glob_escape(target.name)}{_TAG}*"))
    except OSError:
        return
    for folder in siblings:
        pid = folder.name[len(f".{target.name}{_TAG}"):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def file_name(text: str, limit: int = 80) -> str:
    """A single file-name component made from user text (a spec's name, a label): the one way resgraph does it.

    Letters, digits, ``-``, ``_`` and ``.`` are kept, anything else (``/``, ``\\``, control characters) becomes
    ``_``; leading dots are dropped, so the result is never ``..``, hidden or absolute, and a shared spec can
    never choose where a file goes.
    """
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in text)[:limit]
    return safe.lstrip(".") or "x"


def regular_file(path: Path, what: str) -> Path:
    """``path`` if it is a regular file (or absent: the caller says so); a FIFO, a device or a socket would block
    or never end a read, so it is refused without opening it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return path
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise OSError(errno.EINVAL, f"is {kind}, not {what}", str(path))
    return path
