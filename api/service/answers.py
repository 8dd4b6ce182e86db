"""The geocode-to-grid answer for one point and for a batch, built from the engine's results.

One point (``GET /v1/locate``) answers with area objects inline (see
:mod:`api.service.shapes`); a batch answers with codes per point and every
area object once, keyed by code (MapIt's keyed-by-id layout), so a 10,000
point answer stays small. Absent parts are ``null``; NaN distances become
``null`` when serialised with orjson.

Every answer says which ``level`` answered (the finest outlined there: a city
with district outlines only answers districts, ``grid: null``), and its
``chain`` runs from that unit up to the city (the top level the generation has).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import orjson

from cityaware.api.service.shapes import AreaCatalog
from cityaware.geo.arrays import ObjectArray
from cityaware.geo.engine.columns import (
    compact_dictionary_columns,
    dictionary_column,
    float_column,
    strings,
)
from cityaware.geo.engine.results import STATUS_NAMES, STATUSES, Located, Location

COORDINATE_DECIMALS = 7


def _round(value: float, digits: int) -> float | None:
    """``value`` rounded, None for NaN.

    >>> _round(1.23456, 2), _round(float("nan"), 2)
    (1.23, None)
    """
    return None if value != value else round(float(value), digits)


def data_version(catalog: AreaCatalog, generation: str, code: str | None) -> dict[str, Any]:
    """Which boundary generation and which division-code edition answered."""
    area = catalog.area(code)
    return {"grids": generation, "codes": area["code_system"] if area else None}


def location_answer(
    loc: Location, catalog: AreaCatalog, gcj02: tuple[float, float], query: dict[str, Any]
) -> dict[str, Any]:
    """The answer for one :class:`~geo.engine.results.Location` (``gcj02``: its GCJ-02 lon/lat)."""
    outside = loc.status == "outside"
    nearest = None
    if outside and loc.nearest_grid:
        nearest = {"grid": catalog.area(loc.nearest_grid), "distance_m": _round(loc.distance_m, 2)}
    codes = (loc.grid_code, loc.community_code, loc.street_code, loc.district_code, loc.city_code)
    return {
        "query": query,
        "status": loc.status,
        "on_boundary": loc.status == "on_boundary",
        "outside": outside,
        "level": loc.level,
        "grid": catalog.area(loc.grid_code),
        "chain": catalog.areas([c for c in codes if c]),
        "managing_zone": catalog.area(loc.managing_zone),
        "location": {"wgs84": [loc.lon, loc.lat], "gcj02": [float(gcj02[0]), float(gcj02[1])]},
        "candidates": catalog.areas(loc.candidates),
        "nearest_grid": nearest,
        "generation": loc.generation,
        "data_version": data_version(catalog, loc.generation, loc.grid_code or loc.nearest_grid),
    }


def unit_answer(
    chain: list[dict[str, Any]],
    catalog: AreaCatalog,
    generation: str,
    query: dict[str, Any],
    zone: str | None = None,
) -> dict[str, Any]:
    """The answer for a unit known without a trusted point (an address certain only down to
    a street office, say): the unit, its level, its chain (unit first) and ``grid: null``;
    ``status`` is ``partial``. A functional ``zone`` without a unit record answers at
    level ``zone`` with no chain.

    >>> from cityaware.api.service.shapes import AreaCatalog
    >>> units = {"s1": {"code": "s1", "name": "S", "level": "street", "parent_code": "d1"},
    ...          "d1": {"code": "d1", "name": "D", "level": "district", "parent_code": ""}}
    >>> answer = unit_answer([units["s1"], units["d1"]], AreaCatalog(units.get), "g1", {})
    >>> answer["level"], answer["grid"], [a["code"] for a in answer["chain"]]
    ('street', None, ['s1', 'd1'])
    """
    codes = [str(record["code"]) for record in chain]
    zone = zone or next((r.get("managing_zone") for r in chain if r.get("managing_zone")), None)
    return {
        "query": query,
        "status": "partial",
        "on_boundary": False,
        "outside": False,
        "level": chain[0]["level"] if chain else "zone",
        "grid": None,
        "chain": catalog.areas(codes),
        "managing_zone": catalog.area(zone),
        "location": None,
        "candidates": None,
        "nearest_grid": None,
        "generation": generation,
        "data_version": data_version(catalog, generation, codes[0] if codes else None),
    }


ARROW_STREAM = "application/vnd.apache.arrow.stream"
_CHAIN_NAMES = ("grid", "community", "street", "district", "city", "managing_zone", "level")


@dataclass(frozen=True)
class LocatedBatch:
    """A located batch (the engine's numeric answers, the locator's chain table, GCJ-02
    coordinates, the area catalog of its generation); answers as JSON column by column
    or per point (:meth:`answer`), CSV (:meth:`csv`) or an Arrow IPC stream
    (:meth:`arrow`). Codes come from the chain table by leaf index: no Python loop
    per point except for the records layout."""

    found: Located
    chains: ObjectArray  # GridLocator.chain_table(): per leaf, its chain columns
    gcj: tuple[np.ndarray, np.ndarray]
    catalog: AreaCatalog
    crs: str
    generation: str
    dictionaries: list[Any]  # geo.engine.columns.chain_dictionaries of the locator

    def __len__(self) -> int:
        return len(self.found.unit)

    def columns(self, ids: list[Any]) -> dict[str, Any]:
        """The batch answer column by column (``layout=columns``)."""
        found, n = self.found, len(self)
        chains = self.chains.take(found.unit, axis=0)  # -1: the trailing row of None
        columns: dict[str, Any] = {"id": ids, "status": STATUS_NAMES[found.status].tolist()}
        columns["level"] = chains[:, 6].tolist()
        for k, name in enumerate(_CHAIN_NAMES[:6]):
            columns[name] = chains[:, k].tolist()
        columns.update(
            {
                "lon": np.round(found.lon, COORDINATE_DECIMALS),  # numpy arrays: orjson
                "lat": np.round(found.lat, COORDINATE_DECIMALS),  # writes them (NaN: null)
                "gcj02_lon": np.round(self.gcj[0], COORDINATE_DECIMALS),
                "gcj02_lat": np.round(self.gcj[1], COORDINATE_DECIMALS),
                "candidates": [None] * n if found.candidates is None else found.candidates.tolist(),
                "nearest_grid": self.chains[found.nearest, 0].tolist(),
                "distance_m": np.round(found.distance_m, 2),
            }
        )
        return columns

    def referenced_areas_json(self) -> bytes | None:
        """Every area object the answers mention (the chains of their units and nearest
        grids, and the candidate grids) as one JSON object keyed by code (None when
        empty), joined from pieces the catalog serialised once per area."""
        found = self.found
        seen = np.zeros(len(self.chains), dtype=bool)  # the last row: no unit (-1)
        seen[found.unit] = seen[found.nearest] = True
        extra: set[str] = set()
        if found.candidates is not None:
            extra.update(chain.from_iterable(c for c in found.candidates if c))
        return self.catalog.json_object(self.chains, np.flatnonzero(seen[:-1]), extra)

    def header(self) -> dict[str, Any]:
        """What every layout says about the whole batch."""
        leaves = self.chains.take(self.found.unit[:50], axis=0)
        first = next(
            (g or d for g, d in zip(leaves[:, 0], leaves[:, 3], strict=True) if g or d), None
        )
        return {
            "count": len(self),
            "crs": self.crs,
            "generation": self.generation,
            "data_version": data_version(self.catalog, self.generation, first),
        }

    def answer(self, ids: list[Any], layout: str) -> dict[str, Any]:
        """The whole batch answer (``layout`` is ``columns`` or ``records``)."""
        columns = self.columns(ids)
        areas = self.referenced_areas_json()
        return {
            **self.header(),
            "areas": None if areas is None else orjson.Fragment(areas),
            "layout": layout,
            "results": columns if layout == "columns" else records_from(columns),
        }

    def csv(self, ids: list[Any]) -> str:
        """The batch as CSV (one row per point, candidates joined with ``;``)."""
        import pandas as pd

        columns = self.columns(ids)
        columns["candidates"] = [";".join(c) if c else "" for c in columns["candidates"]]
        return pd.DataFrame(columns).to_csv(index=False, float_format="%.8f")

    def arrow(self, ids: list[Any] | None) -> bytes:
        """The batch as an Arrow IPC stream (:data:`ARROW_STREAM`): the columns of
        :meth:`columns`, codes dictionary-encoded (one string per unit), the header and
        the referenced areas as JSON in the schema metadata."""
        import pyarrow as pa

        found = self.found
        arrays: dict[str, pa.Array[Any]] = {}
        if ids is not None:
            arrays["id"] = pa.array(ids if _one_type(ids) else [str(i) for i in ids])
        arrays["status"] = dictionary_column(found.status, _STATUSES)
        chains = compact_dictionary_columns(self.dictionaries, found.unit)
        arrays["level"] = chains[6]
        for name, column in zip(_CHAIN_NAMES[:6], chains, strict=False):
            arrays[name] = column
        for name, values in (("lon", found.lon), ("lat", found.lat)):
            arrays[name] = float_column(values)
        arrays["gcj02_lon"], arrays["gcj02_lat"] = map(float_column, self.gcj)
        if found.candidates is not None:
            arrays["candidates"] = pa.array(found.candidates, type=pa.list_(pa.string()))
        [arrays["nearest_grid"]] = compact_dictionary_columns(self.dictionaries[:1], found.nearest)
        arrays["distance_m"] = float_column(found.distance_m)
        metadata = {
            "header": orjson.dumps(self.header()),
            "areas": self.referenced_areas_json() or b"{}",
        }
        table = pa.table(arrays).replace_schema_metadata(metadata)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()


def _one_type(values: list[Any]) -> bool:
    return len({type(v) for v in values}) <= 1


_STATUSES = strings(list(STATUSES))


def records_from(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """One compact record per point (``layout=records``): codes and both coordinate pairs."""
    floats = [columns[n].tolist() for n in ("lon", "lat", "gcj02_lon", "gcj02_lat", "distance_m")]
    return [
        {
            "id": id_,
            "status": s,
            "on_boundary": s == "on_boundary",
            "outside": s == "outside",
            "level": lv,
            "grid": g,
            "community": c,
            "street": st,
            "district": d,
            "city": city,
            "managing_zone": z,
            "wgs84": [lon, lat],
            "gcj02": [glon, glat],
            "candidates": cand,
            "nearest_grid": near,
            "distance_m": dist,
        }
        for id_, s, lv, g, c, st, d, city, z, cand, near, lon, lat, glon, glat, dist in zip(
            *(columns[n] for n in ("id", "status", "level", "grid", "community", "street")),
            *(columns[n] for n in ("district", "city", "managing_zone", "candidates")),
            columns["nearest_grid"],
            *floats,
            strict=True,
        )
    ]
