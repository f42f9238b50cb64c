"""Stems: one module per kind; importing it registers it in ``STEMS`` (in this order)."""

from resgraph.kinds.stems import imagenet  # noqa: F401, I001 - imported to register it; registration order, not alphabetical
from resgraph.kinds.stems import cifar  # noqa: F401 - imported to register it
from resgraph.kinds.stems import deep  # noqa: F401 - imported to register it
