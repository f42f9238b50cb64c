"""Load a spec: read the file, resolve ``extends:``, validate types, then semantic checks.

Every problem becomes a :class:`~resgraph.errors.Diagnostic` with the file,
line and column where the offending field was written (in the child or in
the parent it came from).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from resgraph.errors import Diagnostic, Location, SpecError
from resgraph.spec.checks import Finding, SpecCheck, check_spec
from resgraph.spec.diagnose import pydantic_diagnostics
from resgraph.spec.extends import merge, merge_positions, without_nulls
from resgraph.spec.model import ResNetSpec
from resgraph.spec.presets import SPEC_SUFFIXES, preset_names, preset_path, presets_dir, suggest
from resgraph.spec.source import Source, read_source

MAX_EXTENDS_DEPTH = 16


class SpecWarning(UserWarning):
    """A spec that loads but is probably not what the author meant."""


@dataclass
class LoadResult:
    """The outcome of loading one spec: the spec (None on error) and every diagnostic found."""

    ref: str
    spec: ResNetSpec | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity != "error"]


def load_spec(ref: str | Path | ResNetSpec, *, checks: Sequence[SpecCheck] = ()) -> ResNetSpec:
    """A validated spec from a file path or a bundled preset name; raises :class:`SpecError`.

    Warnings (e.g. a feature map collapsed to 1x1) are issued as :class:`SpecWarning`.
    ``checks`` are a later stage's rules, run after the spec's own (see
    :func:`resgraph.graph.load_spec`, which adds the size guard).
    """
    if isinstance(ref, ResNetSpec):
        return ref
    result = check_ref(ref, checks=checks)
    if result.errors:
        raise SpecError(result.errors)
    for w in result.warnings:
        warnings.warn(str(w), SpecWarning, stacklevel=2)
    assert result.spec is not None
    return result.spec


def check_ref(ref: str | Path, *, checks: Sequence[SpecCheck] = ()) -> LoadResult:
    """Load ``ref`` and collect every diagnostic instead of raising on the first."""
    try:
        src = resolve(ref)
    except SpecError as exc:
        return LoadResult(str(ref), None, exc.diagnostics)
    return validate_source(src, str(ref), checks=checks)


def validate_source(src: Source, ref: str = "<string>", *, checks: Sequence[SpecCheck] = ()) -> LoadResult:
    """Type-check then semantically check already-merged spec data (the spec's rules, then ``checks``)."""
    try:
        spec = ResNetSpec.model_validate(src.data)
    except ValidationError as exc:
        return LoadResult(ref, None, _in_file_order(pydantic_diagnostics(exc, src), src.file))
    found = [_told_where_written(src, f) for f in check_spec(spec, checks)]
    diags = [Diagnostic(_where(src, f), f.path, f.message, f.received, f.has_received, f.severity) for f in found]
    errors = [d for d in diags if d.severity == "error"]
    return LoadResult(ref, None if errors else spec, diags)


def _told_where_written(src: Source, f: Finding) -> Finding:
    """``f``, or its other telling when a parent wrote ``f``'s field and the named file the other one."""
    if f.instead is not None and src.locate(f.path).file != src.file and src.locate(f.instead.path).file == src.file:
        return f.instead
    return f


def _where(src: Source, f: Finding) -> Location:
    """Where a finding points: its field, or the named file's top when a parent wrote the field it blames."""
    loc = src.locate(f.path)
    if not f.own_file or loc.file == src.file:
        return loc
    # A parent wrote the field; the named file changed something that made it a problem: point there,
    # at its input size when it wrote one (what usually collapses a parent's stages), else at its top.
    size = src.locate(("input", "size"))
    return size if size.file == src.file and size.line else src.locate(())


def _in_file_order(diags: list[Diagnostic], file: str) -> list[Diagnostic]:
    """The named file's diagnostics by line and column, then those its parents caused."""
    return sorted(diags, key=lambda d: (d.location.file != file, d.location.line, d.location.column))


def looks_like_path(ref: str) -> bool:
    """A ref with a folder separator or a spec suffix names a file; anything else a preset."""
    return "/" in ref or "\\" in ref or ref.endswith(SPEC_SUFFIXES)


# Folders beyond the spec's own that `extends:` may reach: `resgraph --allow-extends DIR`, or allow_extends().
_EXTRA_ROOTS: ContextVar[tuple[Path, ...]] = ContextVar("extends_roots", default=())


@contextlib.contextmanager
def allow_extends(*folders: str | os.PathLike[str]) -> Iterator[None]:
    """Within this block, ``extends:`` may also reach files under ``folders`` (and their sub-folders)."""
    token = _EXTRA_ROOTS.set(_EXTRA_ROOTS.get() + tuple(Path(f).resolve() for f in folders))
    try:
        yield
    finally:
        _EXTRA_ROOTS.reset(token)


def resolve(ref: str | Path, base: Path | None = None, chain: tuple[Path, ...] = (),
            where: Location | None = None, roots: tuple[Path, ...] = ()) -> Source:
    """Read ``ref`` (file or preset) and merge its ``extends:`` chain into one :class:`Source`.

    What ``extends:`` may reach: bundled presets by name, and spec files (``.yaml``,
    ``.yml``, ``.json``) under the folder of the spec the user named, or under a
    folder allowed with :func:`allow_extends`. A parent outside them is refused
    before it is read, so a shared spec cannot make resgraph read (and print)
    another file on the machine.
    """
    text = str(ref)
    if isinstance(ref, Path) or looks_like_path(text):
        path = (base / text) if base is not None and not Path(text).is_absolute() else Path(text)
        display = text if base is None else os.path.normpath(path)
        if "\0" in text:
            raise _not_found(where, display, "not a spec file: the name holds a NUL byte")
        if not text.endswith(SPEC_SUFFIXES):
            raise _not_found(where, display, f"not a spec file: {display} (a spec file's name ends in "
                             f"{', '.join(SPEC_SUFFIXES)})")
        if roots and not _within(path, roots):  # before looking: nothing is said of files outside
            raise _not_found(where, display, f"{display} is outside the folders a spec may extend from "
                             f"({', '.join(str(r) for r in roots if r != presets_dir().resolve())} and the "
                             "presets); allow another with 'resgraph --allow-extends DIR'")
        if not _exists(path):
            raise _not_found(where, display, f"no such spec file: {display}")
    else:
        found = preset_path(text)
        if found is None:
            hint = suggest(text, preset_names())
            raise _not_found(where, text, f"unknown preset '{text}'{hint}; 'resgraph presets' lists them")
        path, display = found, f"preset:{text}"
    key = path.resolve()
    if not roots:  # the spec the user named: its folder as named (a preset's: the presets) bounds the chain
        roots = (path.absolute().parent.resolve(), presets_dir().resolve(), *_EXTRA_ROOTS.get())
    if key in chain:
        cycle = " -> ".join(p.name for p in (*chain, key))
        raise _not_found(where, display, f"extends cycle: {cycle}")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise _not_found(where, display, f"extends chain is more than {MAX_EXTENDS_DEPTH} files deep")
    src = read_source(path, display, roots if where is not None else ())  # a parent: checked on the open file
    parent_ref = src.data.pop("extends", None)
    if parent_ref is None:
        return Source(without_nulls(src.data), src.positions, display)
    ext_loc = src.positions[("extends",)]
    if not isinstance(parent_ref, str) or not parent_ref:
        raise SpecError.single(display, "must be a preset name or a path to a spec file", ext_loc.line,
                               ext_loc.column, ("extends",), received=parent_ref)
    parent = resolve(parent_ref, path.parent, (*chain, key), ext_loc, roots)
    return Source(merge(parent.data, src.data), merge_positions(parent.positions, src.positions, parent.data, src.data),
                  display)


def _within(path: Path, roots: tuple[Path, ...]) -> bool:
    """Whether ``path``, symbolic links followed, lies under one of ``roots``."""
    try:
        key = path.resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
        return False
    return any(key.is_relative_to(r) for r in roots)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # e.g. a name too long for the file system: no such file either
        return False


def _not_found(where: Location | None, display: str, message: str) -> SpecError:
    if where is None:
        return SpecError.single(display, message)
    return SpecError.single(where.file, message, where.line, where.column, ("extends",))
