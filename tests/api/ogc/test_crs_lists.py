"""The OGC API offers every CGCS2000 3-degree Gauss-Krüger zone and the UTM zones over China,
each one the CRS pyproj knows under that code (issue 12)."""

from __future__ import annotations

import re

import pytest
from pyproj import CRS

from cityaware.api.ogc.crs import CRS84, SUPPORTED_CRS, bbox_to_crs84, check_crs

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


def codes() -> list[int]:
    return [int(uri.rsplit("/", 1)[1]) for uri in SUPPORTED_CRS if uri.startswith(EPSG)]


def test_every_gauss_krueger_zone_and_utm_zone_over_china_is_offered():
    offered = set(codes())
    assert set(range(4513, 4555)) <= offered and set(range(32643, 32654)) <= offered
    assert CRS84 in SUPPORTED_CRS


@pytest.mark.parametrize("code", [c for c in codes() if c not in (4326, 4490)])
def test_each_offered_metric_crs_is_what_pyproj_says(code):
    crs = CRS.from_epsg(code)
    assert crs.is_projected and crs.axis_info[0].unit_name == "metre"
    if code < 32600:
        assert crs.geodetic_crs.name == "China Geodetic Coordinate System 2000"
        assert re.fullmatch(r"CGCS2000 / 3-degree Gauss-Kruger (zone \d+|CM \d+E)", crs.name)
        central = crs.coordinate_operation.params[1].value  # longitude of natural origin
        assert central % 3 == 0 and 75 <= central <= 135
    else:
        assert crs.name == f"WGS 84 / UTM zone {code - 32600}N"
    assert check_crs(f"EPSG:{code}", "crs") == EPSG + str(code)


def test_a_bbox_in_a_zone_with_the_zone_number_comes_back_in_crs84():
    # CGCS2000 zone 38 (EPSG:4526) carries the zone number in its easting; northing first.
    west, south, east, north = bbox_to_crs84((3850000, 38450000, 3860000, 38460000), EPSG + "4526")
    assert 113.0 < west < east < 114.0 and 34.0 < south < north < 35.0
