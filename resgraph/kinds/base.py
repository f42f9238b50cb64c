"""The four kinds of the design space, their registries, and what an emitter is handed.

A kind emits IR nodes through a context (never the spec) and declares what it
contributes: output channels, weighted depth, label and colour. The compiler
(:mod:`resgraph.graph.compile`) walks the spec and calls the kinds; it knows
no kind by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import BeforeValidator, Field

from resgraph.kinds.registry import Kind, Options, Registry

if TYPE_CHECKING:
    from resgraph.graph.builder import Builder
    from resgraph.kinds.layouts import Layout


def shorthand(value: Any) -> Any:
    """``se`` is shorthand for ``{type: se}``: a kind's bare name stands for its default options."""
    return {"type": value} if isinstance(value, str) else value


def one_of(registry: Registry[Any]) -> Any:
    """The pydantic type of a field holding any kind of ``registry``, told apart by ``type``.

    Built from the registry when a spec model is defined: every registered kind is
    allowed, its options typed by its own model, a bare name accepted as shorthand.
    """
    types = registry.options_types()
    union: Any = types[0] if len(types) == 1 else Union[types]  # noqa: UP007 (built at run time)
    names = Literal[registry.names()]  # type: ignore[valid-type]  # a Literal of the registry's names, built at run time
    parts: list[Any] = [BeforeValidator(shorthand, json_schema_input_type=Union[names, union])]  # noqa: UP007 - a Union of types built at run time
    if len(types) > 1:
        parts.insert(0, Field(discriminator="type"))
    return Annotated[(union, *parts)]


# --- attention in the residual branch ---------------------------------------------------------


class AttentionOptions(Options):
    """Base of an attention kind's options."""


class AttentionKind(Kind):
    """A gate inside the residual branch (SE, ECA): reweights the branch's channels."""

    def emit(self, k: BlockContext, x: str, c: int, o: Options) -> str:
        """Nodes that gate ``x`` (``c`` channels); returns the gated map."""
        raise NotImplementedError

    def check(self, c: int, o: Options) -> str | None:
        """Why this gate cannot be built on ``c`` channels; None if it can."""
        return None


ATTENTION: Registry[AttentionKind] = Registry("attention")


# --- shortcuts --------------------------------------------------------------------------------


@dataclass
class ShortcutContext:
    """The shortcut of one block: its input and output channels, its stride, where to name parts."""

    b: Builder
    block: str         # the block's scope, e.g. "layer2.0"
    c_in: int
    c_out: int
    stride: int
    layout: Layout

    @property
    def changes(self) -> bool:
        """Whether the block changes dimensions (channels or resolution): the identity cannot add up."""
        return self.c_in != self.c_out or self.stride != 1

    def part(self, index: int, name: str) -> str:
        """The scope of the shortcut's ``index``-th part: ``downsample.1`` (v1) or ``downsample.conv`` (v2)."""
        return self.layout.shortcut_part(self.block, index, name)

    def projection(self, x: str, index: int = 0, stride: int | None = None) -> str:
        """1x1 conv to ``c_out`` at ``index``, then BN at ``index + 1`` (no BN in pre-activation nets)."""
        s = self.stride if stride is None else stride
        y = self.b.conv(self.part(index, "conv"), x, self.c_in, self.c_out, 1, s, role="shortcut")
        if self.layout.preact:  # the next block's pre-activation normalises the sum
            return y
        return self.b.bn(self.part(index + 1, "norm"), y, self.c_out, "shortcut")


class ShortcutKind(Kind):
    """A shortcut option (paper §3.3): the path that carries x around the residual branch."""

    edge: ClassVar[tuple[str, str, str]]  # (colour, DOT style, short text) of its edge in the pictures

    def emit(self, s: ShortcutContext, x: str) -> str | None:
        """Nodes of the shortcut from ``x``; None for the identity."""
        raise NotImplementedError

    def check(self, c_in: int, c_out: int, stride: int) -> str | None:
        """Why this option cannot join ``c_in`` to ``c_out`` channels at ``stride``; None if it can."""
        return None


SHORTCUTS: Registry[ShortcutKind] = Registry("shortcut option")

# What a block shows when no registered option emitted anything: the identity, or no shortcut at all.
IDENTITY = ("identity", "#ffffff", ("#888888", "dashed", ""))
PLAIN = ("none (plain)", "#f3f3f3", None)


# --- stems ------------------------------------------------------------------------------------


class StemOptions(Options):
    """Options every stem has: its output width."""

    width: int | None = None

    @property
    def out_channels(self) -> int:
        """Channels leaving the stem: ``width``, else the stem type's default."""
        return STEMS[self.type].out_channels(self)


class StemKind(Kind):
    """The layers before the first stage: a stack of convs (BN and ReLU between), optionally a max-pool."""

    default_width: ClassVar[int]
    pool: ClassVar[bool]          # a 3x3/2 max-pool after the convs
    Options: ClassVar[type[StemOptions]] = StemOptions

    def convs(self, o: StemOptions) -> list[tuple[int, int, int]]:
        """(output channels, kernel, stride) of each conv, first to last."""
        raise NotImplementedError

    def out_channels(self, o: StemOptions) -> int:
        return o.width if o.width is not None else self.default_width

    def check(self, o: StemOptions) -> str | None:
        """Why these options build no stem; None if they do."""
        empty = [i for i, (c, _, _) in enumerate(self.convs(o)) if c < 1]
        if empty:
            return f"conv {empty[0] + 1} of the {self.name} stem would have 0 channels at width {o.width}"
        return None

    def depth(self, o: StemOptions) -> int:
        return len(self.convs(o))


STEMS: Registry[StemKind] = Registry("stem")


# --- blocks -----------------------------------------------------------------------------------


@dataclass
class BlockContext:
    """One residual block being emitted: its scope, channels, stride, and its shortcut to place."""

    b: Builder
    scope: str                     # "layer1.0" or "stages.0.blocks.0"
    x: str                         # the block's input node
    c_in: int
    c_out: int
    width: int                     # the stage's width (a bottleneck's inner width before groups)
    stride: int
    zero_init: bool                # zero-initialise the last layer of the branch
    _shortcut: ShortcutKind | None
    layout: Layout
    shortcut_node: str | None = field(default=None, init=False)
    shortcut_kind: str = field(default="", init=False)

    def name(self, rel: str) -> str:
        return f"{self.scope}.{rel}"

    def conv(self, rel: str, x: str, c_in: int, c_out: int, k: int, s: int = 1, groups: int = 1,
             last: bool = False) -> str:
        return self.b.conv(self.name(rel), x, c_in, c_out, k, s, groups, "branch", zero_init=last and self.zero_init)

    def bn(self, rel: str, x: str, c: int, last: bool = False) -> str:
        return self.b.bn(self.name(rel), x, c, "branch", last and self.zero_init)

    def relu(self, rel: str, x: str) -> str:
        return self.b.relu(self.name(rel), x, "branch")

    def attend(self, x: str, c: int, o: Options | None) -> str:
        """``x`` gated by the attention kind ``o`` names; ``x`` itself when there is none."""
        return x if o is None else ATTENTION[o.type].emit(self, x, c, o)

    def shortcut(self, x: str | None = None, before: str | None = None) -> str | None:
        """Emit the shortcut from ``x`` (default: the block input); returns the node the add joins.

        The identity joins the block's input itself, whatever ``x`` is: a
        pre-activation block projects its normalised input but adds its raw one.
        ``before`` names a layer of this block whose module the shortcut's modules
        precede in ``state_dict`` order, where the anchor library registers them first.
        """
        if self.shortcut_kind:
            raise ValueError(f"block {self.scope!r} emitted its shortcut twice")
        if self._shortcut is None:
            self.shortcut_kind = "none"
            return None
        ctx = ShortcutContext(self.b, self.scope, self.c_in, self.c_out, self.stride, self.layout)
        self.b.block = self.scope
        first = len(self.b.g)
        node = self._shortcut.emit(ctx, self.x if x is None else x)
        if before is not None:
            for n in list(self.b.g)[first:]:
                self.b.g.nodes[n]["before"] = self.name(before)
        self.shortcut_kind = "identity" if node is None else self._shortcut.name
        self.shortcut_node = self.x if node is None else node
        return self.shortcut_node


class BlockOptions(Options):
    """Base of a block type's options."""


class BlockKind(Kind):
    """A residual block type: emits its branch F(x); the compiler adds the shortcut and the join."""

    depth: ClassVar[int]              # weighted layers on the branch (convs; attention gates excluded)
    layout: ClassVar[Layout]        # module names and trunk: torchvision/timm ResNet or timm ResNetV2
    out_act: ClassVar[str | None]     # the ReLU after the add ("relu2"), None in pre-activation blocks
    Options: ClassVar[type[BlockOptions]] = BlockOptions

    def out_channels(self, width: int, o: BlockOptions) -> int:
        """Channels leaving a block of this stage ``width``."""
        return width

    def check(self, width: int, o: BlockOptions) -> str | None:
        """Why ``width`` cannot be built with these options; None if it can."""
        return None

    def describe(self, o: BlockOptions) -> str:
        """Display text of a block with these options ("bottleneck + SE")."""
        attention = getattr(o, "attention", None)
        return self.label + (f" + {ATTENTION[attention.type].label}" if attention is not None else "")

    def emit(self, k: BlockContext, o: BlockOptions) -> str:
        """The residual branch from ``k.x``; returns its last node. May place the shortcut with ``k.shortcut``."""
        raise NotImplementedError


BLOCKS: Registry[BlockKind] = Registry("block type")
