"""Polygon layers of the columnar encoder (layers.mvt_polygons) against mapbox_vector_tile:
random polygons, holes, multipolygons and slivers that rounding to the pixel grid
collapses decode exactly as the per-feature encoder's tile decodes."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from cityaware.layers.mvt import EXTENT, Encoded
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


@settings(max_examples=150, deadline=None)
@given(st.lists(polygon(), min_size=1, max_size=25), st.sampled_from([1.0, 0.37, 3.0]))
def test_polygons_decode_as_the_per_feature_encoder_s(shapes, scale):
    """Given in pixels, or in other units with ``to_pixels`` (as tiles hand them over)."""
    geoms = np.array([g for g in shapes if polygonal(np.array([g])) and not g.is_empty])
    if not len(geoms):
        return
    names = np.array(["", "x"] * len(geoms), dtype=object)[: len(geoms)]
    columns = {"code": np.array([f"c{i}" for i in range(len(geoms))], dtype=object),
               "name": Encoded.of(names)}  # fmt: skip

    def to_pixels(coords):
        return coords * scale - 17.25

    layer = PolygonColumns(geoms, columns, None if scale == 1.0 else to_pixels)
    pixels = geoms if scale == 1.0 else shapely.transform(geoms, to_pixels)
    plain = {k: v.to_numpy() if isinstance(v, Encoded) else v for k, v in columns.items()}
    assert decoded(encode_layers({"grids": layer})) == decoded(reference(pixels, plain))


def test_a_sliver_that_rounds_away_is_left_out_with_its_properties():
    geoms = np.array([shapely.box(10.1, 10.1, 10.3, 10.3), shapely.box(0, 0, 5, 5)])
    columns = {"code": np.array(["gone", "kept"], dtype=object)}
    layer = decoded(encode_layers({"grids": PolygonColumns(geoms, columns)}))["grids"]
    assert [f["properties"] for f in layer["features"]] == [{"code": "kept"}]
    assert layer == decoded(reference(geoms, columns))["grids"]
