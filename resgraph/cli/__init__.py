"""The ``resgraph`` command line: one click group, commands grouped by pipeline stage."""

from resgraph.cli.main import main

__all__ = ["main"]
