"""Coordinates in every CRS a Chinese city sees, to and from WGS84 lon/lat.

Accepted CRS names (case-insensitive): ``WGS84``, ``EPSG:4326``, ``CRS84``,
``OGC:CRS84``, ``CGCS2000``, ``EPSG:4490``, ``GCJ02``/``GCJ-02`` (AMap,
Tencent, WeChat), ``BD09``/``BD-09`` (Baidu), any ``EPSG:NNNN`` PROJ knows
(e.g. Gauss-Krüger ``EPSG:4543`` or ``EPSG:4526``), and the OGC URI forms
``http://www.opengis.net/def/crs/EPSG/0/NNNN`` / ``.../OGC/1.3/CRS84``.

**Axis order:** this API always takes ``x`` = longitude or easting and ``y`` =
latitude or northing, whatever the authority axis order of the CRS (EPSG:4326
and the Gauss-Krüger CRSs are north-first by the book; pyproj is called
with ``always_xy=True``).

CGCS2000 (EPSG:4490) is treated as WGS84: PROJ itself only has a "ballpark"
identity between them and the real gap is sub-metre. GCJ-02 and BD-09 go
through :mod:`geo.chinacoords` (inverses exact to 1e-12°).

Invalid coordinates raise :class:`~geo.errors.InvalidInput`: NaN/inf,
latitude outside [-90, 90], longitude outside [-180, 180], and values that
look swapped (the point is outside China but the swapped point is inside,
e.g. lon=34.8, lat=114.3). Batches name the first offending row.

>>> lon, lat = to_lonlat(114.35, 34.80, "GCJ-02")
>>> round(float(lon), 4), round(float(lat), 4)
(114.3441, 34.8008)
>>> to_lonlat(34.8, 114.3, "WGS84")  # doctest: +ELLIPSIS
Traceback (most recent call last):
cityaware.geo.errors.InvalidInput: lon=34.8, lat=114.3: looks like latitude and ... swapped
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import overload

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError

from cityaware.geo import chinacoords
from cityaware.geo.arrays import BoolArray, FloatArray, ObjectArray
from cityaware.geo.errors import InvalidInput

WGS84 = "EPSG:4326"
GCJ02 = "GCJ02"
BD09 = "BD09"
ALIASES: dict[str, str] = {
    "WGS84": WGS84,
    "WGS 84": WGS84,
    "EPSG:4326": WGS84,
    "CRS84": WGS84,
    "OGC:CRS84": WGS84,
    "CGCS2000": WGS84,
    "EPSG:4490": WGS84,
    "GCJ02": GCJ02,
    "GCJ-02": GCJ02,
    "BD09": BD09,
    "BD-09": BD09,
}
ACCEPTED = (
    "WGS84, EPSG:4326, CRS84, OGC:CRS84, CGCS2000, EPSG:4490, GCJ02, GCJ-02, "
    "BD09, BD-09, or any EPSG:NNNN code known to PROJ (projected: x=easting, y=northing)"
)
_OGC_URI = re.compile(r"^HTTPS?://WWW\.OPENGIS\.NET/DEF/CRS/(EPSG/0/(\d+)|OGC/1\.3/CRS84)$")
_URN = re.compile(r"^URN:OGC:DEF:CRS:EPSG:[\d.]*:(\d+)$")
_EPSG = re.compile(r"^EPSG:(\d+)$")
# One point converts to a numpy float scalar, a batch to a 1-D array.
Coordinate = FloatArray | np.float64
# The WGS84 ellipsoid: every geodesic distance in metres is measured on it.
WGS84_GEOD = Geod(ellps="WGS84")
_M_PER_DEG_LAT_MIN = 110_574.0
_M_PER_DEG_LON_EQUATOR = 111_319.0  # just under WGS84's 111,319.49 m, so boxes err large
_MAX_LAT_FOR_BOX = 89.0
# Box in which swapped coordinates are recognised (the usual GCJ-02 China box).
_CHINA = (72.004, 0.8293, 137.8347, 55.8271)
# Longitudes covered by the CGCS2000 3° Gauss-Krüger zones (CM 75°E .. 135°E).
_GK_WEST, _GK_EAST = 73.5, 136.5


def normalize_crs(crs: str) -> str:
    """Canonical name of an accepted CRS: ``EPSG:4326``, ``GCJ02``, ``BD09`` or ``EPSG:NNNN``.

    >>> normalize_crs("cgcs2000"), normalize_crs("http://www.opengis.net/def/crs/EPSG/0/4543")
    ('EPSG:4326', 'EPSG:4543')
    """
    key = str(crs).strip().upper()
    if key in ALIASES:
        return ALIASES[key]
    if match := _OGC_URI.match(key):
        key = "EPSG:4326" if match.group(2) is None else f"EPSG:{match.group(2)}"
    elif match := _URN.match(key):
        key = f"EPSG:{match.group(1)}"
    if key in ALIASES:
        return ALIASES[key]
    if _EPSG.match(key):
        _pyproj_crs(key)
        return key
    raise InvalidInput(f"unknown CRS {crs!r}: accepted are {ACCEPTED}")


@lru_cache(maxsize=64)
def _pyproj_crs(name: str) -> CRS:
    try:
        return CRS.from_user_input(name)
    except CRSError:
        raise InvalidInput(f"unknown CRS {name!r}: accepted are {ACCEPTED}") from None


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(_pyproj_crs(source), _pyproj_crs(target), always_xy=True)


def is_geographic(crs: str) -> bool:
    """True when the CRS's x, y are longitude, latitude in degrees."""
    name = normalize_crs(crs)
    return name in (WGS84, GCJ02, BD09) or _pyproj_crs(name).is_geographic


def metric_crs_for(lon: float) -> str:
    """The CGCS2000 3° Gauss-Krüger CRS (no zone prefix) whose zone holds ``lon``.

    >>> metric_crs_for(101.5), metric_crs_for(87.6)
    ('EPSG:4543', 'EPSG:4538')
    """
    central = int(np.clip(round(lon / 3.0) * 3, 75, 135))
    return f"EPSG:{4534 + (central - 75) // 3}"


def metric_crs_of_bounds(bounds: npt.ArrayLike) -> str:
    """The metric CRS for lon/lat ``bounds`` (west, south, east, north): the CGCS2000
    Gauss-Krüger zone of their centre (:func:`metric_crs_for`) when it lies in one of
    China's zones, else the centre's UTM zone; EPSG:3857 when the bounds are empty (NaN).

    >>> metric_crs_of_bounds([126.4, 45.6, 126.9, 45.9]), metric_crs_of_bounds([-3, 40, -2, 41])
    ('EPSG:4551', 'EPSG:32630')
    """
    west, south, east, north = (float(v) for v in np.asarray(bounds, dtype=np.float64))
    lon, lat = (west + east) / 2, (south + north) / 2
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return "EPSG:3857"
    if _GK_WEST <= lon < _GK_EAST:
        return metric_crs_for(lon)
    zone = int((lon + 180) // 6) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def _in_china(lon: FloatArray, lat: FloatArray) -> BoolArray:
    west, south, east, north = _CHINA
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def lonlat_problem(lon: float, lat: float) -> str | None:
    """Why one lon/lat is unusable, or None when it is fine (the rules in the module doc).

    >>> lonlat_problem(34.8, 114.3)
    'lon=34.8, lat=114.3: looks like latitude and longitude are swapped'
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        reason = "not a finite number"
    elif _point_in_china(lat, lon) and not _point_in_china(lon, lat):
        reason = "looks like latitude and longitude are swapped"
    elif abs(lat) > 90:
        reason = "latitude is outside [-90, 90]"
    elif abs(lon) > 180:
        reason = "longitude is outside [-180, 180]"
    else:
        return None
    return f"lon={float(lon)!r}, lat={float(lat)!r}: {reason}"


def _point_in_china(lon: float, lat: float) -> bool:
    west, south, east, north = _CHINA
    return west <= lon <= east and south <= lat <= north


def lonlat_problems(lon: npt.ArrayLike, lat: npt.ArrayLike) -> ObjectArray:
    """Vectorised :func:`lonlat_problem`: an object array of messages, None where fine.

    >>> lonlat_problems([114.3, float("nan")], [95.0, 34.8]).tolist()
    ['lon=114.3, lat=95.0: latitude is outside [-90, 90]', 'lon=nan, lat=34.8: not a finite number']
    """
    lons, lats = _floats(lon), _floats(lat)
    return _dense(_lonlat_problem_rows(lons, lats), len(lons))


def _floats(values: npt.ArrayLike) -> FloatArray:
    return np.atleast_1d(np.asarray(values, dtype=np.float64))


def _lonlat_problem_rows(lon: FloatArray, lat: FloatArray) -> dict[int, str]:
    """{row: message} for the unusable rows only (cheap when all are fine)."""
    ok = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)  # False for NaN
    maybe_swapped = _in_china(lat, lon) & ~_in_china(lon, lat)
    rows: dict[int, str] = {}
    for i in np.flatnonzero(~ok | maybe_swapped).tolist():
        if problem := lonlat_problem(float(lon[i]), float(lat[i])):
            rows[i] = problem
    return rows


def _dense(rows: dict[int, str], n: int) -> ObjectArray:
    problems = np.empty(n, dtype=object)
    for i, message in rows.items():
        problems[i] = message
    return problems


def _convert(
    x_in: npt.ArrayLike, y_in: npt.ArrayLike, crs: str
) -> tuple[FloatArray, FloatArray, dict[int, str]]:
    """(lon, lat, {row: problem}); problem rows hold NaN."""
    name = normalize_crs(crs)
    x, y = _floats(x_in), _floats(y_in)
    if x.shape != y.shape:
        raise InvalidInput(f"x and y differ in length ({x.size} and {y.size})")
    if name in (WGS84, GCJ02, BD09) or _pyproj_crs(name).is_geographic:
        problems = _lonlat_problem_rows(x, y)
        with np.errstate(invalid="ignore"):  # NaN/inf rows are reported in problems
            lon, lat = _geographic_to_lonlat(x, y, name)
    else:
        lon, lat = _transformer(name, WGS84).transform(x, y)
        problems = _projected_problems(x, y, lon, lat, name)
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    if problems:
        bad = list(problems)
        lon, lat = lon.copy(), lat.copy()
        lon[bad], lat[bad] = np.nan, np.nan
    return lon, lat, problems


def to_lonlat_checked(
    x: npt.ArrayLike, y: npt.ArrayLike, crs: str
) -> tuple[FloatArray, FloatArray, ObjectArray]:
    """Convert to WGS84 without raising: ``(lon, lat, problems)``, 1-D arrays.

    Rows with a problem (message in ``problems``, else None) get NaN lon/lat.
    The CRS name itself is still checked (unknown CRS raises InvalidInput).

    >>> lon, lat, problems = to_lonlat_checked([114.3, 200.0], [34.8, 34.8], "WGS84")
    >>> problems.tolist()
    [None, 'lon=200.0, lat=34.8: longitude is outside [-180, 180]']
    """
    lon, lat, problems = _convert(x, y, crs)
    return lon, lat, _dense(problems, len(lon))


def _geographic_to_lonlat(x: FloatArray, y: FloatArray, name: str) -> tuple[FloatArray, FloatArray]:
    if name == WGS84:
        return x, y
    if name == GCJ02:
        return chinacoords.gcj02_to_wgs84(x, y)
    if name == BD09:
        return chinacoords.bd09_to_wgs84(x, y)
    return _transformer(name, WGS84).transform(x, y)


def _projected_problems(
    x: FloatArray, y: FloatArray, lon: FloatArray, lat: FloatArray, name: str
) -> dict[int, str]:
    problems: dict[int, str] = {}
    finite_in = np.isfinite(x) & np.isfinite(y)
    ok = finite_in & np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90)
    outside_china = ok & ~_in_china(lon, lat)
    suspicious = np.flatnonzero(~ok | outside_china)
    if suspicious.size:
        s_lon, s_lat = _transformer(name, WGS84).transform(y[suspicious], x[suspicious])
        swapped_ok = np.isfinite(s_lon) & np.isfinite(s_lat) & _in_china(s_lon, s_lat)
        for i, swapped in zip(suspicious, swapped_ok, strict=True):
            if not finite_in[i]:
                reason = "not a finite number"
            elif swapped:
                reason = "looks like x and y are swapped (give x=easting, y=northing)"
            elif not ok[i]:
                reason = f"cannot be converted from {name} (outside the CRS's area of use?)"
            else:
                continue
            problems[int(i)] = f"x={float(x[i])!r}, y={float(y[i])!r}: {reason}"
    return problems


def _shaped(a: FloatArray, scalar: bool) -> Coordinate:
    return a[0] if scalar else a


@overload
def to_lonlat(x: float, y: float, crs: str) -> tuple[np.float64, np.float64]: ...
@overload
def to_lonlat(x: npt.ArrayLike, y: npt.ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]: ...
def to_lonlat(x: npt.ArrayLike, y: npt.ArrayLike, crs: str) -> tuple[Coordinate, Coordinate]:
    """Convert x, y in ``crs`` to WGS84 (lon, lat); raise InvalidInput on any bad point.

    Scalars in give numpy float scalars out; sequences give 1-D arrays.

    >>> lon, lat = to_lonlat([452000.239], [3375648.033], "EPSG:4543")
    >>> round(float(lon[0]), 3), round(float(lat[0]), 3)
    (101.5, 30.5)
    """
    scalar = np.ndim(x) == 0 and np.ndim(y) == 0
    if scalar and (name := normalize_crs(crs)) in (GCJ02, BD09):
        # One point: chinacoords' pure-Python path (~50x faster than numpy here).
        x_one, y_one = float(np.asarray(x)), float(np.asarray(y))
        if problem := lonlat_problem(x_one, y_one):
            raise InvalidInput(problem)
        inverse = chinacoords.gcj02_to_wgs84 if name == GCJ02 else chinacoords.bd09_to_wgs84
        lon_one, lat_one = inverse(x_one, y_one)
        return np.float64(lon_one), np.float64(lat_one)
    lon, lat, problems = _convert(x, y, crs)
    _raise_first(problems, batch=not scalar)
    return _shaped(lon, scalar), _shaped(lat, scalar)


def _raise_first(problems: dict[int, str], batch: bool) -> None:
    if problems:
        first = min(problems)
        prefix = f"row {first}: " if batch else ""
        more = f" ({len(problems)} invalid rows in total)" if len(problems) > 1 else ""
        raise InvalidInput(f"{prefix}{problems[first]}{more}")


@overload
def from_lonlat(lon: float, lat: float, crs: str) -> tuple[np.float64, np.float64]: ...
@overload
def from_lonlat(
    lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str
) -> tuple[FloatArray, FloatArray]: ...
def from_lonlat(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str) -> tuple[Coordinate, Coordinate]:
    """Convert WGS84 lon/lat to x, y in ``crs`` (inverse of :func:`to_lonlat`).

    >>> x, y = from_lonlat(114.35, 34.80, "BD-09")
    >>> round(float(x), 4), round(float(y), 4)
    (114.3623, 34.8055)
    """
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    name = normalize_crs(crs)
    lons, lats = _floats(lon), _floats(lat)
    if lons.shape != lats.shape:
        raise InvalidInput(f"lon and lat differ in length ({lons.size} and {lats.size})")
    _raise_first(_lonlat_problem_rows(lons, lats), batch=not scalar)
    if name == WGS84:
        x, y = lons, lats
    elif name == GCJ02:
        x, y = chinacoords.wgs84_to_gcj02(lons, lats)
    elif name == BD09:
        x, y = chinacoords.wgs84_to_bd09(lons, lats)
    else:
        x, y = _transformer(WGS84, name).transform(lons, lats)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return _shaped(x, scalar), _shaped(y, scalar)


def geodesic_m(lon: float, lat: float, lons: npt.ArrayLike, lats: npt.ArrayLike) -> FloatArray:
    """Geodesic distances in metres from one point to many on the WGS84 ellipsoid.

    >>> [round(float(d), 1) for d in geodesic_m(113.0, 34.0, [113.0, 113.0], [34.0, 34.001])]
    [0.0, 110.9]
    """
    lons, lats = _floats(lons), _floats(lats)
    if lons.size == 0:
        return np.empty(0)
    _, _, dist = WGS84_GEOD.inv(np.full(lons.shape, lon), np.full(lats.shape, lat), lons, lats)
    return np.asarray(dist, dtype=float)


def radius_box(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box holding every point within ``radius_m`` metres of (lon, lat) (it errs
    large; near a pole it spans every longitude).

    >>> [round(v, 3) for v in radius_box(114.3, 34.9, 1000)]
    [114.289, 34.891, 114.311, 34.909]
    """
    dlat = radius_m / _M_PER_DEG_LAT_MIN
    top = min(_MAX_LAT_FOR_BOX, abs(lat) + dlat)
    dlon = radius_m / (_M_PER_DEG_LON_EQUATOR * math.cos(math.radians(top)))
    if top >= _MAX_LAT_FOR_BOX or dlon >= 180:
        return (-180.0, max(-90.0, lat - dlat), 180.0, min(90.0, lat + dlat))
    return (lon - dlon, lat - dlat, lon + dlon, lat + dlat)
