"""Property-based tests: valid specs round-trip through dump/load; corrupted input only ever raises SpecError."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_helpers import PRESET_FILES, run_cli
from spec_strategies import spec_dicts, valid_specs

from resgraph.errors import SpecError
from resgraph.spec import ResNetSpec, dump_spec, load_spec, preset_names
from resgraph.spec.checks import check_spec
from resgraph.spec.dump import spec_data
from resgraph.spec.loader import validate_source
from resgraph.spec.source import Source, parse_source

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(spec=valid_specs, fmt=st.sampled_from(["yaml", "json"]))
def test_dump_then_load_gives_an_equal_spec(spec, fmt):
    text = dump_spec(spec, fmt)
    result = validate_source(parse_source(text.encode("utf-8"), f"dumped.{fmt}"))
    assert result.errors == []
    assert result.spec == spec
    assert dump_spec(result.spec, fmt) == text  # and the dump is stable


@pytest.mark.parametrize("name", ["0E0", "1e5", "010", "0o17", "0x1F", "True", "FALSE", "-3"])
def test_names_that_yaml_1_2_reads_as_numbers_are_quoted(name):
    """Found by the property above: PyYAML (YAML 1.1) wrote `name: 0E0` plain; resgraph reads it as a float."""
    from resgraph.spec import load_spec

    spec = load_spec("resnet20").model_copy(update={"name": name})
    result = validate_source(parse_source(dump_spec(spec).encode("utf-8"), "dumped.yaml"))
    assert result.errors == [] and result.spec == spec


@settings(max_examples=60, deadline=None)
@given(spec=valid_specs)
def test_round_trip_through_files_and_load_spec(spec, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rt")
    for fmt in ("yaml", "json"):
        path = folder / f"spec.{fmt}"
        path.write_text(dump_spec(spec, fmt), encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert load_spec(path) == spec


@SETTINGS
@given(data=spec_dicts())
def test_generated_data_either_loads_or_fails_with_located_findings(data):
    result = validate_source(Source(data, {}, "gen.yaml"))
    if result.errors:
        assert result.spec is None
        assert all(str(d).startswith("gen.yaml") for d in result.errors)
    else:
        assert result.spec is not None
        assert not [f for f in check_spec(result.spec) if f.severity == "error"]


@pytest.mark.parametrize("name", preset_names())
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_every_preset_round_trips(name, fmt):
    spec = load_spec(name)
    result = validate_source(parse_source(dump_spec(spec, fmt).encode(), f"p.{fmt}"))
    assert result.spec == spec


@pytest.mark.parametrize("name", ["caf\u00e9", " lead", "null", "3x3", "- x", "a: b", "=HYPERLINK(1)", "<b>&"])
def test_awkward_names_round_trip(name):
    spec = load_spec("resnet20").model_copy(update={"name": name})
    for fmt in ("yaml", "json"):
        assert validate_source(parse_source(dump_spec(spec, fmt).encode(), f"n.{fmt}")).spec == spec


@pytest.mark.parametrize("name", ["a\x85", "\x85", "x\u2028y", "a\nFAIL  x.yaml: 0 errors", "\x1b[31mred", "nul\x00",
                                  "tab\t", "   "])
def test_names_that_would_forge_or_garble_output_are_refused(name):
    # Description text may hold anything; a name is printed on terminals and written into tables and XML.
    spec = load_spec("resnet20").model_copy(update={"name": name})
    for fmt in ("yaml", "json"):
        result = validate_source(parse_source(dump_spec(spec, fmt).encode(), f"n.{fmt}"))
        assert [d.path for d in result.errors] == [("name",)]
        assert all(len(str(d).splitlines()) == 1 for d in result.errors)


def test_non_ascii_text_stays_readable_in_yaml():
    spec = load_spec("resnet20").model_copy(update={"description": "caf\u00e9 \u2192 ResNet"})
    assert "description: caf\u00e9 \u2192 ResNet\n" in dump_spec(spec)


def test_characters_beyond_the_bmp_survive_json():
    # json.dumps writes U+1F600 as the surrogate pair \\ud83d\\ude00; the loader must join it again.
    spec = load_spec("resnet20").model_copy(update={"name": "net \U0001F600", "description": "\U00010348 \u2028 x"})
    for fmt in ("yaml", "json"):
        result = validate_source(parse_source(dump_spec(spec, fmt).encode(), f"e.{fmt}"))
        assert result.spec == spec, result.diagnostics
    hand = b'{"name": "a\\ud83d\\ude00", "stages": [{"blocks": 1, "width": 8}]}'
    assert validate_source(parse_source(hand, "h.json")).spec.name == "a\U0001F600"
    lone = b'{"name": "a\\ud83d", "stages": [{"blocks": 1, "width": 8}]}'
    assert validate_source(parse_source(lone, "l.json")).errors  # a lone surrogate is an error, not a crash


# --- corruptions: only SpecError, never anything else -------------------------------------------------

SEED_TEXTS = [p.read_text(encoding="utf-8") for p in PRESET_FILES if "extends" not in p.read_text()]
SEED_TEXTS += [
    "extends: resnet50\nname: resnet200\nstages: [{blocks: 3}, {blocks: 24}, {blocks: 36}, {blocks: 3}]\n",
    json.dumps(spec_data(load_spec("resnet56")), indent=1),
    dump_spec(load_spec("resnext50_32x4d")),
    dump_spec(load_spec("ecaresnet50d")),
    dump_spec(load_spec("preact_resnet164")),
]
NOISE = list("{}[],:-#&*!|>'\"%@`?\t\n ") + ["0", "-1", "1e9", "null", "true", "~", "!!int", "!!python/name:x",
                                               "<<: ", "---", "\x00", "\x85", "\u2028", "é", "\U0001F600", "\\u"]

random_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
              st.text(max_size=20), st.sampled_from(["A", "b", "basic", "cifar", "3x3", "resnet18", "../x.yaml"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)


def _load_must_be_clean(path: Path) -> None:
    """load_spec either succeeds or raises SpecError whose lines all name a file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            spec = load_spec(path)
        except SpecError as exc:
            assert exc.diagnostics
            lines = str(exc).splitlines()
            assert len(lines) == len(exc.diagnostics)  # one line per diagnostic, whatever the input held
            for line in lines:  # each names the file it is about: this one, a parent file or a preset
                assert line.startswith((str(path), "preset:", "/")), line
            return
    assert isinstance(spec, ResNetSpec)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("corrupt")


def _mutate_text(text: str, rnd: random.Random, n: int) -> str:
    for _ in range(n):
        i = rnd.randrange(len(text) + 1)
        op = rnd.randrange(4)
        if op == 0 and text:  # delete a short run
            text = text[:i] + text[i + rnd.randrange(1, 6):]
        elif op == 1:  # insert noise
            text = text[:i] + rnd.choice(NOISE) + text[i:]
        elif op == 2 and text:  # replace one character
            text = text[:i] + rnd.choice(NOISE) + text[i + 1:]
        else:  # duplicate a line
            lines = text.splitlines(keepends=True) or [""]
            k = rnd.randrange(len(lines))
            lines.insert(rnd.randrange(len(lines) + 1), lines[k])
            text = "".join(lines)
    return text


@SETTINGS
@given(seed=st.sampled_from(range(len(SEED_TEXTS))), rnd=st.randoms(use_true_random=False),
       n=st.integers(1, 6), suffix=st.sampled_from([".yaml", ".json", ".yml"]))
def test_corrupted_text_only_raises_spec_error(scratch, seed, rnd, n, suffix):
    path = scratch / f"text{suffix}"
    path.write_text(_mutate_text(SEED_TEXTS[seed], rnd, n), encoding="utf-8")
    _load_must_be_clean(path)


@SETTINGS
@given(seed=st.sampled_from(range(len(SEED_TEXTS))), data=st.data())
def test_corrupted_bytes_only_raise_spec_error(scratch, seed, data):
    raw = bytearray(SEED_TEXTS[seed].encode("utf-8"))
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw)))
        op = data.draw(st.integers(0, 2))
        if op == 0:
            raw[i:i + 1] = b""
        elif op == 1:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=4))
        else:
            raw[i:i + 1] = bytes([data.draw(st.integers(0, 255))])
    path = scratch / "bytes.yaml"
    path.write_bytes(bytes(raw))
    _load_must_be_clean(path)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


@SETTINGS
@given(spec=valid_specs, data=st.data(), fmt=st.sampled_from(["yaml", "json"]))
def test_structural_corruption_only_raises_spec_error(scratch, spec, data, fmt):
    tree = spec_data(spec)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(tree)
        path = data.draw(st.sampled_from(paths))
        parent = tree
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["drop", "retype", "rekey", "null"]))  # rekey: on mappings only
        if action == "drop":
            del parent[path[-1]]
        elif action == "retype":
            parent[path[-1]] = data.draw(random_values)
        elif action == "null":
            parent[path[-1]] = None
        elif isinstance(parent, dict):
            parent[data.draw(st.text(min_size=1, max_size=12))] = parent.pop(path[-1])
    text = json.dumps(tree) if fmt == "json" else yaml.safe_dump(tree, allow_unicode=True)
    file = scratch / f"tree.{fmt}"
    file.write_text(text, encoding="utf-8")
    _load_must_be_clean(file)


@SETTINGS
@given(raw=st.binary(max_size=600), suffix=st.sampled_from([".yaml", ".json"]))
def test_random_bytes_only_raise_spec_error(scratch, raw, suffix):
    path = scratch / f"random{suffix}"
    path.write_bytes(raw)
    _load_must_be_clean(path)
    try:
        parse_source(raw, f"random{suffix}")
    except SpecError:
        pass


@SETTINGS
@given(text=st.lists(st.sampled_from(NOISE + list("abnmestg:0123456789")), max_size=80).map("".join))
def test_random_yamlish_text_only_raises_spec_error(scratch, text):
    path = scratch / "noise.yaml"
    path.write_text(text, encoding="utf-8")
    _load_must_be_clean(path)


@settings(max_examples=60, deadline=None)
@given(seed=st.sampled_from(range(len(SEED_TEXTS))), rnd=st.randoms(use_true_random=False))
def test_cli_never_prints_a_traceback_on_corrupted_files(scratch, seed, rnd):
    path = scratch / "cli.yaml"
    path.write_text(_mutate_text(SEED_TEXTS[seed], rnd, 3), encoding="utf-8")
    run = run_cli("validate", str(path))
    assert run.code in (0, 2), run.output
    assert "Traceback" not in run.output and "internal error" not in run.output


# --- hostile input the fuzz run found: huge numbers, long flat lists, control characters in names ---------

# Every way YAML 1.1 writes an integer, at lengths past Python's 4,300-digit limit and past ours.
huge_ints = st.builds(
    lambda syntax, n: syntax(n), st.sampled_from([
        lambda n: "9" * n, lambda n: "-" + "9" * n, lambda n: "0x" + "f" * n, lambda n: "0b" + "1" * n,
        lambda n: "0" + "7" * n, lambda n: "0o" + "7" * n, lambda n: "1_" * n + "1",
        lambda n: ":".join(["59"] * max(n // 3, 15)),
        lambda n: "+" + "1" * n]),
    st.integers(41, 20_000))
INT_FIELDS = ["stages[0].blocks", "stages[0].width", "head.classes", "input.channels", "input.size"]


@settings(max_examples=60, deadline=None)
@given(number=huge_ints, where=st.sampled_from(INT_FIELDS), fmt=st.sampled_from(["yaml", "json"]))
def test_huge_integers_in_every_syntax_are_one_spec_error(number, where, fmt):
    data = {"name": "x", "input": {"channels": 3, "size": 32}, "stages": [{"blocks": 1, "width": 8}],
            "head": {"classes": 3}}
    text = yaml.safe_dump(data, default_flow_style=True) if fmt == "yaml" else json.dumps(data)
    field = where.rsplit(".", 1)[-1]
    old = {"blocks": "blocks: 1", "width": "width: 8", "classes": "classes: 3", "channels": "channels: 3",
           "size": "size: 32"}[field]
    if fmt == "json":
        old = '"' + old.replace(": ", '": ')
        sign = "-" if number.startswith("-") else ""
        number = sign + "9" * len(number.lstrip("-"))  # JSON has only decimal integers, without leading zeros
    text = text.replace(old, old.rsplit(" ", 1)[0] + " " + number, 1)
    with pytest.raises(SpecError) as info:
        load_spec_text(text, fmt)
    # YAML 1.2's integers are refused for their length; YAML 1.1's other forms are text, not a number.
    assert any(s in str(info.value) for s in ("characters long", "cannot read this", "must be a whole number"))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(20_001, 120_000), item=st.sampled_from(["1", "x", "{}", "[]", "null"]),
       where=st.sampled_from(["stages", "description", "input", "head"]))
def test_long_flat_lists_are_refused_by_count(n, item, where):
    # Counted on the event stream, before anything is built: the repeated key is never reached.
    text = "name: x\nstages: [{blocks: 1, width: 8}]\n" + f"{where}: [" + ", ".join([item] * n) + "]\n"
    with pytest.raises(SpecError, match=r"spec has more than 20,000 values \(a spec has a few hundred\)"):
        load_spec_text(text, "yaml")


@settings(max_examples=100, deadline=None)
@given(prefix=st.text(max_size=5), bad=st.characters(categories=("Cc", "Zl", "Zp")), suffix=st.text(max_size=5))
def test_names_with_control_characters_are_refused_in_one_line(prefix, bad, suffix):
    text = json.dumps({"name": prefix + bad + suffix, "stages": [{"blocks": 1, "width": 8}]})
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "json")
    assert [d.path for d in info.value.diagnostics if d.path] in ([("name",)], [])
    assert all(len(str(d).splitlines()) == 1 for d in info.value.diagnostics)


def load_spec_text(text: str, fmt: str) -> ResNetSpec:
    """load_spec of ``text`` written to a file: it raises SpecError and nothing else."""
    result = validate_source(parse_source(text.encode("utf-8", "surrogatepass"), f"f.{fmt}"))
    if result.errors:
        raise SpecError(result.errors)
    assert result.spec is not None
    return result.spec
