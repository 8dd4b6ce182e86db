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

from cityaware.api.service.shapes import AreaCatalog
from cityaware.geo.engine.results import Location, LocationBatch

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


AREA_COLUMNS: tuple[str, ...] = (
    "grid",
    "community",
    "street",
    "district",
    "city",
    "managing_zone",
    "nearest_grid",
)


def batch_columns(
    batch: LocationBatch, gcj_lon: np.ndarray, gcj_lat: np.ndarray, ids: list[Any]
) -> dict[str, Any]:
    """The batch answer column by column (``layout=columns``: no per-point objects)."""
    return {
        "id": ids,
        "status": batch.status.tolist(),
        "level": batch.level.tolist(),
        "grid": batch.grid_code.tolist(),
        "community": batch.community_code.tolist(),
        "street": batch.street_code.tolist(),
        "district": batch.district_code.tolist(),
        "city": batch.city_code.tolist(),
        "managing_zone": batch.managing_zone.tolist(),
        "lon": np.round(batch.lon, COORDINATE_DECIMALS),  # numpy arrays: orjson writes them
        "lat": np.round(batch.lat, COORDINATE_DECIMALS),  # directly (NaN as null)
        "gcj02_lon": np.round(gcj_lon, COORDINATE_DECIMALS),
        "gcj02_lat": np.round(gcj_lat, COORDINATE_DECIMALS),
        "candidates": batch.candidates.tolist(),
        "nearest_grid": batch.nearest_grid.tolist(),
        "distance_m": np.round(batch.distance_m, 2),
    }


def referenced_areas(columns: dict[str, Any], catalog: AreaCatalog) -> dict[str, dict[str, Any]]:
    """Every area object the batch's columns mention, keyed by code (each looked up once)."""
    codes: set[str | None] = set()
    for name in AREA_COLUMNS:
        codes.update(columns[name])
    codes.update(chain.from_iterable(c for c in columns["candidates"] if c))
    codes.discard(None)
    return catalog.lookup_many(codes)


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


@dataclass(frozen=True)
class LocatedBatch:
    """A located batch with its GCJ-02 coordinates and the area catalog of its generation;
    answers as JSON (:meth:`answer`) or CSV (:meth:`csv`)."""

    batch: LocationBatch
    gcj: tuple[np.ndarray, np.ndarray]
    catalog: AreaCatalog
    crs: str

    def columns(self, ids: list[Any]) -> dict[str, Any]:
        """The batch column by column (see :func:`batch_columns`)."""
        return batch_columns(self.batch, self.gcj[0], self.gcj[1], ids)

    def answer(self, ids: list[Any], layout: str) -> dict[str, Any]:
        """The whole batch answer (``layout`` is ``columns`` or ``records``)."""
        columns = self.columns(ids)
        generation = self.batch.generation
        leaves = zip(columns["grid"][:50], columns["district"][:50], strict=True)
        first_grid = next((g or d for g, d in leaves if g or d), None)
        return {
            "count": len(self.batch),
            "crs": self.crs,
            "generation": generation,
            "data_version": data_version(self.catalog, generation, first_grid),
            "areas": referenced_areas(columns, self.catalog) or None,
            "layout": layout,
            "results": columns if layout == "columns" else records_from(columns),
        }

    def csv(self, ids: list[Any]) -> str:
        """The batch as CSV (one row per point, candidates joined with ``;``)."""
        import pandas as pd

        columns = self.columns(ids)
        columns["candidates"] = [";".join(c) if c else "" for c in columns["candidates"]]
        return pd.DataFrame(columns).to_csv(index=False, float_format="%.8f")
