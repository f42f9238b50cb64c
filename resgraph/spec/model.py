"""Pydantic models of a ResNet spec: the schema users write in YAML/JSON.

Names follow He et al. (2016): stem, stages of residual blocks, block type,
shortcut option (paper §3.3). A *plain* network (``residual: false``) is the
same stack with no shortcuts at all. The allowed block types, stems, shortcut
options and attention kinds, and each kind's own typed options, come from the
registries of :mod:`resgraph.kinds`: this module lists none of them.

Only *types and ranges* live here. Rules that relate several fields (option A
cannot shrink channels, the input must survive the downsampling, ...) live in
:mod:`resgraph.spec.checks` so that each error can name its own field path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from resgraph.kinds import ATTENTION, BLOCKS, SHORTCUTS, STEMS
from resgraph.kinds.base import BlockKind, BlockOptions, StemOptions, one_of, shorthand

if TYPE_CHECKING:  # what the checker sees of the types below, built at run time from the registries
    Shortcut = str
    StemField = StemOptions
    BlockField = BlockOptions
else:
    Shortcut = Literal[SHORTCUTS.names()]
    StemField = one_of(STEMS)
    BlockField = one_of(BLOCKS)
for _registry in (ATTENTION, BLOCKS, SHORTCUTS, STEMS):  # the models below are built from them: no late kinds
    _registry.freeze()
# Hard ceilings that refuse absurd specs before anything is allocated.
MAX_BLOCKS_PER_STAGE = 10_000
MAX_WIDTH = 65_536
MAX_SIZE = 16_384
MAX_CHANNELS = 4_096
MAX_CLASSES = 1_000_000
MAX_STRIDE = 8


_Side = Annotated[int, Field(ge=1, le=MAX_SIZE)]


class _Strict(BaseModel):
    """Base: unknown keys are errors, instances are immutable and hashable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class InputSpec(_Strict):
    """The input tensor of one image: channels and spatial size (square or [height, width])."""

    channels: int = Field(3, ge=1, le=MAX_CHANNELS, description="input channels (3 for RGB)")
    size: _Side | tuple[_Side, _Side] = Field(
        224, description="spatial size: one number for a square input, or [height, width]"
    )

    @field_validator("size", mode="before")
    @classmethod
    def _list_to_pair(cls, v: Any) -> Any:
        # YAML/JSON have no tuples: accept a 2-item list for [height, width].
        return tuple(v) if isinstance(v, list) else v

    @property
    def hw(self) -> tuple[int, int]:
        """(height, width) whichever way the size was written."""
        return (self.size, self.size) if isinstance(self.size, int) else self.size


class StageSpec(_Strict):
    """A run of residual blocks at one resolution; the first block may downsample and widen."""

    blocks: int = Field(..., ge=1, le=MAX_BLOCKS_PER_STAGE, description="number of residual blocks")
    width: int = Field(..., ge=1, le=MAX_WIDTH, description="inner width; a bottleneck outputs width x expansion")
    stride: int = Field(1, ge=1, le=MAX_STRIDE, description="stride of the stage's first block")
    block: BlockField | None = Field(
        None, description="override the network's block for this stage; a mapping without `type` changes "
                          "only the options it names")
    shortcut: Shortcut | None = Field(None, description="override the network's shortcut option for this stage")


class HeadSpec(_Strict):
    """Classifier: global average pool, then a fully connected layer."""

    classes: int = Field(1000, ge=1, le=MAX_CLASSES, description="number of output classes")


class ResNetSpec(_Strict):
    """A whole residual (or plain) network."""

    name: str = Field(..., min_length=1, max_length=200, description="the network's name (printable text)")
    description: str | None = Field(None, description="free text, ignored by the compiler")
    input: InputSpec = Field(default_factory=InputSpec, description="input channels and size")
    stem: StemField = Field(
        default_factory=lambda: STEMS["imagenet"].Options.model_validate({}),  # its defaults, `type` included
        description=f"the layers before the first stage: {', '.join(STEMS.names())}, or a mapping with "
                    "`type` and that stem's options")
    block: BlockField = Field(
        default_factory=lambda: BLOCKS["basic"].Options.model_validate({}),  # its defaults, `type` included
        description=f"block type of every stage unless a stage overrides it: {', '.join(BLOCKS.names())}, or a "
                    "mapping with `type` and that block's options")
    residual: bool = Field(True, description="false builds the plain twin: the same stack with no shortcuts")
    shortcut: Shortcut = Field(
        "B", description=f"shortcut option {'/'.join(SHORTCUTS.names())} (paper §3.3), per-stage overridable")
    drop_path: float = Field(
        0.0, ge=0.0, lt=1.0, allow_inf_nan=False,
        description="stochastic depth: the last block's drop-path rate, linear in depth from 0 (training only)")
    zero_init_residual: bool = Field(False, description="initialise each block's last BN (or conv) weight to zero")
    stages: list[StageSpec] = Field(..., min_length=1, max_length=64, description="the stages, first to last")
    head: HeadSpec = Field(default_factory=HeadSpec, description="classifier head")

    @field_validator("name")
    @classmethod
    def _printable(cls, v: str) -> str:
        # The name is printed on terminals and written into tables, CSV, GraphML and DOT: a line break
        # would forge an output line, an escape sequence would reach the terminal, a NUL breaks XML.
        if not v.isprintable():
            raise ValueError("must be printable text: no line breaks, tabs, escapes or other control characters")
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    @field_validator("drop_path", mode="before")
    @classmethod
    def _int_rate(cls, v: Any) -> Any:
        # `drop_path: 0` is a rate too; strict mode would refuse the int.
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @model_validator(mode="before")
    @classmethod
    def _stage_blocks(cls, data: Any) -> Any:
        # A stage's `block` mapping without a `type` (or with the network's) refines the
        # network's block; one with another type replaces it.
        if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
            return data
        base = shorthand(data.get("block", "basic"))
        stages = []
        for st in data["stages"]:
            if isinstance(st, dict) and isinstance(st.get("block"), (str, dict)) and isinstance(base, dict):
                own = shorthand(st["block"])
                if own.get("type", base.get("type")) == base.get("type"):
                    st = {**st, "block": {**base, **own}}
            stages.append(st)
        return {**data, "stages": stages}

    def stage_block(self, i: int) -> BlockOptions:
        """Block options of stage i, after its override."""
        return self.stages[i].block or self.block

    def stage_kind(self, i: int) -> BlockKind:
        """The registered block type of stage i."""
        return BLOCKS[self.stage_block(i).type]

    def stage_shortcut(self, i: int) -> str:
        """Shortcut option of stage i, after its override."""
        return self.stages[i].shortcut or self.shortcut

    def stage_out_channels(self, i: int) -> int:
        """Channels leaving stage i: its width, times the expansion for bottlenecks."""
        return self.stage_kind(i).out_channels(self.stages[i].width, self.stage_block(i))

    @property
    def depth(self) -> int:
        """Weighted layers on the longest path (convs + fc; shortcuts and attention gates excluded)."""
        blocks = sum(s.blocks * self.stage_kind(i).depth for i, s in enumerate(self.stages))
        return STEMS[self.stem.type].depth(self.stem) + blocks + 1
