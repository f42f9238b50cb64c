"""Write a spec back to YAML or JSON that loads to an equal spec."""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml

from resgraph.spec.model import ResNetSpec
from resgraph.spec.source import _BOOL_1_2, _FLOAT_1_2, _INT_1_2


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, also quoting text that the loader's YAML 1.2 rules would read as a number.

    PyYAML writes ``0E0`` or ``010`` plain, as YAML 1.1 reads them as text; resgraph reads YAML 1.2,
    where they are a float and ten. A resolver here makes the representer quote them.
    """


_Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_1_2, list("tTfF"))
_Dumper.add_implicit_resolver("tag:yaml.org,2002:int", _INT_1_2, list("-+0123456789"))
_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789."))


def spec_data(spec: ResNetSpec) -> dict[str, Any]:
    """Plain data of ``spec``, every field explicit (unset overrides omitted)."""
    return spec.model_dump(mode="json", exclude_none=True)


def dump_spec(spec: ResNetSpec, fmt: Literal["yaml", "json"] = "yaml") -> str:
    """``spec`` as YAML or JSON text, fields in schema order."""
    data = spec_data(spec)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    options: dict[str, Any] = {"Dumper": _Dumper, "sort_keys": False, "default_flow_style": None, "width": 100}
    text = yaml.dump(data, allow_unicode=True, **options)
    if yaml.safe_load(text) != data:  # PyYAML writes NEL (U+0085) raw in quoted text, where it reads back as a space
        text = yaml.dump(data, allow_unicode=False, **options)
    return text
