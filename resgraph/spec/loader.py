"""Load a spec: read the file, resolve ``extends:``, validate types, then semantic checks.

Every problem becomes a :class:`~resgraph.errors.Diagnostic` with the file,
line and column where the offending field was written (in the child or in
the parent it came from).
"""

from __future__ import annotations

import os
import difflib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from resgraph.errors import Diagnostic, FieldPath, Location, SpecError
from resgraph.spec.checks import check_spec
from resgraph.spec.extends import merge, merge_positions
from resgraph.spec.model import HeadSpec, InputSpec, ResNetSpec, StageSpec, StemSpec
from resgraph.spec.presets import SPEC_SUFFIXES, preset_names, preset_path, suggest
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


def load_spec(ref: str | Path | ResNetSpec) -> ResNetSpec:
    """A validated spec from a file path or a bundled preset name; raises :class:`SpecError`.

    Warnings (e.g. a feature map collapsed to 1x1) are issued as :class:`SpecWarning`.
    """
    if isinstance(ref, ResNetSpec):
        return ref
    result = check_ref(ref)
    if result.errors:
        raise SpecError(result.errors)
    for w in result.warnings:
        warnings.warn(str(w), SpecWarning, stacklevel=2)
    assert result.spec is not None
    return result.spec


def check_ref(ref: str | Path) -> LoadResult:
    """Load ``ref`` and collect every diagnostic instead of raising on the first."""
    try:
        src = resolve(ref)
    except SpecError as exc:
        return LoadResult(str(ref), None, exc.diagnostics)
    return validate_source(src, str(ref))


def validate_source(src: Source, ref: str = "<string>") -> LoadResult:
    """Type-check then semantically check already-merged spec data."""
    try:
        spec = ResNetSpec.model_validate(src.data)
    except ValidationError as exc:
        return LoadResult(ref, None, pydantic_diagnostics(exc, src))
    diags = [Diagnostic(src.locate(f.path), f.path, f.message, f.received, f.has_received, f.severity)
             for f in check_spec(spec)]
    errors = [d for d in diags if d.severity == "error"]
    return LoadResult(ref, None if errors else spec, diags)


def looks_like_path(ref: str) -> bool:
    """A ref with a folder separator or a spec suffix names a file; anything else a preset."""
    return "/" in ref or "\\" in ref or ref.endswith(SPEC_SUFFIXES)


def resolve(ref: str | Path, base: Path | None = None, chain: tuple[Path, ...] = (),
            where: Location | None = None) -> Source:
    """Read ``ref`` (file or preset) and merge its ``extends:`` chain into one :class:`Source`."""
    text = str(ref)
    candidate = (base / text) if base is not None and not Path(text).is_absolute() else Path(text)
    if isinstance(ref, Path) or looks_like_path(text) or _is_file(candidate):
        path = candidate  # relative to the extending file, never to the current directory
        display = text if base is None else os.path.normpath(path)
        if not _is_file(path):
            raise _not_found(where, display, f"no such spec file: {display}")
    else:
        found = preset_path(text)
        if found is None:
            hint = suggest(text, preset_names())
            raise _not_found(where, text, f"unknown preset '{text}'{hint}; 'resgraph presets' lists them")
        path, display = found, f"preset:{text}"
    key = path.resolve()
    if key in chain:
        cycle = " -> ".join(p.name for p in (*chain, key))
        raise _not_found(where, display, f"extends cycle: {cycle}")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise _not_found(where, display, f"extends chain is more than {MAX_EXTENDS_DEPTH} files deep")
    src = read_source(path, display)
    parent_ref = src.data.pop("extends", None)
    if parent_ref is None:
        return src
    ext_loc = src.positions[("extends",)]
    if not isinstance(parent_ref, str) or not parent_ref:
        raise SpecError.single(display, "must be a preset name or a path to a spec file", ext_loc.line,
                               ext_loc.column, ("extends",), received=parent_ref)
    parent = resolve(parent_ref, path.parent, (*chain, key), ext_loc)
    return Source(merge(parent.data, src.data), merge_positions(parent.positions, src.positions), display)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # e.g. a name too long for the file system: no such file either
        return False


def _not_found(where: Location | None, display: str, message: str) -> SpecError:
    if where is None:
        return SpecError.single(display, message)
    return SpecError.single(where.file, message, where.line, where.column, ("extends",))


# --- pydantic errors -> one-line diagnostics ---------------------------------------------------

_MODELS: dict[tuple[str, ...], type[BaseModel]] = {
    (): ResNetSpec, ("input",): InputSpec, ("stem",): StemSpec, ("head",): HeadSpec, ("stages", "*"): StageSpec,
}


def pydantic_diagnostics(exc: ValidationError, src: Source) -> list[Diagnostic]:
    """One diagnostic per distinct field path, worded for a spec author."""
    out: dict[FieldPath, Diagnostic] = {}
    errors = _drop_mismatched_branches(exc.errors(include_url=False), src.data)
    explained = _typo_targets(errors)
    for err, path in errors:
        if path in out or (err["type"] == "missing" and path in explained):
            continue  # a union reports once per branch; a missing field whose typo is reported already
        message, show_received = _message(err, path)
        out[path] = Diagnostic(src.locate(path), path, message, err.get("input"), show_received)
    return list(out.values())


def _typo_targets(errors: list[tuple[Any, FieldPath]]) -> set[FieldPath]:
    """Fields that an unknown key beside them probably meant (``blcks`` -> ``blocks``)."""
    out = set()
    for err, path in errors:
        if err["type"] == "extra_forbidden" and path:
            close = difflib.get_close_matches(str(path[-1]), _allowed_keys(path[:-1]), n=1, cutoff=0.6)
            out.update(path[:-1] + (c,) for c in close)
    return out


_TYPE_MISMATCH = {"int_type", "bool_type", "string_type", "list_type", "tuple_type", "dict_type", "model_type",
                  "model_attributes_type"}


def _drop_mismatched_branches(errors: list[Any], data: Any) -> list[tuple[Any, FieldPath]]:
    """Each error with its real field path; of a union's branches, keep those that took the value's type.

    ``size: int | [h, w]`` given ``[0, 32]`` fails both branches; "must be a whole number" is the
    wrong complaint, "size[0]: must be >= 1" the right one.
    """
    walked = [(e, *_walk(data, tuple(e["loc"]))) for e in errors]

    def mismatch(e: Any, path: FieldPath, union: FieldPath | None) -> bool:
        return union is not None and path == union and e["type"] in _TYPE_MISMATCH

    matched = {u for e, p, u in walked if u is not None and not mismatch(e, p, u)}
    return [(e, p) for e, p, u in walked if not (u in matched and mismatch(e, p, u))]


def _walk(data: Any, loc: FieldPath) -> tuple[FieldPath, FieldPath | None]:
    """(``loc`` without pydantic's internal parts, the path of the union whose branch ``loc`` took, or None)."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        field = isinstance(part, str) and isinstance(node, dict) and (
            part in node or part in _allowed_keys(tuple(path)) or tuple(path) == ())
        if field:
            path.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif node is None and isinstance(part, str) and len(path) == len(loc) - 1:
            path.append(part)  # a missing field: name it
        elif isinstance(part, str) and node is not None:
            # a union branch's name (``int``, ``tuple[...]``): not a field; the error may lie deeper
            union = tuple(path)
            rest, _ = _walk(node, loc[i + 1:]) if i + 1 < len(loc) else ((), None)
            return union + rest, union
        else:
            break
    return tuple(path), None


def _allowed_keys(parent: FieldPath) -> list[str]:
    key = tuple("*" if isinstance(p, int) else p for p in parent)
    model = _MODELS.get(key)
    return list(model.model_fields) if model else []


def _message(err: dict[str, Any], path: FieldPath) -> tuple[str, bool]:
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "missing":
        return "required field is missing", False
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1])
        return f"unknown key{suggest(str(path[-1]), allowed)}; expected one of: {', '.join(allowed)}", False
    if kind == "literal_error":
        hint = suggest(str(err.get("input")), [s.strip("' ") for s in ctx["expected"].replace(" or ", ", ").split(",")])
        return f"must be one of {ctx['expected']}{hint}", True
    bounds = {"greater_than_equal": ">= {ge}", "less_than_equal": "<= {le}", "greater_than": "> {gt}",
              "less_than": "< {lt}"}
    if kind in bounds:
        return "must be " + bounds[kind].format(**ctx), True
    words = {
        "int_type": "must be a whole number", "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number", "bool_type": "must be true or false",
        "string_type": "must be a string", "list_type": "must be a list", "tuple_type": "must be a list",
        "dict_type": "must be a mapping", "model_type": "must be a mapping", "model_attributes_type": "must be a mapping",
    }
    if kind in words:
        return words[kind], True
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length", ctx.get("max_length"))
        return f"must have {'at least' if kind == 'too_short' else 'at most'} {n} item{'s' if n != 1 else ''}", True
    if kind in ("string_too_short", "string_too_long"):
        return err["msg"].replace("String should", "must"), True
    msg = err["msg"].removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:], True
