"""`resgraph schema`: a valid JSON Schema that accepts every bundled preset file and rejects bad ones."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from jsonschema import Draft202012Validator
from spec_helpers import BASE, PRESET_FILES, edit, run_cli
from spec_strategies import valid_specs

from resgraph.kinds import BLOCKS, SHORTCUTS, STEMS
from resgraph.spec import load_spec, preset_names
from resgraph.spec.dump import spec_data
from resgraph.spec.schema import spec_json_schema


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    run = run_cli("schema")
    assert run.code == 0, run.output
    schema = json.loads(run.stdout)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(validator: Draft202012Validator, data: Any) -> list[str]:
    return [e.message for e in validator.iter_errors(data)]


def test_schema_command_prints_the_module_schema():
    schema = json.loads(run_cli("schema").stdout)
    assert schema == spec_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert {"name", "extends", "input", "stem", "block", "residual", "shortcut", "stages", "head",
            "drop_path", "zero_init_residual"} <= set(props)
    assert all(p.get("description") for k, p in props.items()), "every field documents itself for editors"


def test_schema_offers_every_registered_kind_with_its_own_options():
    schema = spec_json_schema()
    props, defs = schema["properties"], schema["$defs"]
    for field, registry in (("block", BLOCKS), ("stem", STEMS)):
        names, *models = [m for m in props[field]["anyOf"] if m != {"type": "null"}]
        assert names["enum"] == list(registry.names())
        tags = [defs[m["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["const"] for m in models]
        assert tags == list(registry.names())
    assert props["shortcut"]["enum"] == [*SHORTCUTS.names(), None]  # null: the default
    assert {"expansion", "stride_at", "groups", "base_width", "attention"} <= set(defs["BottleneckOptions"]["properties"])
    assert set(defs["BasicOptions"]["properties"]) == {"type", "attention"}
    for model in ("BottleneckOptions", "SEOptions", "DeepStemOptions"):
        assert all(p.get("description") for k, p in defs[model]["properties"].items() if k != "type"), model


@pytest.mark.parametrize("path", PRESET_FILES, ids=[p.stem for p in PRESET_FILES])
def test_every_raw_preset_file_validates(validator, path):
    data = yaml.safe_load(path.read_text())
    assert errors(validator, data) == []


def test_raw_presets_include_extends_files():
    assert sum("extends" in yaml.safe_load(p.read_text()) for p in PRESET_FILES) >= 10


@pytest.mark.parametrize("name", preset_names())
def test_every_resolved_preset_validates(validator, name):
    assert errors(validator, spec_data(load_spec(name))) == []


def test_readme_style_variant_validates(validator):
    data = {"extends": "resnet50", "name": "resnet200",
            "stages": [{"blocks": 3}, {"blocks": 24}, {"blocks": 36}, {"blocks": 3}]}
    assert errors(validator, data) == []


@pytest.mark.parametrize("data, fragment", [
    (yaml.safe_load(edit("shortcut: B", "shortcuts: B")), "'shortcuts' was unexpected"),
    (yaml.safe_load(edit("blocks: 2, width: 128", "blcks: 2, width: 128")), "'blcks' was unexpected"),
    (yaml.safe_load(edit("shortcut: B", "shortcut: E")), "'E' is not one of"),
    (yaml.safe_load(edit("block: basic", "block: {type: basic, groups: 32}")),
     "is not valid under any of the given schemas"),
    (yaml.safe_load(edit("block: basic", "block: preact")), "is not valid under any of the given schemas"),
    (yaml.safe_load(edit("stem: imagenet", "stem: imgnet")), "is not valid under any of the given schemas"),
    (yaml.safe_load(edit("blocks: 2, width: 128", "blocks: three, width: 128")), "'three' is not of type 'integer'"),
    (yaml.safe_load(edit("blocks: 2, width: 128", "blocks: 0, width: 128")), "0 is less than the minimum of 1"),
    (yaml.safe_load(edit("classes: 10", "classes: 10, extra: 1")), "'extra' was unexpected"),
    ({"block": "basic"}, "is not valid under any of the given schemas"),  # neither extends nor name+stages
    ({"extends": 5}, "5 is not of type 'string'"),
])
def test_bad_files_are_rejected(validator, data, fragment):
    found = errors(validator, data)
    assert any(fragment in m for m in found), found


def test_base_test_spec_is_accepted(validator):
    assert errors(validator, yaml.safe_load(BASE)) == []


@settings(max_examples=100, deadline=None)
@given(spec=valid_specs)
def test_every_dumped_valid_spec_validates(spec):
    validator = Draft202012Validator(spec_json_schema())
    assert errors(validator, spec_data(spec)) == []


# The schema (what editors and check-jsonschema say) and `validate` agree on each of these.
AGREEMENT = [
    ("extends: resnet18\nname: x\nshortcut: null\n", True),   # null drops the parent's value
    ("name: x\nshortcut: null\nstages: [{blocks: 1, width: 8}]\n", True),  # null is the default
    ("extends: resnet18\nname: x\nresidual: yes\n", False),  # YAML 1.2: `yes` is text
    ("extends: resnet18\nname: x\nresidual: false\n", True),
    ("name: x\nstages: [{blocks: 1}]\n", False),  # no parent: a stage needs its width
    ("extends: resnet18\nname: x\nstages: [{blocks: 1}, {}, {}, {}]\n", True),
    ("name: x\nblock: {type: basic, groups: 2}\nstages: [{blocks: 1, width: 8}]\n", False),
    ("name: x\nblock: {type: bottleneck, groups: 2}\nstages: [{blocks: 1, width: 8}]\n", True),
    ("name: x\nstem: {type: deep, mid: [16, 16]}\nstages: [{blocks: 1, width: 8}]\n", True),
    ("name: x\ndrop_path: 1.5\nstages: [{blocks: 1, width: 8}]\n", False),
]


@pytest.mark.parametrize("text, valid", AGREEMENT)
def test_schema_and_validate_agree(validator, write, text, valid):
    path = write("agree.yaml", text)
    assert (run_cli("validate", str(path)).code == 0) is valid
    assert (errors(validator, yaml.safe_load(text.replace("residual: yes", "residual: 'yes'"))) == []) is valid


def test_the_one_known_difference_integral_floats():
    # JSON Schema's "integer" admits 2.0; validate keeps counts whole numbers as written (README says so).
    validator = Draft202012Validator(spec_json_schema())
    assert errors(validator, {"name": "x", "stages": [{"blocks": 2.0, "width": 8}]}) == []
