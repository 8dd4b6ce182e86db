"""Polygon layers of the columnar encoder (layers.mvt_polygons) against mapbox_vector_tile:
random polygons, holes, multipolygons and slivers that rounding to the pixel grid
collapses decode exactly as the per-feature encoder's tile decodes."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from cityaware.layers.mvt import EXTENT
from cityaware.layers.mvt_polygons import PolygonColumns, encode_layers, polygonal

OPTIONS = {"y_coord_down": True, "extents": EXTENT}
coordinate = st.floats(-200, EXTENT + 200, allow_nan=False)
size = st.one_of(st.floats(0.01, 2), st.floats(2, 3000))  # slivers and real shapes


@st.composite
def polygon(draw):
    x, y, w, h = draw(coordinate), draw(coordinate), draw(size), draw(size)
    shape = draw(st.sampled_from(["box", "ring", "blob", "pair", "rotated"]))
    if shape == "box":
        return shapely.box(x, y, x + w, y + h)
    if shape == "ring":  # a hole
        return shapely.box(x, y, x + 3 * w, y + 3 * h).difference(
            shapely.box(x + w, y + h, x + 2 * w, y + 2 * h)
        )
    if shape == "blob":
        seed = draw(st.integers(0, 2**32 - 1))
        pts = np.random.default_rng(seed).uniform(0, 1, (12, 2)) * [w, h] + [x, y]
        return shapely.MultiPoint(pts).convex_hull.buffer(0)
    if shape == "pair":
        return shapely.MultiPolygon(
            [shapely.box(x, y, x + w, y + h), shapely.box(x + 2 * w, y, x + 3 * w, y + h)]
        )
    angle = draw(st.floats(0, 360))
    return shapely.affinity.rotate(shapely.box(x, y, x + w, y + h), angle)


def reference(geoms, columns) -> bytes:
    features = [
        {"geometry": g, "properties": {k: v[i] for k, v in columns.items()}}
        for i, g in enumerate(geoms)
    ]
    return mapbox_vector_tile.encode([{"name": "grids", "features": features}],
                                     default_options=OPTIONS)  # fmt: skip


def decoded(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True}) if body else {}


@settings(max_examples=120, deadline=None)
@given(st.lists(polygon(), min_size=1, max_size=25))
def test_polygons_decode_as_the_per_feature_encoder_s(shapes):
    geoms = np.array([g for g in shapes if polygonal(np.array([g])) and not g.is_empty])
    if not len(geoms):
        return
    columns = {"code": np.array([f"c{i}" for i in range(len(geoms))], dtype=object),
               "name": np.array(["", "x"] * len(geoms), dtype=object)[: len(geoms)]}  # fmt: skip
    ours = encode_layers({"grids": PolygonColumns(geoms, columns)})
    assert decoded(ours) == decoded(reference(geoms, columns))


def test_a_sliver_that_rounds_away_is_left_out_with_its_properties():
    geoms = np.array([shapely.box(10.1, 10.1, 10.3, 10.3), shapely.box(0, 0, 5, 5)])
    columns = {"code": np.array(["gone", "kept"], dtype=object)}
    layer = decoded(encode_layers({"grids": PolygonColumns(geoms, columns)}))["grids"]
    assert [f["properties"] for f in layer["features"]] == [{"code": "kept"}]
    assert layer == decoded(reference(geoms, columns))["grids"]
