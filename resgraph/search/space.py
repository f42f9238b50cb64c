"""A design space file: a base spec (a preset or a spec file), the choices around it, and constraints.

Read with the spec loader's YAML machinery (:mod:`resgraph.spec.source`: positions, duplicate keys,
plain data only), validated by the pydantic models below; every problem is a diagnostic with the
file, line and column where it was written, as for a spec. Bundled spaces live in ``spaces/`` beside
this module and are found by name, like presets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from resgraph.errors import Diagnostic, FieldPath, SpecError
from resgraph.kinds import ATTENTION, BLOCKS, SHORTCUTS, STEMS
from resgraph.spec.model import MAX_BLOCKS_PER_STAGE, MAX_SIZE, MAX_WIDTH, ResNetSpec
from resgraph.spec.presets import SPEC_SUFFIXES, suggest
from resgraph.spec.source import Source, read_source

__all__ = ["Choices", "Constraints", "Space", "SpaceFile", "Widths", "load_space", "space_names", "spaces_dir"]

if TYPE_CHECKING:
    BlockName = str
    StemName = str
    ShortcutName = str
    AttentionName = str
else:
    BlockName = Literal[BLOCKS.names()]
    StemName = Literal[STEMS.names()]
    ShortcutName = Literal[SHORTCUTS.names()]
    AttentionName = Literal[("none", *ATTENTION.names())]


def _ordered(v: tuple[Any, Any]) -> tuple[Any, Any]:
    if v[0] > v[1]:
        raise ValueError(f"must be [low, high] with low <= high, not [{v[0]}, {v[1]}]")
    return v


def _distinct(v: list[Any]) -> list[Any]:
    if len(set(map(str, v))) != len(v):
        raise ValueError("lists a value twice")
    return v


_Count = Annotated[int, Field(ge=1, le=MAX_BLOCKS_PER_STAGE)]
BlocksRange = Annotated[tuple[_Count, _Count], AfterValidator(_ordered)]


def _blocks_form(v: Any) -> str:
    """Which form ``blocks`` is written in: a list of lists is one range per stage."""
    return "per_stage" if isinstance(v, (list, tuple)) and v and isinstance(v[0], (list, tuple)) else "one"


# Told apart by their shape, so an error is reported once, in the form the author wrote.
Blocks = Annotated[Annotated[BlocksRange, Tag("one")] | Annotated[list[BlocksRange], Tag("per_stage")],
                   Discriminator(_blocks_form)]
_Factor = Annotated[float, Field(gt=0, le=64, allow_inf_nan=False)]


def _options() -> Any:
    """An optional list of at least one value."""
    return Field(None, min_length=1, max_length=64)


class _Model(BaseModel):
    """Unknown keys are errors; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Widths(_Model):
    """Stage widths: the base's scaled by a factor on a grid (rounded to ``divisor``), or picked from ``values``."""

    multiplier: Annotated[tuple[_Factor, _Factor], AfterValidator(_ordered)] | None = None  # [low, high]
    step: float = Field(0.25, gt=0, le=64, allow_inf_nan=False)  # the factor's grid
    divisor: int = Field(8, ge=1, le=1024)  # widths are multiples of this
    per_stage: bool = True  # one factor per stage; false: one for the whole network
    values: Annotated[list[Annotated[int, Field(ge=1, le=MAX_WIDTH)]], AfterValidator(_distinct)] | None = Field(
        None, min_length=1, max_length=64)  # each stage's width, from this list

    @model_validator(mode="after")
    def _one_way(self) -> Widths:
        if (self.multiplier is None) == (self.values is None):
            raise ValueError("give either `multiplier: [low, high]` (with `step`, `divisor`) or `values: [...]`")
        if self.multiplier is not None and len(self.factors()) > 256:
            raise ValueError(f"multiplier {list(self.multiplier)} in steps of {self.step} is "
                             f"{len(self.factors())} factors; at most 256")
        return self

    def factors(self) -> list[float]:
        """The multiplier's grid, low to high (high included when the step reaches it)."""
        if self.multiplier is None:
            return []
        lo, hi = self.multiplier
        n = int(math.floor((hi - lo) / self.step + 1e-9))
        return [round(lo + i * self.step, 6) for i in range(min(n, 10_000) + 1)]


class Choices(_Model):
    """What a search may change in the base; a choice left out keeps the base's value."""

    blocks: Blocks | None = None  # per stage: one [min, max] for all, or one per stage
    widths: Widths | None = None
    block: Annotated[list[BlockName], AfterValidator(_distinct)] | None = _options()  # block types
    groups: Annotated[list[tuple[Annotated[int, Field(ge=1, le=1024)], Annotated[int, Field(ge=1, le=4096)]]],
                      AfterValidator(_distinct)] | None = _options()  # [groups, base_width] of a bottleneck's 3x3
    shortcut: Annotated[list[ShortcutName], AfterValidator(_distinct)] | None = _options()
    shortcut_per_stage: bool = False  # one shortcut option per stage instead of one per network
    stem: Annotated[list[StemName], AfterValidator(_distinct)] | None = _options()
    attention: Annotated[list[AttentionName], AfterValidator(_distinct)] | None = _options()  # `none` or a kind
    input_size: Annotated[list[Annotated[int, Field(ge=1, le=MAX_SIZE)]], AfterValidator(_distinct)] | None = (
        _options())


class Constraints(_Model):
    """Rules between choices; a draw that breaks one is no network of the space."""

    non_decreasing_widths: bool = False  # each stage at least as wide as the one before
    depth: Annotated[tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]],
                     AfterValidator(_ordered)] | None = None  # weighted layers, [min, max]


class SpaceFile(_Model):
    """A design space as its file says it."""

    name: str = Field(..., min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str | None = None
    base: str = Field(..., min_length=1, description="a bundled preset name, or a spec file relative to this file")
    choices: Choices = Field(default_factory=Choices)
    constraints: Constraints = Field(default_factory=Constraints)


@dataclass(frozen=True)
class Space:
    """A loaded space: the file's model, its base spec, where it came from and how its base is written."""

    file: SpaceFile
    base: ResNetSpec
    source: str  # the file as named (or ``space:NAME``)
    base_ref: str  # the base as `extends:` writes it: a preset name, else a resolved path

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def base_is_preset(self) -> bool:
        return not _looks_like_path(self.file.base)


def spaces_dir() -> Path:
    """The folder of the bundled space files."""
    return Path(__file__).resolve().parent / "spaces"


def space_names() -> list[str]:
    """Names of the bundled spaces, sorted."""
    return sorted(p.stem for p in spaces_dir().iterdir() if p.suffix in SPEC_SUFFIXES)


def _looks_like_path(ref: str) -> bool:
    return "/" in ref or "\\" in ref or ref.endswith(SPEC_SUFFIXES)


def load_space(ref: str | Path) -> Space:
    """A validated space from a file or a bundled name; every problem is a :class:`SpecError` line with its place."""
    text = str(ref)
    if isinstance(ref, Path) or _looks_like_path(text):
        path, display = Path(text), text
        if not text.endswith(SPEC_SUFFIXES):
            raise SpecError.single(display, f"not a space file: its name must end in {', '.join(SPEC_SUFFIXES)}")
        if not path.exists():
            raise SpecError.single(display, "no such space file")
    else:
        path, display = spaces_dir() / f"{text}.yaml", f"space:{text}"
        if not path.is_file():
            raise SpecError.single(text, f"unknown space '{text}'{suggest(text, space_names())}; 'resgraph spaces' "
                                   "lists them")
    src = read_source(path, display)
    try:
        model = SpaceFile.model_validate(src.data)
    except ValidationError as exc:
        raise SpecError(_diagnostics(exc, src)) from None
    base_ref = model.base if not _looks_like_path(model.base) else str((path.parent / model.base).resolve())
    base = _load_base(base_ref, src)
    _check_against_base(model, base, src)
    return Space(model, base, display, base_ref)


def _load_base(ref: str, src: Source) -> ResNetSpec:
    from resgraph.graph.load import load_spec

    try:
        return load_spec(ref)
    except SpecError as exc:
        here = Diagnostic(src.locate(("base",)), ("base",), "the base spec does not load (below)", ref, True)
        raise SpecError([here, *exc.diagnostics]) from None


def _check_against_base(model: SpaceFile, base: ResNetSpec, src: Source) -> None:
    """Choices that cannot apply to this base: one blocks range per stage, or one for all."""
    blocks = model.choices.blocks
    if isinstance(blocks, list) and len(blocks) != len(base.stages):
        path: FieldPath = ("choices", "blocks")
        raise SpecError([Diagnostic(src.locate(path), path, f"gives {len(blocks)} ranges for the base's "
                                    f"{len(base.stages)} stages (one [min, max] for all, or one per stage)",
                                    [list(b) for b in blocks], True)])


def _diagnostics(exc: ValidationError, src: Source) -> list[Diagnostic]:
    """Pydantic's errors at the place each field was written; union branch names dropped, each path once."""
    out: dict[FieldPath, Diagnostic] = {}
    for err in exc.errors(include_url=False):
        path = _written_path(err["loc"], src.data)
        if path in out:
            continue
        kind, ctx = err["type"], err.get("ctx", {})
        received, show = err.get("input"), True
        if kind == "missing":
            message, show = "required field is missing", False
        elif kind == "extra_forbidden":
            allowed = _allowed(path[:-1])
            show = False
            message = f"unknown key{suggest(str(path[-1]), allowed)}; expected one of: {', '.join(allowed)}"
        elif kind == "literal_error":
            names = [s.strip("' ") for s in ctx["expected"].replace(" or ", ", ").split(",")]
            message = f"must be one of {ctx['expected']}{suggest(str(received), names)}"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            message = msg[:1].lower() + msg[1:]
        out[path] = Diagnostic(src.locate(path), path, message, received, show)
    return sorted(out.values(), key=lambda d: (d.location.line, d.location.column))


def _written_path(loc: tuple[Any, ...], data: Any) -> FieldPath:
    """``loc`` without pydantic's union branch names (``tuple[...]``, ``list[...]``): the keys the author wrote."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and (isinstance(node, list) or "[" in part):
            continue  # a union branch's name (``one``, ``tuple[...]``), not a key the author wrote
        else:
            path.append(part)
            node = None
    return tuple(path)


_MODELS: dict[FieldPath, type[BaseModel]] = {(): SpaceFile, ("choices",): Choices, ("constraints",): Constraints,
                                             ("choices", "widths"): Widths}


def _allowed(parent: FieldPath) -> list[str]:
    model = _MODELS.get(parent)
    return list(model.model_fields) if model else []
