"""Block types: one module per type; importing it registers it in ``BLOCKS``."""

from resgraph.kinds.blocks import basic, bottleneck, preact_basic, preact_bottleneck  # noqa: F401 - imported to register them
