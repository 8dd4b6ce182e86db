"""The map layers patch their incident snapshot with the rows written since (no full read
after a write), and every tile then equals the tile of a fresh full read (the oracle)."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import pandas as pd
import pytest

from cityaware.layers.feeds import StorePointFeed
from cityaware.layers.service import MapLayers, TileFilters
from cityaware.layers.tiles import TileBox
from tests.geo.store import sample, synthetic
from tests.geo.store.conftest import backend_store


class NoBoundaries:
    def version(self) -> str:
        return "none"

    def load(self) -> pd.DataFrame:
        raise AssertionError("not needed")


def layers_over(store) -> MapLayers:
    feed = StorePointFeed(lambda: store, "incidents")
    return MapLayers(NoBoundaries(), {"incidents": feed}, refresh_seconds=0)


def decoded(layers: MapLayers, z: int, x: int, y: int, filters: TileFilters) -> list:
    body = layers.render("incidents", TileBox.of(z, x, y), filters)
    tile = mapbox_vector_tile.decode(body).get("incidents", {"features": []})
    return sorted(
        (tuple(f["geometry"]["coordinates"]), tuple(sorted(f["properties"].items())))
        for f in tile["features"]
    )


@pytest.fixture
def store(tmp_path):
    with backend_store("sqlite", tmp_path, synthetic.locator("g1")) as opened:
        yield opened


def test_tiles_after_writes_equal_a_fresh_read(store):
    store.bulk_import("incidents", sample.incidents(400))
    layers = layers_over(store)
    first = layers.snapshot("incidents")
    old_places = [tuple(store.get("incidents", k)[c] for c in ("lon", "lat")) for k in ("i4", "i5")]
    assert first.seq is not None and first.extra is None
    store.add("incidents", {"id": "n1", "lon": 113.605, "lat": 34.705, "category": "noise"})
    store.update("incidents", "n1", {"status": "dispatched"})
    store.update("incidents", "i4", {"lon": 113.635, "lat": 34.735, "category": "sanitation"})
    store.delete("incidents", "i5")
    store.bulk_import("incidents", sample.incidents(30).assign(id=lambda f: "b" + f.id))
    patched = layers.snapshot("incidents")
    assert patched.source is first.source  # patched, not read again
    assert patched.extra is not None and len(patched.extra) == 32 and patched.dead == 2
    fresh = layers_over(store)
    windows = [TileFilters(), TileFilters(status="all"), TileFilters("7d", "all", "noise")]
    shown = 0
    for z in (12, 14, 15, 16):
        for lon, lat in ((113.605, 34.705), (113.635, 34.735), (113.62, 34.72)):
            x, y = tile_of(lon, lat, z)
            for filters in windows:
                tile = decoded(layers, z, x, y, filters)
                assert tile == decoded(fresh, z, x, y, filters)
                shown += len(tile)
    assert shown > 50
    box = (113.55, 34.65, 113.75, 34.85)
    for filters in windows:
        assert heat_of(layers, filters, box) == heat_of(fresh, filters, box)
        for lon, lat in ((113.605, 34.705), (113.635, 34.735), *old_places):
            assert layers.hit(lon, lat, 16, ["incidents"], filters=filters) == fresh.hit(
                lon, lat, 16, ["incidents"], filters=filters
            )
    assert (
        layers.hit(*old_places[0], 16, ["incidents"], 40, TileFilters(status="all"))[1]["id"]
        != "i4"
    )
    counts = layers.grid_counts(TileFilters(status="all"))
    assert counts == fresh.grid_counts(TileFilters(status="all"))
    in_grids = sum(g["count"] for g in store.aggregate("incidents", ["grid"]) if g["grid"])
    assert sum(c["total"] for c in counts.values()) == in_grids


def heat_of(layers: MapLayers, filters: TileFilters, box: tuple) -> list:
    """Heat cells as sorted (lat, lon, count), positions to 5 decimals (summation order)."""
    return sorted((round(a, 5), round(o, 5), n) for a, o, n in layers.heat(filters, box, 14))


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, z)
    return tile.x, tile.y
