"""cityaware.geo.crs and chinacoords against pyproj and prcoords (CC0), the independent oracles."""

from __future__ import annotations

import warnings

import numpy as np
import prcoords
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from cityaware.geo import chinacoords
from cityaware.geo.crs import from_lonlat, normalize_crs, to_lonlat, to_lonlat_checked
from cityaware.geo.errors import InvalidInput

GEOD = Geod(ellps="WGS84")
ALL_CRS = (
    "WGS84",
    "EPSG:4326",
    "CRS84",
    "OGC:CRS84",
    "CGCS2000",
    "EPSG:4490",
    "GCJ02",
    "GCJ-02",
    "BD09",
    "BD-09",
    "EPSG:4547",
    "EPSG:4526",
    "EPSG:3857",
    "EPSG:32649",
    "http://www.opengis.net/def/crs/EPSG/0/4547",
)
zhengzhou_lon = st.floats(112.5, 114.5)
zhengzhou_lat = st.floats(34.0, 35.2)
china_lon = st.floats(75.0, 134.0)
china_lat = st.floats(18.0, 53.0)


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(zhengzhou_lon, zhengzhou_lat), min_size=1, max_size=20))
def test_every_crs_round_trips_to_a_centimetre(points):
    lon, lat = np.array(points).T
    for crs in ALL_CRS:
        x, y = from_lonlat(lon, lat, crs)
        back_lon, back_lat = to_lonlat(x, y, crs)
        assert metres(lon, lat, back_lon, back_lat).max() < 0.01, crs


@settings(max_examples=100, deadline=None)
@given(china_lon, china_lat)
def test_forward_conversions_match_prcoords(lon, lat):
    gcj = prcoords.wgs_gcj((lat, lon))
    bd = prcoords.wgs_bd((lat, lon))
    ours_gcj = from_lonlat(lon, lat, "GCJ-02")
    ours_bd = from_lonlat(lon, lat, "BD-09")
    assert ours_gcj == pytest.approx((gcj.lon, gcj.lat), abs=1e-11)
    assert ours_bd == pytest.approx((bd.lon, bd.lat), abs=1e-11)


@settings(max_examples=100, deadline=None)
@given(china_lon, china_lat)
def test_inverses_beat_prcoords_iterative_and_rough_inverses(lon, lat):
    """Residual = how far forward(inverse(p)) lands from p, in metres."""
    gcj_lon, gcj_lat = from_lonlat(lon, lat, "GCJ-02")
    ours = to_lonlat(gcj_lon, gcj_lat, "GCJ-02")
    bored = prcoords.gcj_wgs_bored((gcj_lat, gcj_lon))
    rough = prcoords.gcj_wgs((gcj_lat, gcj_lon))

    def residual(w_lon, w_lat) -> float:
        f = prcoords.wgs_gcj((w_lat, w_lon))
        return float(metres(f.lon, f.lat, gcj_lon, gcj_lat))

    assert residual(*ours) < 1e-6
    assert residual(*ours) <= residual(bored.lon, bored.lat) + 1e-9
    assert metres(lon, lat, *ours) < 1e-6  # back where we started
    assert metres(lon, lat, rough.lon, rough.lat) > 1000 * max(metres(lon, lat, *ours), 1e-9)

    bd_lon, bd_lat = from_lonlat(lon, lat, "BD-09")
    ours_bd = to_lonlat(bd_lon, bd_lat, "BD-09")
    bored_bd = prcoords.bd_wgs_bored((bd_lat, bd_lon))
    assert metres(lon, lat, *ours_bd) < 1e-6
    assert metres(lon, lat, *ours_bd) <= metres(lon, lat, bored_bd.lon, bored_bd.lat) + 1e-9


def test_gcj02_is_wgs84_outside_china_like_prcoords():
    lon, lat = np.array([2.35, -74.0]), np.array([48.85, 40.7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [prcoords.wgs_gcj((la, lo)) for lo, la in zip(lon, lat, strict=True)]
    x, y = chinacoords.wgs84_to_gcj02(lon, lat)
    assert x.tolist() == [e.lon for e in expected] == lon.tolist()
    assert to_lonlat(x, y, "GCJ02")[1].tolist() == lat.tolist()


def test_gauss_kruger_takes_easting_first_whatever_the_authority_order():
    authority = Transformer.from_crs("EPSG:4326", "EPSG:4547")  # lat, lon -> northing, easting
    northing, easting = authority.transform(34.75, 113.65)
    assert easting < 1_000_000 < northing
    x, y = from_lonlat(113.65, 34.75, "EPSG:4547")
    assert (x, y) == pytest.approx((easting, northing), abs=1e-6)
    x26, _ = from_lonlat(113.65, 34.75, "EPSG:4526")
    assert x26 == pytest.approx(38_000_000 + easting, abs=1e-3)  # zone prefix


@settings(max_examples=50, deadline=None)
@given(china_lon, china_lat)
def test_one_point_math_equals_the_vectorised_math(lon, lat):
    for crs in ("GCJ-02", "BD-09"):
        x, y = from_lonlat(np.array([lon]), np.array([lat]), crs)
        one = to_lonlat(float(x[0]), float(y[0]), crs)
        many = to_lonlat(x, y, crs)
        assert one == pytest.approx((many[0][0], many[1][0]), abs=1e-12)
        assert chinacoords.wgs84_to_bd09(lon, lat) == pytest.approx(
            [v[0] for v in chinacoords.wgs84_to_bd09(np.array([lon]), np.array([lat]))], abs=1e-12
        )


def test_scalar_in_scalar_out_and_arrays_keep_length():
    lon, lat = to_lonlat(113.6, 34.7, "WGS84")
    assert np.ndim(lon) == 0 and float(lat) == 34.7
    lon, lat = to_lonlat([113.6, 113.7], [34.7, 34.8], "GCJ02")
    assert lon.shape == (2,)


@pytest.mark.parametrize(
    ("x", "y", "crs", "message"),
    [
        (float("nan"), 34.7, "WGS84", "not a finite number"),
        (113.6, float("inf"), "GCJ02", "not a finite number"),
        (113.6, 95.0, "WGS84", "latitude is outside [-90, 90]"),
        (200.0, 34.7, "EPSG:4490", "longitude is outside [-180, 180]"),
        (34.7, 113.6, "WGS84", "looks like latitude and longitude are swapped"),
        (34.7, 113.6, "BD-09", "looks like latitude and longitude are swapped"),
        (3_846_035.0, 469_665.0, "EPSG:4547", "looks like x and y are swapped"),
        (float("nan"), 3_846_035.0, "EPSG:4547", "not a finite number"),
    ],
)
def test_invalid_coordinates_are_rejected_with_a_clear_message(x, y, crs, message):
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        to_lonlat(x, y, crs)


def test_batch_errors_name_the_first_bad_row_and_count_them():
    with pytest.raises(InvalidInput, match=r"^row 2: lon=113.6, lat=95.0: .*\(2 invalid rows"):
        to_lonlat([113.6, 113.7, 113.6, 34.7], [34.7, 34.7, 95.0, 113.6], "WGS84")
    lon, _, problems = to_lonlat_checked([113.6, 113.6], [34.7, 95.0], "WGS84")
    assert problems[0] is None and "latitude" in problems[1] and np.isnan(lon[1])


def test_unknown_crs_lists_what_is_accepted():
    with pytest.raises(InvalidInput, match="unknown CRS 'EPSG:999999'.*GCJ-02.*EPSG:NNNN"):
        to_lonlat(113.6, 34.7, "EPSG:999999")
    with pytest.raises(InvalidInput, match="unknown CRS 'mars'"):
        from_lonlat(113.6, 34.7, "mars")
    assert normalize_crs(" ogc:crs84 ") == "EPSG:4326"
