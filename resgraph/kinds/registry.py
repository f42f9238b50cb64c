"""Registries of the design space: every block type, shortcut option, stem and attention kind is
declared once, as a class registered with one decorator line.

The spec's allowed values, its JSON Schema, ``depth``, the CLI help, the pictures
and the tests' generators all read these registries; nothing else lists kinds.
An unknown name is an :class:`UnknownKindError` (resgraph.registry's one
unknown-name error, as for backends and precisions), never a fallback; a name
registered twice is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from resgraph.registry import UnknownNameError, add, lookup

UnknownKindError = UnknownNameError  # the name this module always raised; one type for every registry


class Options(BaseModel):
    """Base of a kind's typed options: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    type: str


class Kind:
    """What every registered kind declares: its name, how it is shown, where it comes from."""

    name: ClassVar[str]
    label: ClassVar[str]      # short display text ("bottleneck", "projection (1x1 conv + BN)")
    colour: ClassVar[str]     # fill colour in the pictures
    origin: ClassVar[str]     # the paper or library it comes from, for the docs
    Options: ClassVar[type[Options]] = Options  # a kind with options subclasses it, ``type: Literal[name]``


K = TypeVar("K", bound=Kind)


class Registry(Generic[K]):
    """Kinds of one family by name, in registration order."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._kinds: dict[str, K] = {}
        self._frozen = False

    def freeze(self) -> None:
        """No more kinds: the spec models have been built from this registry."""
        self._frozen = True

    def register(self, cls: type[K]) -> type[K]:
        """Class decorator: instantiate ``cls`` and register it under ``cls.name``."""
        if self._frozen:
            raise RuntimeError(f"{self.what} {cls.name!r} is registered after resgraph.spec was imported; the spec "
                               "models are built from the registries then: import its module before resgraph.spec")
        options_type = cls.Options.model_fields["type"].annotation
        if cls.Options is not Options and getattr(options_type, "__args__", None) != (cls.name,):
            raise ValueError(f"{self.what} {cls.name!r}: its Options.type must be Literal[{cls.name!r}]")
        add(self._kinds, self.what, cls.name, cls(), source=lambda k: type(k).__module__)
        return cls

    def __getitem__(self, name: Any) -> K:
        return lookup(self._kinds, self.what, name)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[K]:
        return iter(self._kinds.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def options_types(self) -> tuple[type[Options], ...]:
        return tuple(k.Options for k in self._kinds.values())
