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
    for model in (schema, *defs.values()):
        model.pop("required", None)
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "a bundled preset name, or a spec file path relative to this file",
    }
    schema["anyOf"] = [{"required": ["extends"]}, {"required": ["name", "stages"]}]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
