"""Pydantic's validation errors, reworded as one-line diagnostics for a spec author.

Each error is reported once, at the field path the author wrote (pydantic's
internal union branch names removed), with the keys that were allowed there:
for a kind's options (``block``, ``stem``, ``attention``) those of the kind the
author named.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from resgraph.errors import Diagnostic, FieldPath
from resgraph.kinds import KIND_FIELDS
from resgraph.kinds.base import shorthand
from resgraph.spec.model import ResNetSpec
from resgraph.spec.presets import suggest
from resgraph.spec.source import Source

# Fields that were top-level options before the block types took their options with them.
MOVED = {"expansion": "expansion", "bottleneck_stride": "stride_at", "groups": "groups", "base_width": "base_width"}


def pydantic_diagnostics(exc: ValidationError, src: Source) -> list[Diagnostic]:
    """One diagnostic per distinct field path, worded for a spec author."""
    out: dict[FieldPath, Diagnostic] = {}
    errors = _drop_mismatched_branches(exc.errors(include_url=False), src.data)
    explained = _typo_targets(errors, src.data)
    for err, path in errors:
        if path in out or (err["type"] == "missing" and path in explained):
            continue  # a union reports once per branch; a missing field whose typo is reported already
        message, show_received, path, received = _message(err, path, src.data)
        out[path] = Diagnostic(src.locate(path), path, message, received, show_received)
    # A stage's block inherits the network's options: an error in one of those is the network's, said once.
    return [d for p, d in out.items()
            if not (len(p) > 3 and p[0] == "stages" and p[2] == "block" and ("block", *p[3:]) in out)]


def _typo_targets(errors: list[tuple[Any, FieldPath]], data: Any) -> set[FieldPath]:
    """Fields that an unknown key beside them probably meant (``blcks`` -> ``blocks``)."""
    out: set[FieldPath] = set()
    for err, path in errors:
        if err["type"] == "extra_forbidden" and path:
            close = difflib.get_close_matches(str(path[-1]), allowed_keys(path[:-1], data), n=1, cutoff=0.6)
            out.update(path[:-1] + (c,) for c in close)
    return out


_TYPE_MISMATCH = {"int_type", "bool_type", "string_type", "list_type", "tuple_type", "dict_type", "model_type",
                  "model_attributes_type", "float_type"}


def _drop_mismatched_branches(errors: list[Any], data: Any) -> list[tuple[Any, FieldPath]]:
    """Each error with its real field path; of a union's branches, keep those that took the value's type.

    ``size: int | [h, w]`` given ``[0, 32]`` fails both branches; "must be a whole number" is the
    wrong complaint, "size[0]: must be >= 1" the right one.
    """
    walked = [(e, *_walk(data, tuple(e["loc"]), data)) for e in errors]

    def mismatch(e: Any, path: FieldPath, union: FieldPath | None) -> bool:
        return union is not None and path == union and e["type"] in _TYPE_MISMATCH

    matched = {u for e, p, u in walked if u is not None and not mismatch(e, p, u)}
    return [(e, p) for e, p, u in walked if not (u in matched and mismatch(e, p, u))]


def _walk(node: Any, loc: FieldPath, root: Any, prefix: FieldPath = ()) -> tuple[FieldPath, FieldPath | None]:
    """(``loc`` without pydantic's internal parts, the path of the union whose branch ``loc`` took, or None).

    ``prefix`` is where ``node`` sits in ``root``: allowed keys are looked up by absolute path.
    """
    path: list[str | int] = list(prefix)
    for i, part in enumerate(loc):
        here = tuple(path)
        field = isinstance(part, str) and isinstance(node, dict) and (
            part in node or part in allowed_keys(here, root) or here == ())
        if field:
            path.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif node is None and isinstance(part, str) and i == len(loc) - 1:
            path.append(part)  # a missing field: name it
        elif isinstance(part, str) and node is not None:
            # a union branch's name (``int``, ``tuple[...]``, a kind's tag): not a field; the error may lie deeper
            rest, _ = _walk(node, loc[i + 1:], root, here) if i + 1 < len(loc) else (here, None)
            return rest, here
        else:
            break
    return tuple(path), None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation can hold (through Optional, list, Annotated, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def model_at(path: FieldPath, data: Any) -> type[BaseModel] | None:
    """The model that validates the mapping at ``path`` of ``data``; for a kind, the kind the data names."""
    model: type[BaseModel] = ResNetSpec
    node = data
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        info = model.model_fields.get(str(part))
        if info is None:
            return None
        node = shorthand(node.get(part)) if isinstance(node, dict) else None
        candidates = _models_in(info.annotation)
        if len(candidates) > 1:  # a kind: the one whose `type` the data names
            tag = node.get("type") if isinstance(node, dict) else None
            if tag is None and part == "block" and isinstance(data, dict):  # a stage refining the network's block
                tag = shorthand(data.get("block", "basic")).get("type") if data.get("block") != {} else None
            candidates = [m for m in candidates if typing.get_args(m.model_fields["type"].annotation) == (tag,)]
        if len(candidates) != 1:
            return None
        model = candidates[0]
    return model


def allowed_keys(parent: FieldPath, data: Any) -> list[str]:
    model = model_at(parent, data)
    return list(model.model_fields) if model else []


def _kind_registry(path: FieldPath) -> Any:
    """The registry whose kinds a field at ``path`` names (None if it names none)."""
    last = path[-1] if path else None
    return KIND_FIELDS.get(last) if isinstance(last, str) else None


def _owners(key: str, registry: Any) -> list[str]:
    return [k.name for k in registry if key in k.Options.model_fields]


def _value_at(data: Any, path: FieldPath) -> Any:
    for part in path:
        if isinstance(part, int) and isinstance(data, list) and part < len(data):
            data = data[part]
        elif isinstance(part, str) and isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def _message(err: dict[str, Any], path: FieldPath, data: Any) -> tuple[str, bool, FieldPath, Any]:
    """(message, whether to show the received value, the path to report, the received value)."""
    kind, ctx, received = err["type"], err.get("ctx", {}), err.get("input")
    if kind == "missing":
        return "required field is missing", False, path, received
    if kind == "extra_forbidden":
        return _unknown_key(path, data), False, path, received
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        registry = _kind_registry(path)
        names = list(registry.names()) if registry else []
        choices = ", ".join(names) or ctx.get("expected_tags", "")
        if kind == "union_tag_not_found":
            return f"needs a `type`: one of {choices}", True, path, received
        where = path if isinstance(_value_at(data, path), str) else path + ("type",)
        tag = _value_at(data, where)  # as written (null, 5), not pydantic's text of it
        what = registry.what if registry else "kind"
        return f"unknown {what}; must be one of {choices}{suggest(str(tag), names)}", True, where, tag
    if kind == "literal_error":
        hint = suggest(str(received), [s.strip("' ") for s in ctx["expected"].replace(" or ", ", ").split(",")])
        if path == ("shortcut",) and str(received).lower() in ("none", "no", "off", "plain", "false"):
            hint = " (a network without shortcuts is `residual: false`: the paper's plain net)"
        return f"must be one of {ctx['expected']}{hint}", True, path, received
    bounds = {"greater_than_equal": ">= {ge}", "less_than_equal": "<= {le}", "greater_than": "> {gt}",
              "less_than": "< {lt}"}
    if kind in bounds:
        return "must be " + bounds[kind].format(**ctx), True, path, received
    words = {
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_type": "must be true or false",
        "float_type": "must be a number",
        "finite_number": "must be a finite number",
        "string_type": "must be a string",
        "list_type": "must be a list",
        "tuple_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
    }
    if kind in ("model_type", "model_attributes_type") and (registry := _kind_registry(path)) is not None:
        return f"must be a {registry.what} name or a mapping with `type`", True, path, received
    if kind in words:
        return words[kind], True, path, received
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length", ctx.get("max_length"))
        many = f"{'at least' if kind == 'too_short' else 'at most'} {n} item{'s' if n != 1 else ''}"
        return f"must have {many}", True, path, received
    if kind in ("string_too_short", "string_too_long"):
        return err["msg"].replace("String should", "must"), True, path, received
    msg = err["msg"].removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:], True, path, received


def _unknown_key(path: FieldPath, data: Any) -> str:
    key, parent = str(path[-1]), path[:-1]
    allowed = allowed_keys(parent, data)
    if parent == () and key in MOVED:
        value = _value_at(data, (key,))
        shown = value if isinstance(value, (int, str)) and not isinstance(value, bool) else "..."
        return (f"unknown key: `{key}` is an option of the bottleneck block now; write "
                f"`block: {{type: bottleneck, {MOVED[key]}: {shown}}}`")
    registry = _kind_registry(parent)
    model = model_at(parent, data)
    if registry is not None and model is not None:
        tag = typing.get_args(model.model_fields["type"].annotation)[0]
        owners = _owners(key, registry)
        if owners:
            return (f"`{key}` is not an option of {registry.what} {tag!r} (it belongs to "
                    f"{', '.join(repr(o) for o in owners)}); {tag!r} takes: {', '.join(allowed)}")
    shown = f" {key!r}" if not key.isprintable() or not key.strip() else ""  # the path cannot show it
    return f"unknown key{shown}{suggest(key, allowed)}; expected one of: {', '.join(allowed)}"
