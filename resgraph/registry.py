"""One rule for every table of names (kinds, backends, precisions): refuse a duplicate, explain an unknown.

An unknown name is an :class:`UnknownNameError` — one line with the name
received, the nearest known name when one is close, and every known name; a
:class:`~resgraph.errors.UsageError` to the CLI (exit 2) and a ``ValueError`` to
library callers. A name registered twice is a :class:`DuplicateNameError`: a
later registration never silently replaces an earlier one.

torch is not imported here: ``resgraph validate`` and ``summary`` read the kinds and precisions without it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import TypeVar

from resgraph.errors import ResgraphError, UsageError, short_repr

__all__ = ["DuplicateNameError", "UnknownNameError", "add", "lookup", "suggest"]

V = TypeVar("V")


def suggest(word: object, choices: Iterable[str]) -> str:
    """``" (did you mean 'X'?)"`` for the closest choice, case aside (difflib's ratio >= 0.6), or the one
    choice the word begins (``onnx`` -> ``onnxruntime``), else ``""``."""
    if not isinstance(word, str) or not word:
        return ""
    by_lower = {c.lower(): c for c in reversed(list(choices))}  # the first of names equal but for case wins
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    if not close:
        close = [c for c in by_lower if c.startswith(word.lower())][:2]
        close = close if len(close) == 1 else []
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


class UnknownNameError(UsageError, ValueError):
    """A name no registration declares: a usage error on the command line, a ValueError to library callers."""

    def __init__(self, what: str, name: object, known: Iterable[str], where: str = "") -> None:
        self.what, self.name, self.known, self.where = what, name, tuple(known), where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}unknown {what} {short_repr(name)}{suggest(name, self.known)}; "
                         f"known: {', '.join(self.known) or 'none'}")

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:  # it crosses processes (a row's, a Dask worker's)
        return type(self), (self.what, self.name, self.known, self.where)


class DuplicateNameError(ResgraphError, ValueError):
    """A second registration under a name already taken: the first one stands."""

    def __init__(self, what: str, name: str, first: str = "", second: str = "") -> None:
        self.what, self.name, self.first, self.second = what, name, first, second
        origin = f" (first by {first}, again by {second})" if first and second else ""
        super().__init__(f"{what} {name!r} is registered twice{origin}; the first registration stands: "
                         "give the second another name")

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return type(self), (self.what, self.name, self.first, self.second)


def add(table: MutableMapping[str, V], what: str, name: str, value: V,
        source: Callable[[V], str] | None = None) -> V:
    """Put ``value`` under ``name``, or raise :class:`DuplicateNameError` if the name is taken.

    ``source`` says where a value was registered (its module), for the message.
    """
    if name in table:
        first, second = (source(table[name]), source(value)) if source else ("", "")
        raise DuplicateNameError(what, name, first, second)
    table[name] = value
    return value


def lookup(table: Mapping[str, V], what: str, name: object, where: str = "") -> V:
    """``table[name]``, or :class:`UnknownNameError` naming the known ones (``where``: the option it came from)."""
    try:
        return table[name]  # type: ignore[index]  # any object may be asked for: a non-str misses below
    except (KeyError, TypeError):  # TypeError: an unhashable name (a list from a YAML file)
        raise UnknownNameError(what, name, table, where) from None
