"""Geometry repair: polygonal parts kept, collapsed features refused, notes per repair."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from cityaware.geo.boundaries.repair import demote_single_parts, repair_geometries
from cityaware.geo.errors import InvalidInput


def _repair(*geoms):
    codes = np.array([f"41010{i}" for i in range(len(geoms))], dtype=object)
    return repair_geometries(np.array(geoms, dtype=object), codes, "f.gpkg")


def test_collection_keeps_only_its_polygons():
    square = shapely.box(0, 0, 1, 1)
    collection = shapely.GeometryCollection([square, shapely.LineString([(2, 2), (3, 3)])])

    geoms, notes = _repair(collection)

    assert geoms[0].equals(square)
    assert [(n.row, n.action) for n in notes] == [(1, "kept polygonal parts")]


def test_valid_z_polygons_pass_untouched_in_2d():
    square_z = shapely.Polygon([(0, 0, 5), (1, 0, 5), (1, 1, 5), (0, 1, 5)])

    geoms, notes = _repair(square_z)

    assert notes == [] and not geoms[0].has_z
    assert geoms[0].equals(shapely.box(0, 0, 1, 1))


def test_a_ring_collapsed_to_a_line_is_refused():
    flat = shapely.Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])
    with pytest.raises(
        InvalidInput, match="f.gpkg: feature 2 \\(code 410101\\): geometry has no area"
    ):
        _repair(shapely.box(0, 0, 1, 1), flat)


def test_overlapping_collection_parts_are_merged_into_valid_polygons():
    collection = shapely.GeometryCollection([shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)])

    geoms, _ = _repair(collection)

    assert geoms[0].is_valid
    assert geoms[0].area == pytest.approx(shapely.union_all(collection.geoms).area)


def test_single_part_multipolygons_are_demoted():
    single = shapely.MultiPolygon([shapely.box(0, 0, 1, 1)])
    double = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)])

    out = demote_single_parts(np.array([single, double], dtype=object))

    assert [g.geom_type for g in out] == ["Polygon", "MultiPolygon"]
