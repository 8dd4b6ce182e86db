"""One record of a units frame (geo/boundaries/schema.py), for tests that build small cities."""

from __future__ import annotations

import json

import shapely


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
