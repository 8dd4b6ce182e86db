"""Turning input rows into stored rows (validated, pinned to their grid) and back.

Bulk imports go through :func:`prepare_rows`: it validates a DataFrame column by
column (vectorised), collects a reason for every rejected row (coordinates checked
by :func:`geo.crs.to_lonlat_checked`), and assigns the grid of all accepted rows
with one vectorised ``locate_lonlat`` call. Single writes apply the same rules (the
constants and helpers below) to one dict in :mod:`geo.store.single`.

>>> out = to_record({"kind": "cameras", "id": "c1", "lon": 114.3, "lat": 34.8,
...     "online": 1, "candidates": None, "attributes": "{}", "created_at": 0,
...     "updated_at": 0, "reported_at": None})
>>> out["online"], out["created_at"]
(True, '1970-01-01T00:00:00Z')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd

from cityaware.geo.arrays import BoolArray, IntArray, ObjectArray
from cityaware.geo.crs import to_lonlat_checked
from cityaware.geo.engine.protocol import LonLatLocator
from cityaware.geo.errors import InvalidInput, Unprocessable
from cityaware.geo.store.schema import (
    ASSIGNMENT_COLUMNS,
    COMMON_FIELDS,
    DERIVED_FIELDS,
    KIND_FIELDS,
)
from cityaware.geo.store.taxonomy import DELIVERY_STATES, PRIORITIES, STATUSES, Taxonomy
from cityaware.geo.store.times import from_ms, series_to_ms

FLOAT_FIELDS = ("reading_value", "alarm_low", "alarm_high")
TIME_FIELDS = ("reported_at", "reading_at")
LOCATION_FIELDS: tuple[str, ...] = (
    *("status", "grid_code", "community_code", "street_code", "district_code"),
    *("managing_zone", "lon", "lat", "distance_m", "nearest_grid", "candidates"),
)
# A rejection reason: one text, or per-row text (an array, or a function of the row number).
Reason = str | ObjectArray | Callable[[int], str]
TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on", "online"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off", "offline"})
BAD_COORDINATE = "missing, NaN or non-numeric coordinate (or not a point geometry)"
MAX_ID_CHARS = 64
CHOICES = "unknown {name} {value!r}"
DEFAULTS = {"status": "received", "delivery_state": "pending", "priority": "normal"}


def choices_for(name: str, taxonomy: Taxonomy) -> frozenset[str] | None:
    """The values field ``name`` may take (None: any text)."""
    choices = {
        "category": taxonomy.categories,
        "channel": taxonomy.channels,
        "status": STATUSES,
        "delivery_state": DELIVERY_STATES,
        "priority": PRIORITIES,
    }.get(name)
    return None if choices is None else frozenset(choices)


def attribute_fields(kind: str, coords: set[str]) -> set[str]:
    """The input fields that are not ``attributes`` of a ``kind`` record."""
    return set(COMMON_FIELDS) | set(KIND_FIELDS[kind]) | coords | {"geometry", "updated_at"}


def flatten_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with a GeoJSON Point ``geometry`` as lon/lat."""
    record = dict(record)
    geometry = record.pop("geometry", None)
    if geometry is not None:
        try:
            record["lon"], record["lat"] = geometry["coordinates"][:2]
        except (TypeError, KeyError, ValueError) as error:
            raise InvalidInput(f"geometry must be a GeoJSON Point: {error}") from error
    return record


@dataclass
class Prepared:
    """Rows ready to insert (column -> list, aligned) and the rejected input rows."""

    columns: dict[str, list[Any]] = field(default_factory=dict)
    positions: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.positions)

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Rows ``start:stop`` as dicts for an ``executemany`` insert."""
        names = list(self.columns)
        values = [self.columns[n][start:stop] for n in names]
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


class _Reasons:
    """Every rejection reason of every input row ("; "-joined)."""

    def __init__(self, n: int):
        self.reason = np.full(n, None, dtype=object)

    def add(self, mask: npt.ArrayLike, reason: Reason) -> None:
        """Reject rows where ``mask``; ``reason`` is text, or per-row text (array or callable)."""
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)).tolist():
            text = (
                reason
                if isinstance(reason, str)
                else (reason(i) if callable(reason) else reason[i])
            )
            self.reason[i] = text if self.reason[i] is None else f"{self.reason[i]}; {text}"

    @property
    def ok(self) -> BoolArray:
        return np.asarray(self.reason == None, dtype=bool)  # noqa: E711


def prepare_rows(
    kind: str,
    frame: pd.DataFrame,
    *,
    locator: LonLatLocator | None,
    crs: str,
    taxonomy: Taxonomy,
    now: int,
    x_col: str = "lon",
    y_col: str = "lat",
    cluster: bool = False,
    keep_updated_at: bool = False,
) -> Prepared:
    """Validate ``frame`` for ``kind``, assign grids, and return what to insert
    (``cluster``: accepted rows ordered by grid, for fast bulk index builds;
    ``keep_updated_at``: imports of history keep their own ``updated_at``, live writes
    are stamped now)."""
    if locator is None:
        raise Unprocessable("no active boundary generation: import boundaries before features")
    frame = frame.reset_index(drop=True)
    n = len(frame)
    reasons = _Reasons(n)
    for col in (x_col, y_col):
        if col not in frame.columns:
            raise InvalidInput(
                f"missing coordinate column {col!r} (columns: {list(frame.columns)})"
            )
    x = pd.to_numeric(frame[x_col], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(frame[y_col], errors="coerce").to_numpy(dtype=float)
    reasons.add(~np.isfinite(x) | ~np.isfinite(y), BAD_COORDINATE)
    out: dict[str, Any] = {"kind": np.full(n, kind, dtype=object)}
    out["id"] = _ids(frame, reasons)
    for name in KIND_FIELDS[kind]:
        out[name] = _field(kind, name, frame, reasons, taxonomy)
    out["reported_at"] = np.full(n, now, dtype=object)
    if "reported_at" in frame.columns:
        reported, bad = series_to_ms(frame["reported_at"])
        reasons.add(bad.to_numpy(), "reported_at is not an ISO 8601 time")
        out["reported_at"] = reported.fillna(now).astype("int64").to_numpy(dtype=object)
    out["attributes"] = _attributes(kind, frame, {x_col, y_col}, reasons)
    if kind == "sensors":
        out["alarm"] = _alarm(out)
    out["created_at"] = out["updated_at"] = np.full(n, now, dtype=object)
    if keep_updated_at and "updated_at" in frame.columns:  # imports keep their last change
        updated, bad = series_to_ms(frame["updated_at"])
        reasons.add(bad.to_numpy(), "updated_at is not an ISO 8601 time")
        out["updated_at"] = updated.fillna(now).astype("int64").to_numpy(dtype=object)

    lon, lat, problems = to_lonlat_checked(x, y, crs)
    reasons.add(problems != None, problems)  # noqa: E711
    keep = np.flatnonzero(reasons.ok)
    batch = locator.locate_lonlat(lon[keep], lat[keep])
    located = {name: np.asarray(getattr(batch, name), dtype=object) for name in LOCATION_FIELDS}
    if cluster:  # grid order: index inserts land on neighbouring pages
        order = np.argsort(pd.Series(located["grid_code"]).fillna("").to_numpy(str), kind="stable")
        keep, located = keep[order], {name: v[order] for name, v in located.items()}
    prepared = Prepared(positions=keep)
    prepared.columns = {name: _nulls(values[keep]) for name, values in out.items()}
    prepared.columns.update(assignment_columns(located, locator.generation))
    bad_rows = np.flatnonzero(~reasons.ok)
    prepared.rejected = [(int(i), str(reasons.reason[i])) for i in bad_rows]
    return prepared


def assignment_columns(located: Mapping[str, ObjectArray], generation: str) -> dict[str, list[Any]]:
    """Store columns (lon, lat and the assignment) from located arrays."""
    n = len(located["status"])
    candidates = [
        None if c is None or len(c) == 0 else orjson.dumps(list(c)).decode()
        for c in located["candidates"]
    ]
    columns = {
        "lon": _floats(located["lon"]),
        "lat": _floats(located["lat"]),
        "assign_status": _nulls(located["status"]),
        "candidates": candidates,
        "distance_m": _floats(located["distance_m"]),
        "generation": [generation] * n,
    }
    for name in ("grid_code", "community_code", "street_code", "district_code"):
        columns[name] = _nulls(located[name])
    columns["managing_zone"] = _nulls(located["managing_zone"])
    columns["nearest_grid"] = _nulls(located["nearest_grid"])
    return columns


def to_record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The public dict of a stored row (ISO times, parsed JSON, kind's fields only)."""
    kind = row["kind"]
    record: dict[str, Any] = {"id": row["id"], "kind": kind, "lon": row["lon"], "lat": row["lat"]}
    for name in KIND_FIELDS.get(kind, ()) + DERIVED_FIELDS.get(kind, ()):
        value = row.get(name)
        if name in ("online", "alarm") and value is not None:
            value = bool(value)
        record[name] = from_ms(value) if name == "reading_at" else value
    for name in ASSIGNMENT_COLUMNS:
        if name in row:
            record[name] = row[name]
    if record.get("candidates") is not None:
        record["candidates"] = orjson.loads(record["candidates"])
    for name in ("reported_at", "created_at", "updated_at"):
        record[name] = from_ms(row.get(name))
    record["attributes"] = orjson.loads(row["attributes"]) if row.get("attributes") else {}
    return record


def new_ids(n: int) -> list[str]:
    """n fresh random feature ids (16 hex digits each).

    >>> [len(i) for i in new_ids(2)]
    [16, 16]
    """
    return [f"{v:016x}" for v in np.frombuffer(os.urandom(8 * n), dtype=">u8").tolist()]


def _column(frame: pd.DataFrame, name: str) -> pd.Series[Any] | None:
    """The input column, or None when the input does not have it (the fast path)."""
    return frame[name] if name in frame.columns else None


def _texts(values: pd.Series[Any] | None, n: int) -> ObjectArray:
    """Stripped text, None for missing/blank values."""
    if values is None:
        return np.full(n, None, dtype=object)
    out = np.empty(n, dtype=object)
    out[:] = [
        None if v is None or v != v or v is pd.NA else (str(v).strip() or None)
        for v in values.to_numpy(dtype=object)
    ]
    return out


def _ids(frame: pd.DataFrame, reasons: _Reasons) -> ObjectArray:
    ids = _texts(_column(frame, "id"), len(frame))
    missing = ids == None  # noqa: E711
    ids[missing] = new_ids(int(missing.sum()))
    if not missing.all():
        too_long = pd.Series(ids).str.len().to_numpy() > MAX_ID_CHARS
        reasons.add(too_long, f"id is longer than {MAX_ID_CHARS} characters")
        dup = pd.Series(ids).duplicated().to_numpy()
        reasons.add(dup, _reason("duplicate id {} in the input", ids))
    return ids


def _field(
    kind: str, name: str, frame: pd.DataFrame, reasons: _Reasons, taxonomy: Taxonomy
) -> ObjectArray:
    raw, n = _column(frame, name), len(frame)
    if name in FLOAT_FIELDS or name in TIME_FIELDS:
        if raw is None:
            return np.full(n, None, dtype=object)
        if name in FLOAT_FIELDS:
            numbers = pd.to_numeric(raw, errors="coerce")
            bad = raw.notna() & numbers.isna() & (raw.astype(str).str.strip() != "")
            reasons.add(bad.to_numpy(), f"{name} is not a number")
        else:
            numbers, bad = series_to_ms(raw)
            reasons.add(bad.to_numpy(), f"{name} is not an ISO 8601 time")
        return numbers.astype(object).where(numbers.notna(), None).to_numpy(dtype=object)
    if name == "online":
        return np.full(n, True, dtype=object) if raw is None else _booleans(raw, reasons)
    values = _texts(raw, n)
    if name in ("category", "channel"):  # Chinese names, codes and aliases mean their id
        values = np.array(taxonomy.canonical_many(name, list(values)), dtype=object)
    choices = choices_for(name, taxonomy)
    missing = values == None  # noqa: E711
    if name in DEFAULTS:
        values[missing] = DEFAULTS[name]
        missing[:] = False
    if name == "category":
        reasons.add(missing, "category is required")
    if choices is not None:
        unknown = ~missing & np.fromiter((v not in choices for v in values), bool, n)
        reasons.add(unknown, lambda i: CHOICES.format(name=name, value=values[i]))
    return values


def _booleans(raw: pd.Series[Any], reasons: _Reasons) -> ObjectArray:
    text = raw.astype(str).str.strip().str.lower()
    missing = raw.isna() | (text == "") | (text == "none") | (text == "nan")
    truthy, falsy = text.isin(TRUE_WORDS), text.isin(FALSE_WORDS)
    reasons.add((~missing & ~truthy & ~falsy).to_numpy(), "online must be true or false")
    out = np.full(len(raw), True, dtype=object)
    out[falsy.to_numpy()] = False
    return out


def _attributes(kind: str, frame: pd.DataFrame, coords: set[str], reasons: _Reasons) -> ObjectArray:
    known = attribute_fields(kind, coords)
    extras = [c for c in frame.columns if c not in known]
    base = _column(frame, "attributes")
    result = np.full(len(frame), None, dtype=object)
    if not extras and (base is None or base.isna().all()):
        return result
    base = base if base is not None else pd.Series([None] * len(frame), dtype=object)
    extra_rows = frame[extras].to_dict("records") if extras else [{}] * len(frame)
    for i, (given, extra) in enumerate(zip(base.tolist(), extra_rows, strict=True)):
        try:
            result[i] = merge_attributes(given, extra)
        except ValueError as error:
            reasons.add(np.arange(len(frame)) == i, str(error))
    return result


def merge_attributes(given: object, extra: Mapping[Any, Any]) -> str | None:
    """A row's ``attributes`` JSON: ``given`` (JSON text or a dict) with the ``extra`` input
    fields added (None when empty); ValueError when ``given`` is not a JSON object.

    >>> merge_attributes('{"a": 1}', {"b": 2, "c": None})
    '{"a":1,"b":2}'
    """
    merged: object = {}
    if isinstance(given, str) and given.strip():
        try:
            merged = orjson.loads(given)
        except orjson.JSONDecodeError:
            merged = None
    elif isinstance(given, dict):
        merged = dict(given)
    if not isinstance(merged, dict):
        raise ValueError("attributes must be a JSON object")
    merged.update({k: _plain(v) for k, v in extra.items() if not _missing(v)})
    if not merged:
        return None
    return orjson.dumps(merged, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def _alarm(out: dict[str, Any]) -> ObjectArray:
    value = pd.to_numeric(pd.Series(out["reading_value"]), errors="coerce")
    low = pd.to_numeric(pd.Series(out["alarm_low"]), errors="coerce")
    high = pd.to_numeric(pd.Series(out["alarm_high"]), errors="coerce")
    return np.asarray((value < low) | (value > high), dtype=object)


def _reason(template: str, values: ObjectArray) -> Callable[[int], str]:
    """A per-row reason built only for the rows rejected."""
    return lambda i: template.format(values[i])


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _nulls(values: npt.ArrayLike) -> list[Any]:
    """A Python list of ``values`` with NaN/NA/empty text as None (vectorised)."""
    values = np.asarray(values)
    if values.dtype.kind in "fiub":
        out = values.astype(object)
        if values.dtype.kind == "f":
            out[np.isnan(values)] = None
        return list(out.tolist())
    out = values.astype(object)
    out[pd.isna(out) | (out == "")] = None
    return list(out.tolist())


def _floats(values: npt.ArrayLike) -> list[Any]:
    return _nulls(np.asarray(values, dtype=float))
