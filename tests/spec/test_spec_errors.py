"""Bad input: every case exits 2 with a one-line error naming the file, the line and the field; no traceback."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from spec_helpers import BASE, diag_regex, edit, run_cli

from resgraph.errors import SpecError
from resgraph.kinds import BLOCKS, SHORTCUTS, STEMS
from resgraph.spec import SpecWarning, check_ref, load_spec
from resgraph.spec.source import MAX_FILE_BYTES

# How pydantic lists a Literal's values: 'A', 'B' or 'C'.
OPTIONS = ", ".join(f"'{o}'" for o in SHORTCUTS.names()[:-1]) + f" or '{SHORTCUTS.names()[-1]}'"


@dataclass(frozen=True)
class Bad:
    """A bad spec file: its content, and the diagnostic it must produce."""

    id: str
    content: str | bytes
    line: int | None  # None: a whole-file problem with no line to point at
    field: str
    message: str
    file: str = "bad.yaml"


MB_PLUS = "name: big\nstages: [{blocks: 1, width: 8}]\n# " + "x" * MAX_FILE_BYTES + "\n"
BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9 if p else ['lol'] * 9)}]\n"
    for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=False)
)

CASES = [
    # --- ranges ------------------------------------------------------------------------------
    Bad("blocks-zero", edit("blocks: 2, width: 256", "blocks: 0, width: 256"), 9, "stages[2].blocks",
        "must be >= 1 (received 0)"),
    Bad("stride-negative", edit("width: 128, stride: 2", "width: 128, stride: -1"), 8, "stages[1].stride",
        "must be >= 1 (received -1)"),
    Bad("stride-zero", edit("width: 256, stride: 2", "width: 256, stride: 0"), 9, "stages[2].stride",
        "must be >= 1 (received 0)"),
    Bad("stride-huge", edit("width: 256, stride: 2", "width: 256, stride: 100"), 9, "stages[2].stride",
        "must be <= 8 (received 100)"),
    Bad("width-zero", edit("width: 64}", "width: 0}"), 7, "stages[0].width", "must be >= 1 (received 0)"),
    Bad("channels-zero", edit("channels: 3", "channels: 0"), 2, "input.channels", "must be >= 1 (received 0)"),
    Bad("classes-negative", edit("classes: 10", "classes: -5"), 10, "head.classes", "must be >= 1 (received -5)"),
    Bad("expansion-zero", edit("block: basic", "block: {type: bottleneck, expansion: 0}"), 4, "block.expansion",
        "must be >= 1 (received 0)"),
    Bad("drop-path-one", BASE + "drop_path: 1.0\n", 11, "drop_path", "must be < 1.0 (received 1.0)"),
    Bad("drop-path-nan", BASE + "drop_path: .nan\n", 11, "drop_path", "must be a finite number (received nan)"),
    Bad("drop-path-text", BASE + "drop_path: '0.1'\n", 11, "drop_path", "must be a number (received '0.1')"),
    Bad("se-reduction-zero", edit("block: basic", "block: {type: basic, attention: {type: se, reduction: 0}}"), 4,
        "block.attention.reduction", "must be >= 1 (received 0)"),
    Bad("name-empty", edit("name: t", "name: ''"), 1, "name", "must have at least 1 character (received '')"),
    # --- unknown keys and enums ----------------------------------------------------------------
    Bad("unknown-top-key", edit("shortcut: B", "shortcuts: B"), 5, "shortcuts",
        "unknown key (did you mean 'shortcut'?); expected one of: name,"),
    Bad("unknown-stage-key", edit("blocks: 2, width: 128", "blcks: 2, width: 128"), 8, "stages[1].blcks",
        "unknown key (did you mean 'blocks'?); expected one of: blocks, width, stride, block, shortcut"),
    Bad("unknown-head-key", edit("classes: 10", "clases: 10"), 10, "head.clases",
        "unknown key (did you mean 'classes'?)"),
    Bad("unknown-stem-key", edit("stem: imagenet", "stem: {type: imagenet, widht: 32}"), 3, "stem.widht",
        "unknown key (did you mean 'width'?)"),
    Bad("shortcut-E", edit("shortcut: B", "shortcut: E"), 5, "shortcut",
        f"must be one of {OPTIONS} (received 'E')"),
    Bad("shortcut-lowercase", edit("shortcut: B", "shortcut: b"), 5, "shortcut",
        f"must be one of {OPTIONS} (did you mean 'B'?) (received 'b')"),
    Bad("stage-shortcut-E", edit("width: 64}", "width: 64, shortcut: E}"), 7, "stages[0].shortcut",
        f"must be one of {OPTIONS} (received 'E')"),
    Bad("block-typo", edit("block: basic", "block: bottlenek"), 4, "block",
        f"unknown block type; must be one of {', '.join(BLOCKS.names())} (did you mean 'bottleneck'?) "
        "(received 'bottlenek')"),
    Bad("block-type-typo", edit("block: basic", "block: {type: preact}"), 4, "block.type",
        "unknown block type; must be one of basic, bottleneck, preact_basic, preact_bottleneck"),
    Bad("block-without-type", edit("block: basic", "block: {expansion: 2}"), 4, "block",
        f"needs a `type`: one of {', '.join(BLOCKS.names())} (received {{expansion: 2}})"),
    Bad("stem-typo", edit("stem: imagenet", "stem: imgnet"), 3, "stem",
        f"unknown stem; must be one of {', '.join(STEMS.names())} (did you mean 'imagenet'?) (received 'imgnet')"),
    Bad("attention-typo", edit("block: basic", "block: {type: basic, attention: sse}"), 4, "block.attention",
        "unknown attention; must be one of se, eca (did you mean 'se'?) (received 'sse')"),
    Bad("bottleneck-stride", edit("block: basic", "block: {type: bottleneck, stride_at: 2x2}"), 4, "block.stride_at",
        "must be one of '3x3' or '1x1' (received '2x2')"),
    Bad("moved-top-level-option", BASE + "bottleneck_stride: 1x1\n", 11, "bottleneck_stride",
        "unknown key: `bottleneck_stride` is an option of the bottleneck block now; write "
        "`block: {type: bottleneck, stride_at: 1x1}`"),
    Bad("expansion-on-basic", edit("block: basic", "block: {type: basic, expansion: 2}"), 4, "block.expansion",
        "`expansion` is not an option of block type 'basic' (it belongs to 'bottleneck', 'preact_bottleneck'); "
        "'basic' takes: type, attention"),
    Bad("reduction-on-eca", edit("block: basic", "block: {type: basic, attention: {type: eca, reduction: 8}}"), 4,
        "block.attention.reduction", "`reduction` is not an option of attention 'eca' (it belongs to 'se'); "
        "'eca' takes: type, kernel"),
    Bad("eca-kernel-even", edit("block: basic", "block: {type: basic, attention: {type: eca, kernel: 4}}"), 4,
        "block.attention.kernel", "must be odd, so the conv keeps the channel count (received 4)"),
    Bad("mid-on-imagenet-stem", edit("stem: imagenet", "stem: {type: imagenet, mid: [16, 16]}"), 3, "stem.mid",
        "`mid` is not an option of stem 'imagenet' (it belongs to 'deep', 'tiered')"),
    Bad("attention-on-preact", edit("block: basic", "block: {type: preact_basic, attention: se}"), 4,
        "block.attention", "`attention` is not an option of block type 'preact_basic'"),
    # --- types -----------------------------------------------------------------------------------
    Bad("blocks-word", edit("blocks: 2, width: 128", "blocks: three, width: 128"), 8, "stages[1].blocks",
        "must be a whole number (received 'three')"),
    Bad("blocks-float", edit("blocks: 2, width: 128", "blocks: 2.5, width: 128"), 8, "stages[1].blocks",
        "must be a whole number (received 2.5)"),
    Bad("blocks-bool", edit("blocks: 2, width: 128", "blocks: true, width: 128"), 8, "stages[1].blocks",
        "must be a whole number (received true)"),
    Bad("blocks-quoted", edit("blocks: 2, width: 128", "blocks: '2', width: 128"), 8, "stages[1].blocks",
        "must be a whole number (received '2')"),
    Bad("residual-string", BASE + "residual: 'no'\n", 11, "residual", "must be true or false (received 'no')"),
    Bad("name-null", edit("name: t", "name: null"), 1, "name", "required field is missing"),  # null: the default
    Bad("yaml-1-1-boolean", BASE + "residual: yes\n", 11, "residual", "must be true or false (received 'yes')"),
    Bad("yaml-1-1-sexagesimal-float", BASE + "drop_path: 1:1:1.0\n", 11, "drop_path", "(received '1:1:1.0')"),
    Bad("yaml-1-1-sexagesimal-overflow", BASE + "drop_path: " + "1:" * 400 + "1.0\n", 11, "drop_path", "(received"),
    Bad("stage-not-mapping", edit("  - {blocks: 2, width: 64}", "  - 64"), 7, "stages[0]",
        "must be a mapping (received 64)"),
    Bad("input-not-mapping", edit("input: {channels: 3, size: 224}", "input: 224"), 2, "input",
        "must be a mapping (received 224)"),
    # --- required fields, stages -----------------------------------------------------------------
    Bad("missing-name", "# no name here\nstages: [{blocks: 1, width: 64}]\n", 2, "name",
        "required field is missing"),
    Bad("missing-stages", "name: x\nhead: {classes: 3}\n", 1, "stages", "required field is missing"),
    Bad("missing-stage-width", edit("{blocks: 2, width: 64}", "{blocks: 2}"), 7, "stages[0].width",
        "required field is missing"),
    Bad("stages-empty", "name: x\n\nstages: []\n", 3, "stages", "must have at least 1 item (received [])"),
    Bad("stages-mapping", "name: x\nstages: {blocks: 2, width: 3}\n", 2, "stages", "must be a list"),
    Bad("stages-scalar", "name: x\nstages: 3\n", 2, "stages", "must be a list (received 3)"),
    # --- input size --------------------------------------------------------------------------------
    Bad("size-zero", edit("size: 224", "size: 0"), 2, "input.size", "must be >= 1 (received 0)"),
    Bad("size-too-small-for-stem", edit("size: 224", "size: 4"), 2, "input.size",
        "input is too small: the imagenet stem leaves a 1x1 feature map before the first stage (received 4)"),
    Bad("size-three-numbers", edit("size: 224", "size: [32, 32, 3]"), 2, "input.size",
        "must have at most 2 items (received [32, 32, 3])"),
    Bad("size-pair-zero", edit("size: 224", "size: [0, 32]"), 2, "input.size[0]", "must be >= 1 (received 0)"),
    Bad("size-pair-word", edit("size: 224", "size: [32, big]"), 2, "input.size[1]",
        "must be a whole number (received 'big')"),
    Bad("size-string", edit("size: 224", "size: '224'"), 2, "input.size", "must be a whole number (received '224')"),
    # --- semantic rules ----------------------------------------------------------------------------
    Bad("option-A-shrinks", edit("shortcut: B", "shortcut: A", edit("width: 128,", "width: 32,")), 8,
        "stages[1].width", "shortcut A cannot shrink channels (64 -> 32)"),
    Bad("groups-with-basic", edit("block: basic", "block: {type: basic, groups: 32}"), 4, "block.groups",
        "`groups` is not an option of block type 'basic' (it belongs to 'bottleneck')"),
    Bad("base-width-zero-channels", edit("block: basic", "block: {type: bottleneck, base_width: 1}",
                                         edit("width: 64}", "width: 32}")), 7,
        "stages[0].width", "the 3x3 conv would have 0 channels at base_width 1 (received 32)"),
    Bad("preact-after-basic", edit("width: 128, stride: 2}", "width: 128, stride: 2, block: preact_basic}"), 8,
        "stages[1].block", "a preact_basic block cannot follow basic blocks: pre-activation blocks need the "
        "resnetv2 trunk, stage 0 has the resnet one (received 'preact_basic')"),
    Bad("drop-path-on-plain", BASE + "residual: false\ndrop_path: 0.1\n", 12, "drop_path",
        "stochastic depth drops residual branches; a plain network (residual: false) has none (received 0.1)"),
    Bad("million-blocks", edit("blocks: 2, width: 128", "blocks: 1000000, width: 128"), 8, "stages[1].blocks",
        "must be <= 10000 (received 1000000)"),
    Bad("too-many-blocks-in-all", edit("blocks: 2, width: 128", "blocks: 9999, width: 128",
                                       edit("blocks: 2, width: 256", "blocks: 9999, width: 256")), 6, "stages",
        "20,000 blocks in all, over the limit of 10,000"),
    Bad("width-terabytes", edit("width: 256,", "width: 1000000000000,"), 9, "stages[2].width",
        "must be <= 65536 (received 1000000000000)"),
    Bad("params-hundreds-of-gib", edit("width: 256,", "width: 60000,"), 6, "stages",
        "GiB at fp32), over the limit of 4,000,000,000"),
    Bad("activations-too-big", "name: x\ninput: {size: 16384}\nstem: cifar\nstages: [{blocks: 100, width: 512}]\n",
        2, "input.size", "the tensors of one image (input and feature maps) would need 359,475 GiB at fp32, over "
        "the limit of 64 GiB"),
    Bad("huge-input-thin-stem", "name: x\ninput: {channels: 4096, size: [16384, 16384]}\nstem: {type: cifar, width: 1}\n"
        "stages: [{blocks: 1, width: 1}]\n", 2, "input.size", "would need 4,106 GiB at fp32, over the limit of 64 GiB"),
    # --- malformed files ---------------------------------------------------------------------------
    Bad("unclosed-bracket", "name: x\nstages: [{blocks: 1, width: 64}\n", 3, "",
        "invalid YAML/JSON syntax: expected ',' or ']', but got '<stream end>' while parsing a flow sequence "
        "opened on line 2"),
    Bad("tab-indentation", "name: x\nstages:\n\t- {blocks: 1, width: 64}\n", 3, "",
        "(indent YAML with spaces, not tabs)"),
    Bad("bad-indentation", "name: x\nstages:\n  - blocks: 1\n   width: 64\n", 4, "", "invalid YAML/JSON syntax"),
    Bad("json-trailing-comma", '{"name": "x",\n "stages": [{"blocks": 1, "width": 64}],\n}\n', 3, "",
        "invalid JSON: Expecting property name enclosed in double quotes (a trailing comma?)", file="bad.json"),
    Bad("json-comment", '{"name": "x", // net\n "stages": [{"blocks": 1, "width": 64}]}\n', 1, "",
        "invalid JSON", file="bad.json"),
    Bad("empty-file", "", 1, "", "file is empty: expected a mapping"),
    Bad("whitespace-only", "\n  \n\n", 1, "", "file is empty"),
    Bad("comment-only", "# a spec\n\n# to be written\n", 1, "", "file is empty"),
    Bad("top-level-list", "- name: x\n- stages: []\n", 1, "", "top level must be a mapping of fields, not a list"),
    Bad("top-level-scalar", "\nresnet50\n", 2, "", "top level must be a mapping of fields, not a scalar value"),
    Bad("top-level-json-list", "[1, 2]", 1, "", "top level must be a mapping of fields, not a list", file="bad.json"),
    Bad("duplicate-key", "name: x\nstages: [{blocks: 1, width: 64}]\nname: y\n", 3, "name",
        "duplicate key 'name' (first written on line 1)"),
    Bad("duplicate-stage-key", "name: x\nstages:\n  - {blocks: 1, width: 64, blocks: 2}\n", 3, "stages[0].blocks",
        "duplicate key 'blocks' (first written on line 3)"),
    Bad("duplicate-json-key", '{"name": "x",\n "name": "y", "stages": []}', 2, "name", "duplicate key 'name'",
        file="bad.json"),
    Bad("unknown-preset", "name: x\nextends: resnet-50\n", 2, "extends",
        "unknown preset 'resnet-50' (did you mean 'resnet50'?)"),
    Bad("not-utf8", b"name: caf\xe9\nstages: [{blocks: 1, width: 64}]\n", 1, "",
        "file is not UTF-8 text (byte 0xe9 at offset 9)"),
    Bad("utf16", "name: x\nstages: [{blocks: 1, width: 64}]\n".encode("utf-16"), 1, "", "file is not UTF-8 text"),
    Bad("control-char", "name: x\nstages: [{blocks: 1,\x07 width: 64}]\n", 2, "",
        "control character U+0007 is not allowed"),
    Bad("over-size-limit", MB_PLUS, None, "", f"over the {MAX_FILE_BYTES:,}-byte limit for a spec"),
    Bad("python-tag", "name: !!python/object/apply:os.system ['touch {pwned}']\nstages: [{blocks: 1, width: 64}]\n",
        1, "name", "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed: specs hold plain data"),
    Bad("python-name-tag", "name: x\nstages: !!python/name:os.system\n", 2, "stages", "is not allowed"),
    Bad("binary-tag", "name: !!binary aGVsbG8=\nstages: [{blocks: 1, width: 64}]\n", 1, "name",
        "YAML tag 'tag:yaml.org,2002:binary' is not allowed"),
    Bad("int-tag-on-text", "name: x\nstages: [{blocks: !!int abc, width: 64}]\n", 2, "stages[0].blocks",
        "cannot read this as int (received 'abc')"),
    Bad("bool-tag-on-text", "name: x\nresidual: !!bool maybe\nstages: [{blocks: 1, width: 64}]\n", 2, "residual",
        "cannot read this as bool (received 'maybe')"),
    Bad("5000-digit-number", "name: x\nstages: [{blocks: " + "9" * 5000 + ", width: 64}]\n", 2, "stages[0].blocks",
        "number is 5,000 characters long; a spec's numbers have at most 40"),
    Bad("5000-digit-json-number", '{"name": "x", "head": {"classes": ' + "9" * 5000 + '}}', 1, "head.classes",
        "number is 5,000 characters long", file="bad.json"),
    Bad("huge-hex", "name: x\nstages: [{blocks: 0x" + "f" * 20000 + ", width: 64}]\n", 2, "stages[0].blocks",
        "number is 20,002 characters long"),
    Bad("huge-binary", "name: x\nstages: [{blocks: 0b" + "1" * 20000 + ", width: 64}]\n", 2, "stages[0].blocks",
        "must be a whole number (received '0b111111"),  # YAML 1.2: 0b... is text
    Bad("huge-sexagesimal", "name: x\nstages: [{blocks: " + ":".join(["59"] * 5000) + ", width: 64}]\n", 2,
        "stages[0].blocks", "must be a whole number (received '59:59:"),
    Bad("huge-octal", "name: x\nstages: [{blocks: 0o" + "7" * 20000 + ", width: 64}]\n", 2, "stages[0].blocks",
        "number is 20,002 characters long"),
    Bad("yaml-1-1-octal-is-decimal", "name: x\ninput: {size: 032}\nstem: cifar\nstages: [{blocks: 1, width: 8}]\n"
        "head: {classes: 0}\n", 5, "head.classes", "must be >= 1 (received 0)"),
    Bad("long-flat-list", "name: x\nstages: [" + ", ".join(["1"] * 300_000) + "]\n", 2, "",
        "spec has more than 20,000 values (a spec has a few hundred)"),
    Bad("many-stages", "name: x\nstages:\n" + "  - {blocks: 1, width: 8}\n" * 30_000, 4_002, "",
        "spec has more than 20,000 values"),
    Bad("merge-key", "x: &s {blocks: 1, width: 64}\nname: n\nstages: [{<<: *s}]\n", 3, "stages[0]",
        "YAML merge keys ('<<') are not supported; use 'extends:'"),
    Bad("stage-item-not-a-mapping-over-a-preset", "extends: resnet18\nname: x\nstages: [{blocks: 3}, [4], {}, {}]\n",
        3, "stages[1]", "must be a mapping (received [4])"),
    Bad("empty-key", "name: x\n'': 1\nstages: [{blocks: 1, width: 8}]\n", 2, "",
        "unknown key ''; expected one of: name, description"),
    Bad("bare-kind-name-over-a-presets-mapping", "extends: resnet50\nname: x\nblock: basik\n", 3, "block.type",
        "unknown block type; must be one of basic, bottleneck, preact_basic, preact_bottleneck (did you mean "
        "'basic'?) (received 'basik')"),
    Bad("kind-option-blows-the-size-guard", "extends: resnet50\nname: g\nblock: {groups: 65536}\n", 1, "stages",
        "network would have 1,356,056,902,952 parameters"),
    Bad("se-squeeze-widens", edit("block: basic", "block: {type: basic, attention: {type: se, divisor: 512}}"), 4,
        "block.attention", "the squeeze would widen 64 channels to 512"),
    Bad("block-not-a-mapping", edit("block: basic", "block: 5"), 4, "block",
        "must be a block type name or a mapping with `type` (received 5)"),
    Bad("block-type-null", edit("block: basic", "block: {type: null}"), 4, "block",  # null: as if not written
        "needs a `type`: one of basic, bottleneck, preact_basic, preact_bottleneck (received {})"),
    Bad("alias-bomb", BOMB, 1, "", "spec expands to more than 20,000 values through YAML aliases"),
    Bad("deep-nesting", "name: x\nstages: " + "[" * 50 + "]" * 50 + "\n", 2, "",
        "nesting is more than 32 levels deep"),
    Bad("very-deep-nesting", "name: x\nstages: " + "[" * 20000 + "\n", 2, "", "nesting is more than 32 levels deep"),
    Bad("very-deep-json", "[" * 100000 + "]" * 100000, None, "", "nesting is far too deep for a spec", file="bad.json"),
    Bad("multi-document", "name: x\nstages: [{blocks: 1, width: 64}]\n---\nname: y\n", 4, "",
        "file holds several YAML documents; a spec is exactly one"),
    Bad("complex-key", "name: x\n? [a, b]\n: 1\nstages: [{blocks: 1, width: 64}]\n", 2, "",
        "mapping keys must be plain names"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line_and_exit_2(write, tmp_path, case):
    content = case.content
    if isinstance(content, str):
        content = content.replace("{pwned}", str(tmp_path / "PWNED"))
    path = write(case.file, content)
    run = run_cli("validate", str(path))
    assert run.code == 2, run.output
    assert "Traceback" not in run.output and "internal error" not in run.output
    assert diag_regex(path, case.line, case.field, case.message).search(run.stderr), run.stderr
    if case.line is None:
        assert run.stderr.startswith(f"{path}: ")
    assert run.stdout.startswith(f"FAIL  {path}: ")
    for line in run.stderr.splitlines():  # every diagnostic is one line that starts with the file
        assert line.startswith(f"{path}:")
        assert len(line) < 400
    assert not (tmp_path / "PWNED").exists()  # a python tag is refused, never executed


def test_there_are_at_least_25_distinct_bad_inputs():
    assert len({c.id for c in CASES}) == len(CASES) >= 25
    assert len({c.content for c in CASES}) == len(CASES)


def test_the_issue_example_message_exactly(write):
    path = write("bad.yaml", edit("blocks: 2, width: 256", "blocks: 0, width: 256"))
    run = run_cli("validate", str(path))
    assert run.stderr == f"{path}:9:6: stages[2].blocks: must be >= 1 (received 0)\n"
    assert run.stdout == f"FAIL  {path}: 1 error\n"


def test_python_tag_is_not_executed_even_through_load_spec(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.yaml"
    path.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n"
                    "stages: [{blocks: 1, width: 64}]\n")
    with pytest.raises(SpecError, match="is not allowed"):
        load_spec(path)
    path.write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(SpecError):
        load_spec(path)
    assert not marker.exists()


def test_nonexistent_file(tmp_path):
    path = tmp_path / "nope.yaml"
    run = run_cli("validate", str(path))
    assert run.code == 2 and "Traceback" not in run.output
    assert run.stderr == f"{path}: no such spec file: {path}\n"


def test_unknown_preset_name_on_the_command_line():
    run = run_cli("validate", "resnet_50")
    assert run.code == 2 and "Traceback" not in run.output
    assert run.stderr == ("resnet_50: unknown preset 'resnet_50' (did you mean 'resnet50'?); "
                          "'resgraph presets' lists them\n")


def test_a_directory_is_not_a_spec(tmp_path):
    (tmp_path / "d.yaml").mkdir()
    run = run_cli("validate", str(tmp_path / "d.yaml"))
    assert run.code == 2 and "Traceback" not in run.output
    assert run.stderr == f"{tmp_path / 'd.yaml'}: not a regular file (a folder): a spec is a YAML or JSON file\n"


def test_a_pipe_or_a_device_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # no writer: opening it for reading would block forever
    run = run_cli("validate", str(fifo))
    assert run.code == 2 and run.stderr == f"{fifo}: not a regular file (a pipe): a spec is a YAML or JSON file\n"
    parent = tmp_path / "child.yaml"
    parent.write_text("extends: fifo.yaml\nname: c\n")
    run = run_cli("validate", str(parent))
    assert run.code == 2 and "not a regular file (a pipe)" in run.stderr


def test_a_file_that_reports_size_0_is_not_read_to_its_end(tmp_path):
    """/proc/kmsg says it is empty and blocks when read: the reader trusts the size and stops."""
    import resgraph.spec.source as source

    class Endless:  # what os.read of such a file does: always more
        def __call__(self, fd: int, n: int) -> bytes:
            raise AssertionError("read a file whose size is 0")

    empty = tmp_path / "e.yaml"
    empty.write_text("")
    original = source.os.read
    source.os.read = Endless()
    try:
        run = run_cli("validate", str(empty))
    finally:
        source.os.read = original
    assert run.code == 2 and "file is empty" in run.stderr


def test_a_name_too_long_for_the_file_system():
    run = run_cli("validate", "r" * 5000)
    assert run.code == 2 and "Traceback" not in run.output
    assert "unknown preset" in run.stderr


def test_several_errors_in_one_file_are_all_reported(write):
    text = "name: x\nshortcut: E\nstages:\n  - {blocks: 0, width: 64}\nhead: {classes: -1}\n"
    path = write("three.yaml", text)
    run = run_cli("validate", str(path))
    assert run.code == 2
    assert run.stderr.splitlines() == [
        f"{path}:2:1: shortcut: must be one of {OPTIONS} (received 'E')",
        f"{path}:4:6: stages[0].blocks: must be >= 1 (received 0)",
        f"{path}:5:8: head.classes: must be >= 1 (received -1)",
    ]
    assert run.stdout == f"FAIL  {path}: 3 errors\n"
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert len(info.value.diagnostics) == 3
    assert str(info.value).splitlines() == run.stderr.splitlines()  # one line per diagnostic


def test_semantic_errors_are_all_reported_too(write):
    text = BASE.replace("shortcut: B", "shortcut: A").replace("width: 128,", "width: 32,")
    text = text.replace("{blocks: 2, width: 64}", "{blocks: 2, width: 64, block: preact_basic}")
    path = write("two.yaml", text)
    result = check_ref(str(path))
    assert result.spec is None
    assert [d.path for d in result.errors] == [("block",), ("stages", 1, "width")]  # the network's block, once
    assert [d.location.line for d in result.errors] == [4, 8]


def test_good_and_bad_files_get_per_file_verdicts(write):
    good = write("good.yaml", BASE)
    bad = write("bad.yaml", edit("classes: 10", "classes: 0"))
    run = run_cli("validate", str(good), str(bad), "resnet20")
    assert run.code == 2
    assert run.stdout.splitlines() == [
        f"ok    {good}: t, depth 14, 3 stages",
        f"FAIL  {bad}: 1 error",
        "ok    resnet20: resnet20, depth 20, 3 stages",
        "2 of 3 valid",
    ]
    assert run.stderr == f"{bad}:10:8: head.classes: must be >= 1 (received 0)\n"


def test_only_good_files_exit_0(write):
    good = write("good.yaml", BASE)
    good_json = write("good.json", '{"name": "j", "stages": [{"blocks": 1, "width": 64}]}')
    run = run_cli("validate", str(good), str(good_json), "resnet50")
    assert run.code == 0, run.output
    assert run.stdout.splitlines()[-1] == "3 of 3 valid"
    assert run.stderr == ""


def test_quiet_prints_only_failures(write):
    good = write("good.yaml", BASE)
    bad = write("bad.yaml", "name: x\n")
    run = run_cli("validate", "-q", str(good), str(bad))
    assert run.code == 2
    assert run.stdout == f"FAIL  {bad}: 1 error\n"
    assert run_cli("validate", "-q", str(good)).stdout == ""


# --- warnings: the spec loads, the verdict is ok, exit 0 ---------------------------------------------

FIVE_STRIDE_2 = ("name: w\ninput: {{size: {size}}}\nstem: cifar\nstages:\n"
                 + "  - {{blocks: 1, width: 16, stride: 2}}\n" * 5)


def test_collapsed_feature_map_warns_naming_the_stage(write):
    # 16 -> 8 -> 4 -> 2 -> 1 after four stride-2 stages: the fifth sees a 1x1 map.
    path = write("warn.yaml", FIVE_STRIDE_2.format(size=16))
    run = run_cli("validate", str(path))
    assert run.code == 0, run.output
    assert run.stderr == (f"{path}:9:5: stages[4]: feature map has collapsed to 1x1 before this stage (input 16x16); "
                          "it and later stages see no spatial context [warning]\n")
    assert run.stdout == f"ok    {path}: w, depth 12, 5 stages, 1 warning(s)\n"
    with pytest.warns(SpecWarning, match=r"stages\[4\]: feature map has collapsed"):
        spec = load_spec(path)
    assert len(spec.stages) == 5


def test_input_32_warns_at_the_sixth_stride_2_stage(write):
    path = write("warn6.yaml", FIVE_STRIDE_2.format(size=32) + "  - {blocks: 1, width: 16, stride: 2}\n")
    run = run_cli("validate", str(path))
    assert run.code == 0, run.output
    assert diag_regex(path, 10, "stages[5]", "feature map has collapsed to 1x1 before this stage (input 32x32)"
                      ).search(run.stderr), run.stderr


def test_input_32_with_five_stride_2_stages_does_not_warn(write):
    # 32 -> 16 -> 8 -> 4 -> 2 entering the last stage: the rule is "collapsed *before* the last stage".
    path = write("nowarn.yaml", FIVE_STRIDE_2.format(size=32))
    run = run_cli("validate", str(path))
    assert run.code == 0 and run.stderr == ""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_spec(path)


def test_warning_for_a_rectangular_input_names_its_size(write):
    path = write("rect.yaml", "name: r\ninput: {size: [64, 16]}\nstages:\n  - {blocks: 1, width: 64}\n"
                 "  - {blocks: 1, width: 64, stride: 2}\n  - {blocks: 1, width: 64, stride: 2}\n"
                 "  - {blocks: 1, width: 64}\n")
    result = check_ref(str(path))
    assert result.errors == [] and result.spec is not None
    # imagenet stem: 64x16 -> 16x4; stride 2 twice -> 4x1: not 1x1, so no warning
    assert result.warnings == []


def test_load_spec_error_is_one_line_per_diagnostic(write):
    path = write("bad.yaml", "name: x\nstages: [{blocks: 0, width: 0}]\n")
    with pytest.raises(SpecError) as info:
        load_spec(Path(path))
    lines = str(info.value).split("\n")
    assert lines == [f"{path}:2:11: stages[0].blocks: must be >= 1 (received 0)",
                     f"{path}:2:22: stages[0].width: must be >= 1 (received 0)"]
    assert info.value.lines() == lines


def test_a_typo_is_reported_once_not_also_as_a_missing_field(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(edit("blocks: 2, width: 128", "blcks: 2, width: 128"))
    lines = [str(d) for d in check_ref(str(path)).errors]
    assert len(lines) == 1 and "stages[1].blcks: unknown key (did you mean 'blocks'?)" in lines[0]
    # A missing field with no look-alike key beside it is still reported.
    path.write_text(edit("blocks: 2, width: 128", "width: 128"))
    assert [d.message for d in check_ref(str(path)).errors] == ["required field is missing"]


def test_an_error_in_the_networks_block_is_not_repeated_for_every_stage_that_refines_it(write):
    path = write("r.yaml", "name: x\nblock: {type: bottleneck, groups: 0}\nstages: [{blocks: 1, width: 8, block: "
                           "{attention: se}}, {blocks: 1, width: 8, block: {attention: eca}}]\n")
    result = check_ref(str(path))
    assert [str(d) for d in result.errors] == [f"{path}:2:27: block.groups: must be >= 1 (received 0)"]


def test_diagnostics_of_one_file_come_in_line_order(write):
    path = write("o.yaml", "name: x\nstages: [{blocks: 0, width: 8}]\nhead: {classes: 0}\ninput: {size: 0}\n")
    assert [d.location.line for d in check_ref(str(path)).errors] == [2, 3, 4]


def test_a_warning_about_a_parents_stages_points_at_the_childs_input_size(write):
    child = write("small.yaml", "extends: resnet50\nname: small\n# tiny\ninput: {size: 16}\n")
    run = run_cli("validate", str(child))
    assert run.code == 0
    assert run.stderr.startswith(f"{child}:4:9: stages[3]: feature map has collapsed to 1x1 before this stage")


def test_shortcut_none_points_to_residual_false(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("extends: resnet20\nname: x\nshortcut: none\n")
    res = run_cli("validate", str(spec))
    assert res.code == 2
    assert "shortcut: must be one of 'A', 'B', 'C' or 'D' (a network without shortcuts is `residual: false`" in res.output
