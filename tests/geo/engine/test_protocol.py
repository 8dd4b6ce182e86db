"""GridLocator is a Locator: the protocol the store and the services are typed with."""

from __future__ import annotations

import numpy as np

from cityaware.geo.engine import Locator
from cityaware.geo.engine.locator import GridLocator
from tests.geo.engine.synthetic import voronoi_units


def test_a_grid_locator_is_a_locator():
    locator = GridLocator.build(voronoi_units(12, seed=3), "g1", cell_m=None)
    assert isinstance(locator, Locator)
    batch = locator.locate_lonlat(np.array([113.5]), np.array([34.6]))
    assert batch.generation == locator.generation == "g1"


def test_something_without_the_calls_is_not_a_locator():
    class GenerationOnly:
        generation = "g1"

    assert not isinstance(GenerationOnly(), Locator)
