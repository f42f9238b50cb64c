"""The pipeline goes one way (spec -> graph -> lower -> ...): a stage never imports a later one, not even in a function.

Every ``import`` and ``from ... import`` of a package's modules is read from
their source (the AST, so imports inside functions and under ``TYPE_CHECKING``
count too), as are ``importlib.import_module("...")`` calls with a literal name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "resgraph"

# package -> the packages it must never import (a rule for another package is one more line)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "resgraph.spec": ("resgraph.graph", "resgraph.lower", "resgraph.bench", "resgraph.train", "resgraph.cli"),
    "resgraph.graph": ("resgraph.lower", "resgraph.bench", "resgraph.train", "resgraph.cli"),
    "resgraph.lower": ("resgraph.bench", "resgraph.train", "resgraph.cli"),
    "resgraph.bench": ("resgraph.train", "resgraph.latency", "resgraph.cli"),
    "resgraph.train": ("resgraph.latency", "resgraph.cli"),
    "resgraph.latency": ("resgraph.train", "resgraph.cli"),
    "resgraph.records": ("resgraph.graph", "resgraph.lower", "resgraph.bench", "resgraph.train", "resgraph.cli"),
    "resgraph.data": ("resgraph.bench", "resgraph.train", "resgraph.cli"),
}


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, absolute module names) of every import statement in ``path``, wherever it is written.

    ``from a.b import c`` names ``a.b`` and ``a.b.c`` (c may be a module: ``from resgraph import lower``).
    """
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, [alias.name]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y, from .. import z
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            yield node.lineno, [node.args[0].value]


def _reaches(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(package: str, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """``file:line: imports X`` for every import in ``package`` of a package in ``forbidden``."""
    folder = root.joinpath(*package.split(".")[1:])
    module = folder.with_suffix(".py")
    files = [module] if module.is_file() else sorted(folder.rglob("*.py"))
    assert files, f"{package}: no such package or module"
    found = []
    for path in files:
        for line, names in _imports(path, root):
            bad = next((n for n in names if any(_reaches(n, f) for f in forbidden)), None)
            if bad is not None:
                found.append(f"{path.relative_to(root.parent).as_posix()}:{line}: imports {bad}")
    return found


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_no_stage_imports_a_later_one(package):
    assert violations(package, FORBIDDEN[package]) == []


def test_the_walk_sees_imports_inside_functions_and_relative_ones(tmp_path):
    pkg = tmp_path / "resgraph" / "spec"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "m.py").write_text("def f():\n    from resgraph.graph.compile import compile_spec\n"
                              "    from ..lower import fx\n    import importlib\n"
                              "    importlib.import_module('resgraph.cli.main')\n")
    assert violations("resgraph.spec", FORBIDDEN["resgraph.spec"], tmp_path / "resgraph") == [
        "resgraph/spec/m.py:2: imports resgraph.graph.compile",
        "resgraph/spec/m.py:3: imports resgraph.lower",
        "resgraph/spec/m.py:5: imports resgraph.cli.main",
    ]
