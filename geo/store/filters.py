"""The one filter grammar for queries, aggregates and exports: :class:`FeatureFilter`.

>>> f = FeatureFilter(bbox=(113.5, 34.6, 113.8, 34.9), category="noise")
>>> f.categories()
('noise',)
>>> parse_geometry("POINT (1 2)").wkt
'POINT (1 2)'
>>> parse_geometry('{"type": "Point", "coordinates": [1, 2]}').wkt
'POINT (1 2)'
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from cityaware.geo.boundaries.levels import is_city_code
from cityaware.geo.crs import radius_box
from cityaware.geo.errors import InvalidInput
from cityaware.geo.predicates import CqlTree
from cityaware.geo.store.cql2 import cql2_clause
from cityaware.geo.store.dialect import Backend
from cityaware.geo.store.imports import visible
from cityaware.geo.store.times import to_ms

TIME_FIELDS = ("reported_at", "updated_at", "created_at", "reading_at")
Choice = str | Sequence[str] | None


@dataclass(frozen=True)
class FeatureFilter:
    """What to select; every field is optional and all given fields must match.

    * ``bbox``: (min lon, min lat, max lon, max lat), WGS84, edges included.
    * ``polygon``: a shapely geometry, GeoJSON (dict or text) or WKT; points in
      or on it match.
    * ``radius``: (lon, lat, metres): geodesic distance on the WGS84 ellipsoid.
    * ``region``: a unit code at any level (district, street, community, grid)
      or a functional-zone code; matches by the stored assignment chain.
    * ``since`` / ``until``: inclusive bounds on ``time_field`` (ISO 8601
      text, datetime or epoch milliseconds; naive times are UTC).
    * ``category``, ``status``, ``channel``, ``device_kind``: one value or a list.
    * ``online``: True/False.
    * ``ids``: only these feature ids.
    * ``cql2``: a parsed CQL2 JSON tree over the kind's queryables (see
      :mod:`geo.store.cql2`), compiled by the store to its own columns.
    * ``where``: an extra SQLAlchemy clause built from ``store.columns`` by
      Python callers; never SQL text from users.
    """

    bbox: tuple[float, float, float, float] | None = None
    polygon: Any = None
    radius: tuple[float, float, float] | None = None
    region: str | None = None
    since: str | datetime | int | None = None
    until: str | datetime | int | None = None
    time_field: str = "reported_at"
    category: Choice = None
    status: Choice = None
    channel: Choice = None
    device_kind: Choice = None
    online: bool | None = None
    ids: Sequence[str] | None = None
    cql2: CqlTree | None = field(default=None, compare=False)
    where: sa.ColumnElement[bool] | None = field(default=None, compare=False)

    def categories(self) -> tuple[str, ...] | None:
        """The ``category`` choice as a tuple (None: any)."""
        return _choices(self.category)


def parse_geometry(value: Any) -> BaseGeometry:
    """A shapely geometry from a shapely object, GeoJSON (dict or text) or WKT."""
    if isinstance(value, BaseGeometry):
        geometry = value
    else:
        try:
            if isinstance(value, dict):
                geometry = shape(value.get("geometry", value))
            elif isinstance(value, str) and value.lstrip().startswith("{"):
                raw = json.loads(value)
                geometry = shape(raw.get("geometry", raw))
            elif isinstance(value, str):
                geometry = shapely.from_wkt(value)
            else:
                raise TypeError(f"unsupported type {type(value).__name__}")
        except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.GEOSException) as e:
            raise InvalidInput(f"polygon is neither valid GeoJSON nor WKT: {e}") from e
    if geometry.is_empty:
        raise InvalidInput("polygon is empty")
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    return geometry


def filter_clauses(
    backend: Backend,
    features: sa.Table,
    kind: str,
    f: FeatureFilter | None,
    walk: bool = False,
) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses selecting ``kind`` features matching ``f``.

    ``walk=True`` is for a page read in insertion order where matches are dense:
    walking the ``(kind, fid)`` index and testing each row until the page is full
    beats collecting every candidate first, so the clauses leave out the
    spatial-index candidates of ``bbox``, ``polygon`` and ``radius`` (the exact tests
    stay) and keep time bounds off their index.
    """
    c = features.c
    clauses: list[sa.ColumnElement[bool]] = [c.kind == kind, visible(features)]
    if f is None:
        return clauses

    def candidates(*box: float) -> list[sa.ColumnElement[bool]]:
        return [] if walk else [backend.index_prefilter(features, *box)]

    if f.bbox is not None:
        minx, miny, maxx, maxy = _bbox(f.bbox)
        clauses += [
            *candidates(minx, miny, maxx, maxy),
            c.lon.between(minx, maxx),
            c.lat.between(miny, maxy),
        ]
    if f.polygon is not None:
        geometry = parse_geometry(f.polygon)
        clauses += [*candidates(*geometry.bounds), backend.intersects(features, geometry)]
    if f.radius is not None:
        lon, lat, metres = _radius(f.radius)
        clauses += [
            *candidates(*radius_box(lon, lat, metres)),
            backend.within_metres(features, lon, lat, metres),
        ]
    if f.region:
        clauses.append(_region_clause(c, kind, str(f.region), backend.partitioned))
    if f.since is not None or f.until is not None:
        if f.time_field not in TIME_FIELDS:
            raise InvalidInput(f"time_field must be one of {', '.join(TIME_FIELDS)}")
        # A walk keeps the bounds off their index, except on the partition key: there they
        # prune the months first (a month's bounds barely narrow its own partitions).
        off_index = walk and not (backend.partitioned and f.time_field == "reported_at")
        column: sa.ColumnElement[Any] = c[f.time_field] + 0 if off_index else c[f.time_field]
        if f.since is not None:
            clauses.append(column >= to_ms(f.since, "since"))
        if f.until is not None:
            clauses.append(column <= to_ms(f.until, "until"))
    for name in ("category", "status", "channel", "device_kind"):
        values = _choices(getattr(f, name))
        if values is not None:
            clauses.append(c[name].in_(values))
    if f.online is not None:
        clauses.append(c.online.is_(bool(f.online)))
    if f.ids is not None:
        clauses.append(c.id.in_([str(i) for i in f.ids]))
    if f.cql2 is not None:
        clauses.append(cql2_clause(backend, features, kind, f.cql2))
    if f.where is not None:
        clauses.append(f.where)
    return clauses


def _region_clause(
    c: sa.ColumnCollection[str, sa.Column[Any]], kind: str, code: str, partitioned: bool = False
) -> sa.ColumnElement[bool]:
    """A region code by its length: 6 district (or zone; a city when it ends in 00: its
    districts' codes start with its first four digits), 9 street, 12 community, else grid.
    On a month-partitioned store a district is an OR in each month's partitions (a fid
    union would read the district's rows of every month, whatever the time bounds)."""
    if is_city_code(code):
        return c.district_code.startswith(code[:4], autoescape=True)
    if len(code) == 6 and partitioned:
        return sa.or_(c.district_code == code, c.managing_zone == code)
    if len(code) == 6:  # a district or a functional zone: two index lookups, one union
        table = c.fid.table
        arms = [
            sa.select(c.fid).where(c.kind == kind, column == code)
            for column in (c.district_code, c.managing_zone)
        ]
        return table.c.fid.in_(sa.union_all(*arms))
    if len(code) == 9:
        return c.street_code == code
    if len(code) == 12:
        return c.community_code == code
    return c.grid_code == code


def _choices(value: Choice) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def _finite(values: Sequence[Any], what: str, count: int) -> list[float]:
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"{what} must be {count} numbers") from error
    if len(numbers) != count or not all(math.isfinite(v) for v in numbers):
        raise InvalidInput(f"{what} must be {count} finite numbers, got {list(values)!r}")
    return numbers


def _bbox(value: Sequence[Any]) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = _finite(value, "bbox", 4)
    if minx > maxx or miny > maxy:
        raise InvalidInput(
            f"bbox {value!r} has min above max (expected minlon,minlat,maxlon,maxlat)"
        )
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise InvalidInput(f"bbox {value!r} is outside lon [-180, 180] / lat [-90, 90]")
    return minx, miny, maxx, maxy


def _radius(value: Sequence[Any]) -> tuple[float, float, float]:
    lon, lat, metres = _finite(value, "radius (lon, lat, metres)", 3)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"radius centre ({lon}, {lat}) is out of lon/lat range")
    if metres < 0:
        raise InvalidInput(f"radius must not be negative, got {metres}")
    return lon, lat, metres
