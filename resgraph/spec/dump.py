"""Write a spec back to YAML or JSON that loads to an equal spec."""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml

from resgraph.spec.model import ResNetSpec


def spec_data(spec: ResNetSpec) -> dict[str, Any]:
    """Plain data of ``spec``, every field explicit (unset overrides omitted)."""
    return spec.model_dump(mode="json", exclude_none=True)


def dump_spec(spec: ResNetSpec, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """``spec`` as YAML or JSON text, fields in schema order."""
    data = spec_data(spec)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True)
    if yaml.safe_load(text) != data:  # PyYAML writes NEL (U+0085) raw in quoted text, where it reads back as a space
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100, allow_unicode=False)
    return text
