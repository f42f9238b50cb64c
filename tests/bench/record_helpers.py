"""Writing results files in tests: typed records through the one writer, or raw lines as another tool would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from resgraph import records
from resgraph.bench.record import Record


def append_record(path: Path, fields: dict[str, Any]) -> Record:
    """Append ``Record(**fields)`` as a sweep would (under the file's lock)."""
    rec = Record(**fields)
    with records.writer(path) as w:
        w.append(rec)
    return rec


def append_raw(path: Path, obj: Any) -> None:
    """Append one JSON line as it stands (an older resgraph's record, another tool's line, a hand edit)."""
    with Path(path).open("a", encoding="utf-8") as f:
        f.write(json.dumps(obj) + "\n")
