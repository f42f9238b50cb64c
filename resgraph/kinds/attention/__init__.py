"""Attention in the residual branch: one module per kind; importing it registers it in ``ATTENTION``."""

from typing import TYPE_CHECKING  # noqa: I001 - the kinds below are imported in registration order, se before eca

from resgraph.kinds.attention import se  # noqa: F401 - imported to register it
from resgraph.kinds.attention import eca  # noqa: F401 - imported to register it
from resgraph.kinds.base import ATTENTION, AttentionOptions, one_of

if TYPE_CHECKING:  # what the checker sees of a block's `attention` field, built at run time from ATTENTION
    AttentionField = AttentionOptions
else:
    AttentionField = one_of(ATTENTION)
