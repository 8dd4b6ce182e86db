"""Tile math against morecantile, and encoded tiles decoded with mapbox_vector_tile."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from cityaware.geo.errors import InvalidInput
from cityaware.layers.mvt import encode_layers
from cityaware.layers.mvt_polygons import PolygonColumns
from cityaware.layers.tiles import (
    BIN_PX,
    EXTENT,
    TileBox,
    binned_features,
    check_tile,
    lonlat_to_mercator,
    point_features,
    points_in,
    polygon_features,
)

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=22),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_tile_bounds_match_morecantile(z, fx, fy):
    x, y = int(fx * 2**z), int(fy * 2**z)
    box = TileBox.of(z, x, y)
    oracle = WEB_MERCATOR.xy_bounds(morecantile.Tile(x, y, z))
    assert box.minx == pytest.approx(oracle.left, abs=1e-6)
    assert box.maxx == pytest.approx(oracle.right, abs=1e-6)
    assert box.miny == pytest.approx(oracle.bottom, abs=1e-6)
    assert box.maxy == pytest.approx(oracle.top, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-179.9, max_value=179.9), st.floats(min_value=-85, max_value=85))
def test_projection_matches_pyproj(lon, lat):
    x, y = lonlat_to_mercator(np.array([lon]), np.array([lat]))
    ox, oy = TO_3857.transform(lon, lat)
    assert x[0] == pytest.approx(ox, abs=1e-3)
    assert y[0] == pytest.approx(oy, abs=1e-3)


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=113.0, max_value=114.5),
    st.floats(min_value=34.2, max_value=35.0),
    st.integers(min_value=8, max_value=18),
)
def test_point_lands_in_the_tile_morecantile_names(lon, lat, z):
    tile = WEB_MERCATOR.tile(lon, lat, z)
    box = TileBox.of(z, tile.x, tile.y)
    x, y = lonlat_to_mercator(np.array([lon]), np.array([lat]))
    assert list(points_in(box, x, y)) == [0]
    px, py = box.to_pixels(x, y)
    assert 0 <= px[0] <= EXTENT and 0 <= py[0] <= EXTENT


@pytest.mark.parametrize("zxy", [(-1, 0, 0), (23, 0, 0), (3, 8, 0), (3, 0, -1)])
def test_bad_tiles_are_refused(zxy):
    with pytest.raises(InvalidInput):
        check_tile(*zxy)


def test_polygon_clipped_to_buffered_tile_and_y_down():
    box = TileBox.of(2, 1, 1)
    # a square covering the tile's top-left quarter and reaching far outside it
    quarter = shapely.box(
        box.minx - box.size, box.miny + box.size / 2, box.minx + box.size / 2, box.maxy + box.size
    )
    geoms = np.array([quarter])
    columns = {"code": np.array(["q"], dtype=object)}
    feats = polygon_features(box, shapely.STRtree(geoms), geoms, columns, cap=10)
    tile = mapbox_vector_tile.decode(
        encode_layers({"grids": feats}), default_options={"y_coord_down": True}
    )
    (feat,) = tile["grids"]["features"]
    assert feat["properties"] == {"code": "q"}
    ring = np.array(feat["geometry"]["coordinates"][0])
    # clipped at 64 px buffer, top-left quarter in y-down pixels
    assert ring[:, 0].min() == -64 and ring[:, 0].max() == EXTENT // 2
    assert ring[:, 1].min() == -64 and ring[:, 1].max() == EXTENT // 2


def test_polygon_cap_keeps_the_largest():
    box = TileBox.of(0, 0, 0)
    geoms = np.array([shapely.box(0, 0, s, s) for s in (1e5, 3e5, 2e5)])
    feats = polygon_features(box, shapely.STRtree(geoms), geoms, {"i": np.arange(3)}, cap=2)
    assert sorted(feats.columns["i"].tolist()) == [1, 2]


def test_bins_conserve_counts_and_sums():
    rng = np.random.default_rng(1)
    box = TileBox.of(10, 835, 406)
    x = rng.uniform(box.minx, box.maxx, 5000)
    y = rng.uniform(box.miny, box.maxy, 5000)
    flag = rng.integers(0, 2, 5000)
    feats = binned_features(box, x, y, {"open": flag})
    assert len(feats) <= (EXTENT // BIN_PX) ** 2
    decoded = mapbox_vector_tile.decode(encode_layers({"incidents": feats}))
    props = [f["properties"] for f in decoded["incidents"]["features"]]
    assert sum(p["count"] for p in props) == 5000
    assert sum(p["open"] for p in props) == int(flag.sum())


def test_point_features_round_trip():
    box = TileBox.of(12, 3342, 1624)
    x = np.array([box.minx + box.size / 4])
    y = np.array([box.maxy - box.size / 8])
    columns = {"id": np.array(["i-1"], dtype=object), "status": np.array(["received"])}
    feats = point_features(box, x, y, columns)
    decoded = mapbox_vector_tile.decode(
        encode_layers({"incidents": feats}), default_options={"y_coord_down": True}
    )
    (feat,) = decoded["incidents"]["features"]
    assert feat["geometry"]["coordinates"] == [EXTENT // 4, EXTENT // 8]
    assert feat["properties"] == {"id": "i-1", "status": "received"}


def test_empty_tile_is_empty_bytes():
    assert encode_layers({"grids": PolygonColumns(np.empty(0, dtype=object))}) == b""
    assert encode_layers({"sensors": point_features(TileBox.of(0, 0, 0), [], [])}) == b""


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=6, max_value=16), st.integers(min_value=0, max_value=2**31))
def test_sorted_slab_selection_matches_full_scan(z, seed):
    rng = np.random.default_rng(seed)
    x, y = lonlat_to_mercator(rng.uniform(113.0, 114.5, 2000), rng.uniform(34.2, 35.0, 2000))
    order = np.argsort(x)
    x, y = x[order], y[order]
    tile = WEB_MERCATOR.tile(113.65, 34.75, z)
    box = TileBox.of(z, tile.x, tile.y)
    for buffer in (0, 64):
        fast = points_in(box, x, y, buffer, x_sorted=True)
        assert list(fast) == list(points_in(box, x, y, buffer))
