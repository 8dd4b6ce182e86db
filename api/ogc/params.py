"""Query parameters of ``/items`` and exports, validated into an :class:`ItemQuery`.

>>> parse_bbox("113.5,34.6,113.8,34.9", CRS84)
(113.5, 34.6, 113.8, 34.9)
>>> parse_sortby("-name,code")
[('name', False), ('code', True)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import pandas as pd
from fastapi import Query

from cityaware.api.ogc.crs import CRS84, bbox_to_crs84, check_crs
from cityaware.api.ogc.filters import parse_filter
from cityaware.api.ogc.providers import Bbox, ItemQuery
from cityaware.geo.errors import InvalidInput
from cityaware.geo.predicates import parse_instant

DEFAULT_LIMIT = 10
MAX_LIMIT = 10000


def parse_bbox(text: str | None, bbox_crs: str) -> Bbox | None:
    """Parse ``minx,miny,maxx,maxy`` (6 values: heights dropped) in ``bbox_crs`` to CRS84."""
    if text is None or text == "":
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InvalidInput(f"bbox {text!r} must be 4 or 6 comma-separated numbers") from None
    if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
        raise InvalidInput(f"bbox {text!r} must be 4 or 6 comma-separated finite numbers")
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if values[0] > values[2] or values[1] > values[3]:
        raise InvalidInput(f"bbox {text!r}: the lower corner must come before the upper corner")
    west, south, east, north = bbox_to_crs84(tuple(values), bbox_crs)
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        order = "lat,lon" if bbox_crs != CRS84 else "lon,lat"
        raise InvalidInput(f"bbox {text!r} is outside the valid range (axis order {order})")
    return (west, south, east, north)


def _instant(text: str) -> pd.Timestamp | None:
    if text in ("", ".."):
        return None
    return parse_instant(text, "datetime")


def parse_datetime(text: str | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None] | None:
    """Parse ``datetime``: an instant, ``start/end``, ``../end`` or ``start/..``.

    A bare date covers its whole (UTC) day.
    """
    if text is None or text == "":
        return None
    if "/" in text:
        start_text, _, end_text = text.partition("/")
        start, end = _instant(start_text), _instant(end_text)
        if len(end_text) == 10 and end is not None:
            end = end + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        if start is not None and end is not None and start > end:
            raise InvalidInput(f"datetime {text!r}: start is after end")
        return (start, end)
    start = _instant(text)
    if start is None:
        raise InvalidInput("datetime '..' needs a start or an end")
    if len(text) == 10:
        return (start, start + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))
    return (start, start)


def parse_sortby(text: str | None) -> list[tuple[str, bool]]:
    """``sortby=-a,+b,c`` → ``[(name, ascending), ...]``."""
    out = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        ascending = not part.startswith("-")
        name = part.lstrip("+-").strip()
        if not name:
            raise InvalidInput(f"sortby {text!r} has an empty property name")
        out.append((name, ascending))
    return out


def parse_properties(text: str | None) -> list[str] | None:
    """``properties=a,b`` → ``['a', 'b']``; ``None`` means all."""
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


@dataclass
class ItemParams:
    """The parsed filter and output parameters shared by ``/items`` and exports."""

    query: ItemQuery
    crs: str


def item_params(
    bbox: Annotated[
        str | None, Query(description="minx,miny,maxx,maxy in bbox-crs (CRS84: lon,lat)")
    ] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox")] = None,
    crs: Annotated[str | None, Query(description="CRS of the output geometries")] = None,
    datetime: Annotated[str | None, Query(description="instant or interval (a/b, ../b)")] = None,
    filter: Annotated[str | None, Query(description="CQL2 filter")] = None,
    filter_lang: Annotated[
        Literal["cql2-text", "cql2-json"] | None,
        Query(alias="filter-lang", description="cql2-text (default) or cql2-json"),
    ] = None,
    filter_crs: Annotated[
        str | None, Query(alias="filter-crs", description="CRS of filter geometries: CRS84 only")
    ] = None,
    properties: Annotated[str | None, Query(description="comma-separated properties")] = None,
    sortby: Annotated[str | None, Query(description="e.g. -created_at,category")] = None,
    generation: Annotated[
        str | None, Query(description="boundary generation id (default: the active one)")
    ] = None,
) -> ItemParams:
    """FastAPI dependency: validate the common parameters (400 on anything wrong)."""
    bbox_crs_uri = check_crs(bbox_crs, "bbox-crs")
    if check_crs(filter_crs, "filter-crs") != CRS84:
        raise InvalidInput("filter-crs: filter geometries are read as CRS84 (lon,lat) only")
    query = ItemQuery(
        bbox=parse_bbox(bbox, bbox_crs_uri),
        datetime=parse_datetime(datetime),
        filter=parse_filter(filter, filter_lang),
        properties=parse_properties(properties),
        sortby=parse_sortby(sortby),
        generation=generation or None,
    )
    return ItemParams(query=query, crs=check_crs(crs, "crs"))
