"""Every benchmark module imports without running (CI cannot afford to run them).

The benchmarks use the installed package only: no test module, no ``sys.path``
edits; the work is behind ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import benchmarks

FOLDER = Path(benchmarks.__file__).parent
MODULES = sorted(path.stem for path in FOLDER.glob("*.py") if path.stem != "__init__")


def imported_names(tree: ast.Module) -> set[str]:
    """Every module name an ``import`` or ``from … import`` statement in ``tree`` names."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_imports_without_running(name, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.__doc__, f"benchmarks/{name}.py says what it measures"
    assert capsys.readouterr().out == ""  # a benchmark that ran would print its figures


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_uses_the_installed_package_only(name):
    source = (FOLDER / f"{name}.py").read_text()
    names = imported_names(ast.parse(source))
    assert not {n.split(".")[0] for n in names} & {"tests", "geo", "api", "layers"}
    assert "sys.path" not in source
