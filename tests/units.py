"""One record of a units frame (geo/boundaries/schema.py), and a data directory with a units
frame staged and active, for tests that build small cities."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import shapely

from cityaware.geo.boundaries.generations import BoundaryRegistry


def unit_record(
    code: str,
    name: str,
    level: str,
    parent_code: str,
    geometry: shapely.Geometry,
    managing_zone: str = "",
    attributes: dict | None = None,
) -> dict:
    """A row with every schema column (NBS 2023 codes; attributes as JSON text)."""
    return {
        "code": code,
        "name": name,
        "level": level,
        "parent_code": parent_code,
        "code_system": "NBS",
        "code_version": "2023",
        "managing_zone": managing_zone,
        "attributes": json.dumps(attributes or {}, ensure_ascii=False),
        "geometry": geometry,
    }


def staged(data_dir: Path, units: gpd.GeoDataFrame) -> Path:
    """Stage ``units`` in the registry under ``data_dir`` and activate it; return ``data_dir``."""
    registry = BoundaryRegistry(data_dir / "boundaries")
    registry.activate(registry.stage(units, source="synthetic"))
    return data_dir
