"""Doctests of the package folders run against the installed modules.

pytest names a module after its folder (``geo/crs.py`` -> ``geo.crs``), which
would load a second copy of the code next to ``cityaware.geo`` (and show
``geo.errors.InvalidInput`` in tracebacks); here each doctest module under
``geo/``, ``api/`` and ``layers/`` is imported by its installed name instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Generator
from pathlib import Path
from types import ModuleType

import pytest
from _pytest.doctest import DoctestModule

ROOT = Path(__file__).resolve().parent
PACKAGE_FOLDERS = ("geo", "api", "layers")


def installed_name(path: Path) -> str | None:
    """``cityaware.<dotted path>`` of a module in a package folder, else ``None``.

    >>> installed_name(ROOT / "geo" / "store" / "__init__.py")
    'cityaware.geo.store'
    >>> installed_name(ROOT / "tests" / "units.py") is None
    True
    """
    parts = path.resolve().relative_to(ROOT).with_suffix("").parts
    if not parts or parts[0] not in PACKAGE_FOLDERS:
        return None
    return ".".join(("cityaware", *(parts[:-1] if parts[-1] == "__init__" else parts)))


class InstalledDoctestModule(DoctestModule):
    """The doctests of one module, imported as ``cityaware.…``."""

    def _getobj(self) -> ModuleType:
        return importlib.import_module(installed_name(self.path) or "")


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(
    file_path: Path, parent: pytest.Collector
) -> Generator[None, list[pytest.Collector], list[pytest.Collector]]:
    collectors = yield
    if installed_name(file_path) is None:
        return collectors
    return [
        InstalledDoctestModule.from_parent(parent, path=file_path)
        if type(collector) is DoctestModule
        else collector
        for collector in collectors
    ]
