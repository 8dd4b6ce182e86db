"""The demo city's real engine and gazetteer, built once per test session (per xdist worker).

Ground truth in these tests is the engine: an address point's grid is what
GridLocator.locate says for its coordinates, and unit codes come from the
units frame read from data/boundaries/zhengzhou-demo.gpkg.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.gazetteer.build import DEMO_POINTS, Gazetteer
from cityaware.geo.profile import load_profile
from cityaware.geo.resources import demo_boundaries, demo_city_files

DEMO_GPKG = demo_boundaries()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gazetteer-data") / "cache"


@pytest.fixture(scope="session")
def units():
    return read_hierarchy_gpkg(DEMO_GPKG)


@pytest.fixture(scope="session")
def locator(units, cache_dir):
    return GridLocator.build(units, "demo", cache_dir=cache_dir)


@pytest.fixture(scope="session")
def gazetteer(units, locator, cache_dir) -> Gazetteer:
    profile = load_profile(demo_city_files()[0], units)
    return Gazetteer.load_or_build(units, locator, "demo", cache_dir, DEMO_POINTS, profile)


@pytest.fixture(scope="session")
def code_of(units):
    """(name, level) -> codes of the units with that official name."""
    table: dict[tuple[str, str], list[str]] = {}
    for code, name, level in zip(units["code"], units["name"], units["level"], strict=True):
        table.setdefault((name, level), []).append(code)
    return table
