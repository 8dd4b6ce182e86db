"""Plausibility: axis order, outside China, strays far from the rest, jumps from the active."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from pyproj import Geod

from cityaware.geo.boundaries.identity import same_outline
from cityaware.geo.boundaries.io import read_units
from cityaware.geo.errors import InvalidInput

from .rings import DATA

GK_FILE = DATA / "kaifeng-districts-gk.gpkg"
NORTH_FIRST = DATA / "kaifeng-districts-gk-northfirst.gpkg"
LUOYANG = DATA / "luoyang-districts-gbk.shp"


def _moved(units: gpd.GeoDataFrame, dx: float, dy: float, codes=None) -> gpd.GeoDataFrame:
    out = units.copy()
    rows = out["code"].isin(codes) if codes is not None else slice(None)
    out.loc[rows, "geometry"] = out.loc[rows, "geometry"].translate(dx, dy)
    return out


def test_a_north_first_file_is_detected_and_swap_axes_reads_it():
    as_given = gpd.read_file(NORTH_FIRST, engine="pyogrio").to_crs(4326)
    assert not as_given.geometry.within(shapely.box(73, 3, 136, 54)).any()  # off China

    with pytest.raises(InvalidInput, match="look northing-first .*--swap-axes"):
        read_units(NORTH_FIRST)

    swapped, _ = read_units(NORTH_FIRST, swap_axes=True)
    right, _ = read_units(GK_FILE)
    assert all(same_outline(a, b) for a, b in zip(swapped.geometry, right.geometry, strict=True))


def test_outlines_outside_china_are_refused_unless_forced(registry):
    units, _ = read_units(LUOYANG)
    pacific = _moved(units, 60.0, 0.0)

    with pytest.raises(InvalidInput, match="outside China .* --force"):
        registry.stage(pacific)
    assert registry.generations() == []

    generation = registry.stage(pacific, force=True)
    meta = registry.generations()[0]
    assert len(meta["forced"]) >= 5 and "outside China" in meta["forced"][0]
    assert registry.validation(generation)["counts"]["implausible"] >= 5


def test_a_stray_outline_far_from_the_rest_is_refused(registry):
    units, _ = read_units(LUOYANG)
    stray = _moved(units, 3.0, 0.0, codes=["410311"])  # about 275 km east, still in China
    geod = Geod(ellps="WGS84")
    nearest = shapely.shortest_line(
        stray.geometry[stray.code == "410311"].iloc[0],
        shapely.union_all(stray.geometry[stray.code != "410311"].to_numpy()),
    )
    (x0, x1), (y0, y1) = nearest.xy
    km = geod.inv(x0, y0, x1, y1)[2] / 1000

    with pytest.raises(
        InvalidInput, match=f"410311 lies {km:,.0f} km from every other unit of its level"
    ):
        registry.stage(stray)


def test_a_generation_jumping_far_from_the_active_one_is_refused(registry):
    units, _ = read_units(LUOYANG)
    registry.activate(registry.stage(units))

    with pytest.raises(InvalidInput, match="moved [0-9,]+ km from the active generation"):
        registry.stage(_moved(units, 6.0, 2.0))  # still in China, ~600 km away
    kaifeng, _ = read_units(GK_FILE)  # a neighbouring city (~170 km) is plausible
    assert registry.stage(kaifeng) == "g0002"
