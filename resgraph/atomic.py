"""Atomic file output: a reader sees the old file or the whole new one, never half of it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a path named like ``target`` in a temporary folder beside it; on success move its files into place.

    Whatever else the writer puts in the folder (an ONNX file's external weights) moves too;
    on failure the folder and everything in it is removed. The target's folder must exist.
    """
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield folder / target.name
        for item in folder.iterdir():
            os.replace(item, target.parent / item.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """``target.write_bytes(data)``, atomically and flushed to disk."""
    with atomic_path(target) as tmp, open(tmp, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
