"""The design space as registries: block types, shortcut options, stems, attention.

Importing this package registers every bundled kind. Attention comes first:
the block types' options name the attention kinds.
"""

from resgraph.kinds import (  # noqa: F401 - imported to register the kinds, in this order
    attention,
    blocks,
    shortcuts,
    stems,
)
from resgraph.kinds.base import ATTENTION, BLOCKS, SHORTCUTS, STEMS
from resgraph.kinds.registry import UnknownKindError

# Spec fields whose value names a kind (a bare name is shorthand for {type: name}), and their registries.
KIND_FIELDS = {"stem": STEMS, "block": BLOCKS, "attention": ATTENTION}

__all__ = ["ATTENTION", "BLOCKS", "KIND_FIELDS", "SHORTCUTS", "STEMS", "UnknownKindError"]
