"""The metric CRS follows the generation's own longitude: validation areas of cities far
from the demo city agree with geodesic areas on the ellipsoid (pyproj.Geod, no projection)."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS, Geod

from cityaware.geo.boundaries.io import read_units
from cityaware.geo.boundaries.validate import validate_units
from cityaware.geo.crs import metric_crs_of_bounds
from tests.units import unit_record

from .rings import DATA

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid (to < 0.1 mm)
RELATIVE = 2e-3  # a Gauss-Krüger zone's scale error at its edge is ~0.1 % (area ~0.2 %)


def _geodesic_m2(geom: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def _city(lon: float, lat: float) -> gpd.GeoDataFrame:
    """Two districts ~5 km wide side by side that overlap in a strip, a third one apart
    (a gap between top-level units), all in lon/lat around (lon, lat)."""
    d = 0.05
    a = shapely.box(lon, lat, lon + d, lat + d)
    b = shapely.box(lon + 0.9 * d, lat, lon + 2 * d, lat + d)
    c = shapely.box(lon, lat + d, lon + 2 * d, lat + 2 * d).difference(
        shapely.box(lon + 0.5 * d, lat + d, lon + 0.7 * d, lat + 1.2 * d)
    )
    records = [
        unit_record(code, f"区{code}", "district", "", geom)
        for code, geom in (("990101", a), ("990102", b), ("990103", c))
    ]
    return gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4326")


@pytest.mark.parametrize(("lon", "lat"), [(87.6, 43.8), (126.6, 45.7), (101.5, 30.5)])
def test_validation_measures_in_the_zone_of_the_city(lon, lat):
    units = _city(lon, lat)
    report = validate_units(units)
    crs = CRS.from_user_input(report.metric_crs)
    assert "Gauss-Kruger" in crs.name and crs.datum.name.startswith("China 2000")
    west, south, east, north = crs.area_of_use.bounds
    minx, miny, maxx, maxy = units.total_bounds
    assert west <= minx and maxx <= east and south <= miny and maxy <= north

    geoms = dict(zip(units.code, units.geometry, strict=True))
    (overlap,) = [f for f in report.findings if f.kind == "overlap"]
    expected = _geodesic_m2(geoms["990101"].intersection(geoms["990102"]))
    assert overlap.area_m2 == pytest.approx(expected, rel=RELATIVE)

    hole = shapely.union_all(list(geoms.values())).interiors[0]
    (gap,) = [f for f in report.findings if f.kind == "gap"]
    assert gap.area_m2 == pytest.approx(_geodesic_m2(shapely.Polygon(hole)), rel=RELATIVE)
    assert shapely.Polygon(hole).contains(shapely.Point(gap.location))


def test_a_real_file_in_another_zone_is_measured_in_its_zone():
    """Luoyang lies west of 112.5°E: zone CM 111°E (EPSG:4546), not the demo city's."""
    units, _ = read_units(DATA / "luoyang-districts-gbk.shp")
    report = validate_units(units)
    assert report.metric_crs == "EPSG:4546"
    assert CRS.from_user_input(report.metric_crs).name.endswith("CM 111E")
    holes = [shapely.Polygon(r) for r in shapely.union_all(units.geometry.values).interiors]
    gaps = sorted(f.area_m2 for f in report.findings if f.kind == "gap")
    expected = sorted(_geodesic_m2(h) for h in holes if _geodesic_m2(h) > report.tolerance_m2)
    assert gaps and gaps == pytest.approx(expected, rel=RELATIVE)


def test_outside_chinas_zones_the_utm_zone_is_used():
    assert metric_crs_of_bounds([-3.8, 40.3, -3.5, 40.5]) == "EPSG:32630"
    assert metric_crs_of_bounds([150.9, -34.0, 151.3, -33.7]) == "EPSG:32756"
