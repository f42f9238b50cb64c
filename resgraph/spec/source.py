"""Read a YAML or JSON spec file into plain data plus the line/column of every field.

PyYAML's composer gives each node a position; we build the Python values
ourselves from the node tree so that (a) every field path maps to where it was
written, (b) duplicate keys are errors instead of silent overwrites, and (c)
only plain data tags (map, list, str, int, float, bool, null) are accepted:
a tag that would construct a Python object is refused, not executed.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from resgraph.errors import FieldPath, Location, SpecError

MAX_FILE_BYTES = 1_000_000
MAX_VALUES = 20_000  # a real spec has a few hundred; more is garbage or an alias bomb, refused fast
MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40  # the largest limit a spec field has is 4 billion; 40 characters leave room for `_` and `0x`

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


@dataclass
class Source:
    """Parsed spec data with a map from field path to where it was written."""

    data: dict[str, Any]
    positions: dict[FieldPath, Location] = field(default_factory=dict)
    file: str = "<string>"
    built: int = 0  # values built so far: bounds YAML alias expansion ("billion laughs")

    def locate(self, path: FieldPath) -> Location:
        """Position of the deepest written prefix of ``path`` (the field, or its parent)."""
        for n in range(len(path), -1, -1):
            loc = self.positions.get(tuple(path[:n]))
            if loc is not None:
                return loc
        return Location(self.file)


def read_source(path: Path, display: str | None = None, within: tuple[Path, ...] = ()) -> Source:
    """Read and parse one spec file; every failure is a one-line :class:`SpecError`.

    ``within``: folders the file opened must lie in, checked on the open file itself, so a link
    swapped between a check by name and the open cannot make us read something else.
    """
    name = display or str(path)
    return parse_source(read_bounded(path, name, within), name)


def read_bounded(path: Path, name: str, within: tuple[Path, ...] = ()) -> bytes:
    """The bytes of regular file ``path``, at most :data:`MAX_FILE_BYTES`; anything else is a SpecError.

    Opened without blocking, so a FIFO or a device is refused before anything is
    read; read up to the size the file reports and no further, so a file that
    says it is empty (``/proc/kmsg``) is empty, not read until it ends.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SpecError.single(name, f"cannot read file: {exc.strerror or exc}") from None
    try:
        if within and not _opened_within(fd, within):
            raise SpecError.single(name, "is outside the folders a spec may extend from")
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SpecError.single(name, f"not a regular file ({_file_kind(st.st_mode)}): a spec is a YAML or "
                                   "JSON file")
        if st.st_size > MAX_FILE_BYTES:
            raise SpecError.single(name, f"file is {st.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit "
                                   "for a spec")
        chunks, left = [], st.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except BlockingIOError:
        raise SpecError.single(name, "cannot read file: reading it would block (not a plain file?)") from None
    except OSError as exc:
        raise SpecError.single(name, f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _opened_within(fd: int, roots: tuple[Path, ...]) -> bool:
    """Whether the file behind ``fd`` lies under one of ``roots`` (Linux: its /proc/self/fd link)."""
    link = Path(f"/proc/self/fd/{fd}")
    if not link.exists():  # no procfs: the check by name before the open stands alone
        return True
    real = Path(os.readlink(link))
    return any(real.is_relative_to(r) for r in roots)


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((text for test, text in kinds if test(mode)), "not a plain file")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading exponent floats without a dot (``1e-05``) as YAML 1.2 and JSON do.

    YAML 1.1 reads ``1e-05`` as text; json.dumps and most editors write it.
    """


_FLOAT = "tag:yaml.org,2002:float"
_LOADERS: list[type[yaml.SafeLoader] | type[yaml.CSafeLoader]] = [_Loader]
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):
        """libyaml's parser with the same resolvers: the fast first reading."""

    _LOADERS.insert(0, _CLoader)

_FLOAT_1_2 = re.compile(r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
                        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_BOOL_1_2 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_1_2 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
for _loader in _LOADERS:
    # YAML 1.2 booleans, integers and floats only, as JSON Schema tools and editors read them: `yes`, `no`,
    # `on`, `off`, `0b11`, `1_000`, `1:00`, `1_0.5` and `1:1:1.0` are text, and `010` is ten (PyYAML's YAML 1.1
    # makes `residual: yes` true, `010` eight and `1:1:...:1.0` a sexagesimal float that overflowed).
    _loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
        for first, resolvers in _loader.yaml_implicit_resolvers.items()}
    _loader.add_implicit_resolver(_BOOL, _BOOL_1_2, list("tTfF"))
    _loader.add_implicit_resolver(_INT, _INT_1_2, list("-+0123456789"))
    _loader.add_implicit_resolver(_FLOAT, _FLOAT_1_2, list("-+0123456789."))


def parse_source(raw: bytes, name: str) -> Source:
    """Parse spec bytes (YAML or JSON, which YAML reads too) into a :class:`Source`."""
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError.single(name, f"spec is {len(raw):,} bytes, over the {MAX_FILE_BYTES:,}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError.single(name, f"file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                               line, col) from None
    text = text.removeprefix("\ufeff")
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise SpecError.single(name, "file is empty: expected a mapping such as 'name: ...' and 'stages: [...]'", 1, 1)
    if name.endswith(".json"):
        _check_json(text, name)
    nodes = [n for n in _compose(text, name) if n is not None]
    if not nodes:
        raise SpecError.single(name, "file is empty: expected a mapping such as 'name: ...' and 'stages: [...]'", 1, 1)
    if len(nodes) > 1:
        m = nodes[1].start_mark
        raise SpecError.single(
            name, "file holds several YAML documents; a spec is exactly one", m.line + 1, m.column + 1
        )
    root = nodes[0]
    if not isinstance(root, yaml.MappingNode):
        m = root.start_mark
        raise SpecError.single(name, f"top level must be a mapping of fields, not a {_kind(root)}", m.line + 1,
                               m.column + 1)
    src = Source({}, {}, name)
    src.positions[()] = _loc(name, root)
    src.data = _build(root, (), src)
    return src


def _compose(text: str, name: str) -> list[Any]:
    """The YAML node trees of ``text``, once its event stream has kept within the limits.

    libyaml reads first when PyYAML has it (refusing a 1 MB list of numbers takes
    milliseconds, not the pure-Python parser's seconds); a text it finds fault
    with is read again by PyYAML's own parser, whose messages we word for the user.
    """
    for loader in _LOADERS:
        try:
            _check_events(yaml.parse(text, Loader=loader), name)
            return list(yaml.compose_all(text, Loader=loader))
        except yaml.YAMLError as exc:
            if loader is not _Loader:
                continue
            raise SpecError.single(name, *_syntax_error(exc, text)) from None
    raise AssertionError("unreachable: the pure-Python loader either returns or raises")


def _syntax_error(exc: yaml.YAMLError, text: str) -> tuple[str, int, int]:
    """(message, line, column) of a YAML syntax error, worded for a spec author."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(exc.problem or exc.context or "invalid syntax").split())
        ctx = f" {exc.context}" if exc.context and exc.problem else ""
        if ctx and exc.context_mark and mark and exc.context_mark.line != mark.line:
            ctx += f" opened on line {exc.context_mark.line + 1}"  # an unclosed bracket: say where it opened
        if "'\\t'" in what:
            ctx += " (indent YAML with spaces, not tabs)"
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        return f"invalid YAML/JSON syntax: {what}{ctx}", line, col
    if isinstance(exc, yaml.reader.ReaderError):  # a control character; the reader gives only an offset
        pos = exc.position
        line, col = text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1
        return f"invalid YAML/JSON: control character U+{exc.character:04X} is not allowed in a spec file", line, col
    return f"invalid YAML/JSON: {' '.join(str(exc).split())}", 0, 0


def _check_events(events: Iterator[yaml.Event], name: str) -> None:
    """Refuse deep nesting and too many values from the event stream, before any node is built.

    Stops at the first event past a limit, so a huge file costs what its first
    values cost.
    """
    depth = values = 0
    for event in events:
        if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)):
            values += 1
            if values > MAX_VALUES:
                raise SpecError.single(name, f"spec has more than {MAX_VALUES:,} values (a spec has a few "
                                       "hundred)", *_event_pos(event))
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError.single(name, f"nesting is more than {MAX_DEPTH} levels deep", *_event_pos(event))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _event_pos(event: yaml.Event) -> tuple[int, int]:
    """(line, column) where ``event`` starts; (0, 0), no position, for an event without a mark."""
    m = event.start_mark
    return (m.line + 1, m.column + 1) if m else (0, 0)


def _check_json(text: str, name: str) -> None:
    """Hold .json files to strict JSON (YAML alone would forgive trailing commas and comments)."""
    try:
        # Syntax only: numbers are not converted (a 5,000-digit integer would raise ValueError here).
        json.loads(text, object_pairs_hook=lambda pairs: None, parse_int=len, parse_float=len, parse_constant=len)
    except json.JSONDecodeError as exc:
        hint = " (a trailing comma?)" if text[: exc.pos].rstrip().endswith(",") else ""
        raise SpecError.single(name, f"invalid JSON: {exc.msg}{hint}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise SpecError.single(name, "nesting is far too deep for a spec") from None


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return "scalar value"


def _loc(name: str, node: yaml.Node) -> Location:
    return Location(name, node.start_mark.line + 1, node.start_mark.column + 1)


def _build(node: yaml.Node, path: FieldPath, src: Source, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise SpecError.single(src.file, f"nesting is more than {MAX_DEPTH} levels deep", *_pos(node))
    src.built += 1
    if src.built > MAX_VALUES:
        raise SpecError.single(src.file, f"spec expands to more than {MAX_VALUES:,} values through YAML aliases",
                               *_pos(node))
    if isinstance(node, yaml.MappingNode):
        _check_tag(node, {_MAP}, path, src)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError.single(src.file, "YAML merge keys ('<<') are not supported; use 'extends:'",
                                       *_pos(key_node), path=path)
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError.single(src.file, "mapping keys must be plain names", *_pos(key_node), path=path)
            key = key_node.value
            if key in out:
                first = src.positions[path + (key,)]
                raise SpecError.single(src.file, f"duplicate key '{key}' (first written on line {first.line})",
                                       *_pos(key_node), path=path + (key,))
            src.positions[path + (key,)] = _loc(src.file, key_node)
            out[key] = _build(value_node, path + (key,), src, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        _check_tag(node, {_SEQ}, path, src)
        items = []
        for i, item in enumerate(node.value):
            src.positions[path + (i,)] = _loc(src.file, item)
            items.append(_build(item, path + (i,), src, depth + 1))
        return items
    if node.tag == _TIMESTAMP:
        return node.value  # an unquoted date is text to us, not a datetime
    _check_tag(node, _SCALAR_TAGS, path, src)
    if node.tag == _INT and len(node.value) > MAX_NUMBER_CHARS:
        # Refused before it is built: int() of 5,000 digits raises, and a long sexagesimal
        # (59:59:...) or hex int would take seconds and print as an error itself.
        raise SpecError.single(src.file, f"number is {len(node.value):,} characters long; a spec's numbers have at "
                               f"most {MAX_NUMBER_CHARS}", *_pos(node), path=path)
    if node.tag == _INT:
        return _int_1_2(cast(yaml.ScalarNode, node), path, src)  # mappings and sequences returned above
    try:
        value = yaml.constructor.SafeConstructor().construct_object(node)
    except (ValueError, KeyError, IndexError):  # an explicit tag on the wrong text (`!!int abc`), or 5,000 digits
        kind = node.tag.rsplit(":", 1)[-1]
        raise SpecError.single(src.file, f"cannot read this as {kind}", *_pos(node), path=path,
                               received=node.value) from None
    if isinstance(value, str) and not value.isascii() and any("\ud800" <= c <= "\udfff" for c in value):
        # JSON (and YAML "\u" escapes) write characters beyond U+FFFF as surrogate pairs: join them
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return value


def _int_1_2(node: yaml.ScalarNode, path: FieldPath, src: Source) -> int:
    """A YAML 1.2 integer: decimal (leading zeros allowed: ``010`` is ten), ``0o`` octal or ``0x`` hex."""
    text = node.value
    try:
        if text.startswith(("0x", "0o")):
            return int(text[2:], 16 if text[1] == "x" else 8)
        return int(text, 10)
    except ValueError:  # an explicit !!int on other text (`!!int abc`, YAML 1.1's `0b11`)
        raise SpecError.single(src.file, "cannot read this as int", *_pos(node), path=path,
                               received=text) from None


def _check_tag(node: yaml.Node, allowed: set[str], path: FieldPath, src: Source) -> None:
    if node.tag not in allowed:
        raise SpecError.single(src.file, f"YAML tag '{node.tag}' is not allowed: specs hold plain data only",
                               *_pos(node), path=path)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
