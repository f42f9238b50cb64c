"""Errors a user can cause, each printable as one line: ``where: field: what (received X)``.

The CLI catches :class:`ResgraphError` and prints its lines with exit code 2;
anything else escaping is a bug in resgraph, not in the user's input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

FieldPath = tuple[str | int, ...]


def format_path(path: FieldPath) -> str:
    """``('stages', 2, 'blocks')`` -> ``stages[2].blocks``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def short_repr(value: Any, limit: int = 60) -> str:
    """A received value as the user wrote it, cut to fit one line."""
    text = repr(value) if isinstance(value, str) else _plain(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_plain(v) if not isinstance(v, str) else repr(v) for v in value) + "]"
    if isinstance(value, dict):  # as YAML's flow style writes it
        return (
            "{" + ", ".join(f"{k}: {_plain(v) if not isinstance(v, str) else repr(v)}" for k, v in value.items()) + "}"
        )
    return str(value)


# Characters that str.splitlines() (and so a reader of our one-line messages) takes as line breaks.
_ESCAPE_BREAKS = {ord(c): c.encode("unicode_escape").decode() for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}
# ...and every other control character: an escape sequence from a file must not reach the terminal.
_ESCAPE_BREAKS |= {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7f, 0xa0)] if c not in _ESCAPE_BREAKS}


def printable(text: str) -> str:
    """``text`` with line breaks and control characters escaped, for one line on a terminal."""
    return text.translate(_ESCAPE_BREAKS)


@dataclass(frozen=True)
class Location:
    """A position in a source file; line and column are 1-based, 0 when unknown."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem with a spec: where, which field, what was expected, what was received."""

    location: Location
    path: FieldPath
    message: str
    received: Any = None
    has_received: bool = False
    severity: str = "error"

    def __str__(self) -> str:
        field = format_path(self.path)
        text = f"{self.location}: " + (f"{field}: " if field else "") + self.message
        if self.has_received:
            text += f" (received {short_repr(self.received)})"
        text = text.translate(_ESCAPE_BREAKS)  # a key or file name with a line break must not split the line
        return text if self.severity == "error" else f"{text} [{self.severity}]"


class ResgraphError(Exception):
    """Base of every error caused by user input; the CLI prints it and exits 2."""

    def lines(self) -> list[str]:
        """The error as one or more one-line messages."""
        return [str(self)]


class SpecError(ResgraphError):
    """A spec file (or preset) that cannot be loaded; holds every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))

    def lines(self) -> list[str]:
        return [str(d) for d in self.diagnostics]

    @classmethod
    def single(cls, file: str | Path, message: str, line: int = 0, column: int = 0,
               path: FieldPath = (), **received: Any) -> SpecError:
        """One diagnostic; pass ``received=value`` to quote what the user wrote."""
        loc = Location(str(file), line, column)
        return cls([Diagnostic(loc, path, message, received.get("received"), "received" in received)])


class UsageError(ResgraphError):
    """A bad command-line request (unknown backend, missing optional package, ...)."""
