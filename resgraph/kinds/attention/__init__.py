"""Attention in the residual branch: one module per kind; importing it registers it in ``ATTENTION``."""

from resgraph.kinds.attention import se  # noqa: F401, I001
from resgraph.kinds.attention import eca  # noqa: F401
