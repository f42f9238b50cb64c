"""Shortcut options: one module per option; importing it registers it in ``SHORTCUTS``."""

from resgraph.kinds.shortcuts import option_a, option_b, option_c, option_d  # noqa: F401 - imported to register them
