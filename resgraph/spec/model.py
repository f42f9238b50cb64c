"""Pydantic models of a ResNet spec: the schema users write in YAML/JSON.

Names follow He et al. (2016): stem, stages of residual blocks, block type
(basic / bottleneck), shortcut option A/B/C (paper §3.3). A *plain* network
(``residual: false``) is the same stack with no shortcuts at all.

Only *types and ranges* live here. Rules that relate several fields (option A
cannot shrink channels, the input must survive the downsampling, ...) live in
:mod:`resgraph.spec.checks` so that each error can name its own field path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BlockType = Literal["basic", "bottleneck"]
Shortcut = Literal["A", "B", "C"]
StemType = Literal["imagenet", "cifar"]
StridePlacement = Literal["3x3", "1x1"]

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


class StemSpec(_Strict):
    """The layers before the first stage.

    ``imagenet``: 7x7/2 conv, BN, ReLU, 3x3/2 max-pool (paper Table 1).
    ``cifar``: 3x3/1 conv, BN, ReLU, no pool (paper §4.2).
    """

    type: StemType = Field("imagenet", description="imagenet (7x7/2 conv + 3x3/2 max-pool) or cifar (3x3 conv)")
    width: int | None = Field(
        None, ge=1, le=MAX_WIDTH, description="output channels; default 64 (imagenet) or 16 (cifar)"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        # `stem: imagenet` is shorthand for `stem: {type: imagenet}`.
        return {"type": v} if isinstance(v, str) else v

    @property
    def out_channels(self) -> int:
        """Stem width, with the paper's default for the stem type."""
        if self.width is not None:
            return self.width
        return 64 if self.type == "imagenet" else 16


class StageSpec(_Strict):
    """A run of residual blocks at one resolution; the first block may downsample and widen."""

    blocks: int = Field(..., ge=1, le=MAX_BLOCKS_PER_STAGE, description="number of residual blocks")
    width: int = Field(..., ge=1, le=MAX_WIDTH, description="inner width; a bottleneck outputs width x expansion")
    stride: int = Field(1, ge=1, le=MAX_STRIDE, description="stride of the stage's first block")
    block: BlockType | None = Field(None, description="override the network's block type for this stage")
    shortcut: Shortcut | None = Field(None, description="override the network's shortcut option for this stage")


class HeadSpec(_Strict):
    """Classifier: global average pool, then a fully connected layer."""

    classes: int = Field(1000, ge=1, le=MAX_CLASSES, description="number of output classes")


class ResNetSpec(_Strict):
    """A whole residual (or plain) network."""

    name: str = Field(..., min_length=1, max_length=200, description="the network's name")
    description: str | None = Field(None, description="free text, ignored by the compiler")
    input: InputSpec = Field(default_factory=InputSpec, description="input channels and size")
    stem: StemSpec = Field(default_factory=StemSpec, description="imagenet or cifar stem")
    block: BlockType = Field("basic", description="block type of every stage unless a stage overrides it")
    residual: bool = Field(True, description="false builds the plain twin: the same stack with no shortcuts")
    shortcut: Shortcut = Field("B", description="shortcut option A/B/C (paper §3.3), per-stage overridable")
    expansion: int = Field(4, ge=1, le=64, description="bottleneck output width = width x expansion")
    bottleneck_stride: StridePlacement = Field(
        "3x3", description="where a bottleneck downsamples: 3x3 (ResNet v1.5, torchvision) or 1x1 (the paper)"
    )
    groups: int = Field(1, ge=1, le=MAX_WIDTH, description="groups of the bottleneck 3x3 conv (ResNeXt)")
    base_width: int = Field(
        64, ge=1, le=MAX_WIDTH, description="bottleneck 3x3 width = width x base_width/64 x groups (Wide ResNet)"
    )
    zero_init_residual: bool = Field(False, description="initialise each block's last BN weight to zero")
    stages: list[StageSpec] = Field(..., min_length=1, max_length=64, description="the stages, first to last")
    head: HeadSpec = Field(default_factory=HeadSpec, description="classifier head")


    def stage_block(self, i: int) -> BlockType:
        """Block type of stage i, after its override."""
        return self.stages[i].block or self.block

    def stage_shortcut(self, i: int) -> Shortcut:
        """Shortcut option of stage i, after its override."""
        return self.stages[i].shortcut or self.shortcut

    def stage_out_channels(self, i: int) -> int:
        """Channels leaving stage i: width, times the expansion for bottlenecks."""
        s = self.stages[i]
        return s.width * (self.expansion if self.stage_block(i) == "bottleneck" else 1)

    @property
    def depth(self) -> int:
        """Weighted layers (convs + fc, shortcuts excluded): 6n+2, 18, 50, ..."""
        convs = sum(s.blocks * (3 if self.stage_block(i) == "bottleneck" else 2) for i, s in enumerate(self.stages))
        return 1 + convs + 1
