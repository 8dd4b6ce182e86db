"""One record into one stored row, in plain Python: the live write path.

:func:`~geo.store.records.prepare_rows` validates a DataFrame column by column,
which costs a few milliseconds of pandas set-up even for one row. A live write
(an incident POST, a device update) goes through :func:`prepare_record` instead:
the same rules (the field lists, choices, defaults and messages of
:mod:`geo.store.records`, and its helpers for the rare fields: numbers given as
text, times), applied to one dict. The row and the rejection text are the ones
``prepare_rows`` gives for a one-row frame (a property test holds them equal).

>>> from cityaware.geo.engine.results import Location
>>> from cityaware.geo.store.taxonomy import TAXONOMY
>>> here = Location("inside", "g1", "c1", "s1", "d1", None, "gen1", 101.5, 30.5)
>>> row = prepare_record("incidents", {"id": "a1", "category": "noise", "lon": 101.5,
...     "lat": 30.5}, location=here, locator=None, crs="EPSG:4326", taxonomy=TAXONOMY, now=0)
>>> row["grid_code"], row["status"], row["priority"], row["generation"]
('g1', 'received', 'normal', 'gen1')
>>> prepare_record("incidents", {"lon": 101.5, "lat": 30.5, "priority": "asap"},
...     location=here, locator=None, crs="EPSG:4326", taxonomy=TAXONOMY, now=0)
Traceback (most recent call last):
cityaware.geo.errors.InvalidInput: category is required; unknown priority 'asap'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from cityaware.geo.crs import to_lonlat_checked
from cityaware.geo.engine.protocol import LonLatLocator
from cityaware.geo.engine.results import Location
from cityaware.geo.errors import InvalidInput, Unprocessable
from cityaware.geo.store.records import (
    BAD_COORDINATE,
    CHOICES,
    DEFAULTS,
    FALSE_WORDS,
    FLOAT_FIELDS,
    LOCATION_FIELDS,
    MAX_ID_CHARS,
    TIME_FIELDS,
    TRUE_WORDS,
    assignment_columns,
    attribute_fields,
    choices_for,
    flatten_record,
    merge_attributes,
    new_ids,
)
from cityaware.geo.store.schema import KIND_FIELDS
from cityaware.geo.store.taxonomy import Taxonomy
from cityaware.geo.store.times import series_to_ms


def prepare_record(
    kind: str,
    record: Mapping[str, Any],
    *,
    location: Location | None,
    locator: LonLatLocator | None,
    crs: str,
    taxonomy: Taxonomy,
    now: int,
) -> dict[str, Any]:
    """The row to insert for ``record`` (pinned to ``location`` when given, else located
    with ``locator``); InvalidInput with every reason ("; "-joined) when it cannot be."""
    if location is None and locator is None:
        raise Unprocessable("no active boundary generation: import boundaries before features")
    if location is not None:  # stored as given: the caller located this point
        record = {k: v for k, v in record.items() if k != "geometry"}
        record |= {"lon": location.lon, "lat": location.lat}
        crs = "EPSG:4326"
    record = flatten_record(record)
    for col in ("lon", "lat"):
        if col not in record:
            raise InvalidInput(f"missing coordinate column {col!r} (columns: {list(record)})")
    reasons: list[str] = []
    x, y = _coordinate(record["lon"]), _coordinate(record["lat"])
    if not (math.isfinite(x) and math.isfinite(y)):
        reasons.append(BAD_COORDINATE)
    row: dict[str, Any] = {"kind": kind, "id": _text(record.get("id"))}
    if row["id"] is None:
        row["id"] = new_ids(1)[0]
    elif len(row["id"]) > MAX_ID_CHARS:
        reasons.append(f"id is longer than {MAX_ID_CHARS} characters")
    for name in KIND_FIELDS[kind]:
        row[name] = _field(name, record, taxonomy, reasons)
    row["reported_at"] = now
    if "reported_at" in record:
        reported = _time("reported_at", record["reported_at"], reasons)
        row["reported_at"] = now if reported is None else reported
    row["attributes"] = _attributes(kind, record, reasons)
    if kind == "sensors":
        row["alarm"] = _alarm(row)
    row["created_at"] = row["updated_at"] = now
    lon, lat, problems = to_lonlat_checked([x], [y], crs)
    if problems[0] is not None:
        reasons.append(str(problems[0]))
    if reasons:
        raise InvalidInput("; ".join(reasons))
    if location is not None:
        located = {name: np.array([getattr(location, name)], dtype=object) for name in
                   LOCATION_FIELDS}  # fmt: skip
        generation = location.generation
    else:
        assert locator is not None
        batch = locator.locate_lonlat(lon, lat)
        located = {name: np.asarray(getattr(batch, name), dtype=object) for name in
                   LOCATION_FIELDS}  # fmt: skip
        generation = locator.generation
    row |= {name: values[0] for name, values in assignment_columns(located, generation).items()}
    return {name: _null(value) for name, value in row.items()}


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _text(value: Any) -> str | None:
    return None if _missing(value) else (str(value).strip() or None)


def _coordinate(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return float(_numbers(value).astype(float).iloc[0])


def _numbers(value: Any) -> pd.Series[Any]:
    """The frame path's number parsing, on one value (given as text, say)."""
    return pd.to_numeric(pd.Series([value]), errors="coerce")


def _null(value: Any) -> Any:
    """As the frame path's columns: NaN and empty text are NULL."""
    if _missing(value) or (isinstance(value, str) and value == ""):
        return None
    return value


def _field(name: str, record: Mapping[str, Any], taxonomy: Taxonomy, reasons: list[str]) -> Any:
    raw = record.get(name)
    if name in FLOAT_FIELDS:
        return _number(name, raw, reasons)
    if name in TIME_FIELDS:
        return _time(name, raw, reasons)
    if name == "online":
        return _boolean(raw, reasons)
    value = _text(raw)
    if name in ("category", "channel") and value is not None:
        value = taxonomy.canonical(name, value) or value
    if value is None:
        if name == "category":
            reasons.append("category is required")
        return DEFAULTS.get(name)
    choices = choices_for(name, taxonomy)
    if choices is not None and value not in choices:
        reasons.append(CHOICES.format(name=name, value=value))
    return value


def _number(name: str, raw: Any, reasons: list[str]) -> Any:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return None if raw != raw else raw
    if _missing(raw):
        return None
    number = _numbers(raw).iloc[0]
    if _missing(number):
        if str(raw).strip():
            reasons.append(f"{name} is not a number")
        return None
    return number


def _time(name: str, raw: Any, reasons: list[str]) -> int | None:
    if _missing(raw):
        return None
    ms, bad = series_to_ms(pd.Series([raw]))
    if bool(bad.iloc[0]):
        reasons.append(f"{name} is not an ISO 8601 time")
        return None
    return None if _missing(ms.iloc[0]) else int(ms.iloc[0])


def _boolean(raw: Any, reasons: list[str]) -> bool:
    text = str(raw).strip().lower()
    if _missing(raw) or text in ("", "none", "nan"):
        return True
    if text not in TRUE_WORDS and text not in FALSE_WORDS:
        reasons.append("online must be true or false")
    return text not in FALSE_WORDS


def _attributes(kind: str, record: Mapping[str, Any], reasons: list[str]) -> str | None:
    known = attribute_fields(kind, {"lon", "lat"})
    extras = {k: v for k, v in record.items() if k not in known}
    given = record.get("attributes")
    if not extras and _missing(given):
        return None
    try:
        return merge_attributes(given, extras)
    except ValueError as error:
        reasons.append(str(error))
        return None


def _alarm(row: Mapping[str, Any]) -> bool:
    value, low, high = (_float(row[n]) for n in ("reading_value", "alarm_low", "alarm_high"))
    return value < low or value > high  # NaN compares False: no alarm


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
