"""The server's shared parts: typed members built once, wired to each other, and built ahead
of requests by the warm-up; services below the routers get their collaborators, not the
context."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.context import AppContext, shared_part, warm_up
from cityaware.api.ogc.catalog import Catalog
from cityaware.api.service.geocoding import Geocoding
from cityaware.api.settings import Settings
from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.boundaries.schema import LEVEL_OF_LAYER
from cityaware.geo.engine.cached import LocatorCache
from cityaware.geo.errors import NotFound, Unprocessable
from tests.api.service.conftest import synthetic_units


def staged(data_dir: Path) -> str:
    registry = BoundaryRegistry(data_dir / "boundaries")
    generation = registry.stage(synthetic_units(), source="synthetic")
    registry.activate(generation)
    return generation


def test_warm_up_builds_what_the_first_request_needs(tmp_path):
    staged(tmp_path)
    ctx = AppContext(Settings(data_dir=tmp_path))

    warm_up(ctx)

    assert {"store", "geocoding", "gazetteer"} <= set(vars(ctx))
    assert (tmp_path / "features.sqlite").exists()
    answer = ctx.gazetteer.geocode("金水区")
    assert answer.to_dict()["candidates"][0]["code"] == "410105"


def test_warm_up_without_boundaries_does_nothing(tmp_path):
    ctx = AppContext(Settings(data_dir=tmp_path))
    warm_up(ctx)
    assert not {"gazetteer", "geocoding", "store"} & set(vars(ctx))
    with pytest.raises(NotFound, match="no active boundary generation"):
        _ = ctx.locator


def test_racing_threads_build_a_part_once(tmp_path):
    built = []

    class Counting(AppContext):
        @shared_part
        def slow_part(self) -> object:
            built.append(threading.get_ident())
            time.sleep(0.05)  # wide race window
            return object()

    ctx = Counting(Settings(data_dir=tmp_path))
    got = []
    threads = [threading.Thread(target=lambda: got.append(ctx.slow_part)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and len({id(part) for part in got}) == 1


def test_every_part_is_declared_with_its_type():
    parts = {n: p for n, p in vars(AppContext).items() if isinstance(p, shared_part)}
    assert {"registry", "locators", "store", "keys", "duty_list", "geocoding"} <= set(parts)
    assert {"gazetteer", "incidents", "catalog", "map_layers"} <= set(parts)
    untyped = [n for n, p in parts.items() if "return" not in p.func.__annotations__]
    assert untyped == []


def test_parts_share_their_collaborators(tmp_path):
    generation = staged(tmp_path)
    ctx = AppContext(Settings(data_dir=tmp_path))

    assert ctx.locator is ctx.locators.get(generation)
    assert ctx.geocoding.registry is ctx.registry and ctx.geocoding.locators is ctx.locators
    incidents = ctx.incidents
    assert incidents.store is ctx.store and incidents.geocoding is ctx.geocoding
    assert incidents.duty_list is ctx.duty_list
    assert ctx.open311.incidents is incidents
    assert ctx.catalog.registry is ctx.registry
    assert ctx.map_wall.layers is ctx.map_layers
    assert vars(ctx).get("_locator_cache") is None  # nothing written behind its back


def test_building_the_app_opens_nothing(tmp_path):
    staged(tmp_path)
    ctx = AppContext(Settings(data_dir=tmp_path))
    client = TestClient(create_app(ctx=ctx))
    assert "store" not in vars(ctx) and not (tmp_path / "features.sqlite").exists()
    assert client.get("/collections/incidents").status_code == 200
    assert ctx.catalog.get("incidents").provider.store is ctx.store


def test_geocoding_from_its_collaborators_answers_as_the_server_does(tmp_path):
    generation = staged(tmp_path)
    registry = BoundaryRegistry(tmp_path / "boundaries")
    geocoding = Geocoding(registry, LocatorCache(registry.units, tmp_path / "cache"))
    grids = registry.units(generation, level="grid")
    inside = grids.geometry.iloc[3].representative_point()

    answer = geocoding.locate_point(inside.x, inside.y, "WGS84")

    assert answer["grid"]["code"] == grids["code"].iloc[3]
    assert answer["generation"] == generation
    with pytest.raises(Unprocessable, match="not available"):  # no gazetteer given
        geocoding.locate_address("金水区")


def test_a_catalog_without_a_store_has_the_boundary_layers_only(tmp_path):
    staged(tmp_path)
    catalog = Catalog(BoundaryRegistry(tmp_path / "boundaries"))
    assert set(catalog.collections) == set(LEVEL_OF_LAYER)
    with pytest.raises(NotFound):
        catalog.get("incidents")
