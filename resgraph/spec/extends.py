"""``extends:``: build a spec on a bundled preset or another file.

Merge rules (child over parent), applied recursively:

* mapping + mapping: merged key by key; a key set to ``null`` in the child is
  removed, so the field falls back to its default;
* list of mappings + list (``stages``): merged item by item; the
  result has the child's length (``stages: [{blocks: 3}, {blocks: 24}, ...]``
  changes only the block counts; extra child items are taken as written;
  parent items beyond the child's list are dropped);
* a kind's mapping (``stem``, ``block``, a stage's ``block``, ``attention``)
  whose ``type`` the child changes is replaced, not merged: the parent's
  options belonged to the other kind;
* anything else: the child's value replaces the parent's.

A kind's bare name is read as its mapping before merging (``stem: imagenet``
as ``stem: {type: imagenet}``), so a child may change only ``stem.width``, or
add ``block: {attention: se}`` to a parent's bottleneck.
"""

from __future__ import annotations

from typing import Any

from resgraph.errors import FieldPath, Location
from resgraph.kinds import KIND_FIELDS


def without_nulls(data: Any) -> Any:
    """``data`` with every mapping key set to ``null`` removed: ``null`` means "the default", in any file."""
    if isinstance(data, dict):
        return {k: without_nulls(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [without_nulls(v) for v in data]
    return data


def merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child spec data laid over parent spec data, by the rules above."""
    return _merge_value(_normalise(parent), _normalise(child))


def merge_positions(parent_positions: dict[FieldPath, Location], child_positions: dict[FieldPath, Location],
                    parent: dict[str, Any], child: dict[str, Any]) -> dict[FieldPath, Location]:
    """Where each merged field was written: the child's file wins where it wrote the field.

    Where the child replaced a value (another kind, a scalar over a mapping, a shorter list),
    the parent's positions inside it are dropped: an error there points at the child's line.
    """
    replaced = _replaced(_normalise(parent), _normalise(child), ())
    kept = {p: loc for p, loc in parent_positions.items()
            if not any(len(p) > len(r) and p[:len(r)] == r for r in replaced)}
    return {**kept, **child_positions}


def _replaced(parent: Any, child: Any, path: FieldPath) -> list[FieldPath]:
    """The paths at which ``child`` replaces ``parent``'s value instead of merging into it (see the rules)."""
    if isinstance(parent, dict) and isinstance(child, dict):
        if "type" in child and "type" in parent and child["type"] != parent["type"]:
            return [path]
        out: list[FieldPath] = []
        for key, value in child.items():
            if value is None or key not in parent:
                out.append(path + (key,))
            else:
                out += _replaced(parent[key], value, path + (key,))
        return out
    if _is_list_of_maps(parent) and isinstance(child, list):
        out = []
        for i, item in enumerate(child):
            out += (
                _replaced(parent[i], item, path + (i,)) if i < len(parent) and isinstance(item, dict) else [path + (i,)]
            )
        return out + [path + (i,) for i in range(len(child), len(parent))]
    return [path]


def _normalise(data: Any) -> Any:
    """``data`` with every kind's bare name spelled as ``{type: name}``."""
    if isinstance(data, list):
        return [_normalise(v) for v in data]
    if not isinstance(data, dict):
        return data
    return {k: {"type": v} if k in KIND_FIELDS and isinstance(v, str) else _normalise(v) for k, v in data.items()}


def _merge_value(parent: Any, child: Any) -> Any:
    if isinstance(parent, dict) and isinstance(child, dict):
        if "type" in child and "type" in parent and child["type"] != parent["type"]:
            return child  # another kind: the parent's options do not apply to it
        out = dict(parent)
        for key, value in child.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge_value(parent.get(key), value)
        return out
    if _is_list_of_maps(parent) and isinstance(child, list):
        # Item by item; an item that is no mapping is taken as written, so its own error names it.
        return [_merge_value(parent[i], item) if i < len(parent) and isinstance(item, dict) else item
                for i, item in enumerate(child)]
    return child


def _is_list_of_maps(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)
