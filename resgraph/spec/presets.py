"""Bundled presets: the YAML files of the top-level ``specs/`` folder, found by name.

In a wheel they are shipped as ``resgraph/_specs`` (see pyproject.toml); in a
source checkout or editable install they are read from ``specs/`` directly.
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


@cache
def presets_dir() -> Path:
    """The folder holding the bundled preset files."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_specs", here.parent / "specs"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("resgraph's bundled specs are missing from this installation")


def preset_names() -> list[str]:
    """Names of all bundled presets, sorted."""
    return sorted(p.stem for p in presets_dir().iterdir() if p.suffix in SPEC_SUFFIXES)


def preset_path(name: str) -> Path | None:
    """The file of preset ``name``, or None if there is no such preset."""
    for suffix in SPEC_SUFFIXES:
        path = presets_dir() / f"{name}{suffix}"
        try:
            if path.is_file():
                return path
        except OSError:  # a name too long for the file system
            return None
    return None


def suggest(word: str, choices: list[str]) -> str:
    """' (did you mean X?)' for a close match, else ''."""
    same_case = [c for c in choices if c.lower() == word.lower()]
    close = same_case or difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
