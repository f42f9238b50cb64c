"""The spec language: pydantic models, YAML/JSON loading with precise errors, presets."""

from resgraph.spec.dump import dump_spec
from resgraph.spec.loader import LoadResult, SpecWarning, allow_extends, check_ref, load_spec
from resgraph.spec.model import HeadSpec, InputSpec, ResNetSpec, StageSpec
from resgraph.spec.presets import preset_names

__all__ = [
    "HeadSpec", "InputSpec", "LoadResult", "allow_extends", "ResNetSpec", "SpecWarning", "StageSpec",
    "check_ref", "dump_spec", "load_spec", "preset_names",
]
