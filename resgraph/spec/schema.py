"""JSON Schema of spec *files*, for editors: the model's schema plus what files may also say."""

from __future__ import annotations

from typing import Any

from resgraph.spec.model import ResNetSpec


def spec_json_schema() -> dict[str, Any]:
    """Schema accepting ``extends:``, a kind's bare name (``stem: imagenet``), and partial variant files.

    A file either extends a parent (then every field is optional) or names
    ``name`` and ``stages`` itself; nested required fields are relaxed for the
    same reason (``stages: [{blocks: 3}]`` is a complete variant). The kinds and
    their options come from the registries, through the model's schema.
    """
    schema = ResNetSpec.model_json_schema()
    defs = schema.get("$defs", {})
    for d in defs.values():
        if d.get("type") == "object":
            d["type"] = ["object", "null"]
    for model in (schema, *defs.values()):
        model.pop("required", None)
        for name, prop in model.get("properties", {}).items():  # `key: null` means the default (in a variant:
            model["properties"][name] = _nullable(prop)            # drop the parent's value)
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "a bundled preset name, or a spec file path relative to this file",
    }
    schema["anyOf"] = [{"required": ["extends"]}, {"required": ["name", "stages"]}]
    # Without a parent, every stage says its own blocks and width.
    schema["if"] = {"not": {"required": ["extends"]}}
    schema["then"] = {"properties": {"stages": {"items": {"required": ["blocks", "width"]}}}}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    """``prop`` also accepting null, said so that validators keep their precise messages for other values."""
    prop = dict(prop)
    if isinstance(prop.get("type"), str) and "const" not in prop:
        prop["type"] = [prop["type"], "null"]
        if "enum" in prop:
            prop["enum"] = [*prop["enum"], None]
    elif "anyOf" in prop:
        if {"type": "null"} not in prop["anyOf"]:
            prop["anyOf"] = [*prop["anyOf"], {"type": "null"}]
    return prop  # a $ref: the definitions themselves accept null
