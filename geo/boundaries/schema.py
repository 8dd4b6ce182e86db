"""The canonical shape of boundary units, shared by import, demo, engine and API.

A *units frame* is a GeoDataFrame in EPSG:4326 (lon/lat) with one row per unit
and these columns:

==============  ==========================================================
code            string; 6 digits ending in 00 (city), 6 digits (district),
                9 (street), 12 (community), community code + suffix (grid)
name            string
level           one of :data:`LEVELS`
parent_code     string; "" for cities (and districts without a city)
code_system     e.g. "NBS" (statistics) or "MCA" (civil affairs)
code_version    e.g. "2023"
managing_zone   code of the functional zone managing the unit, or ""
attributes      JSON object as a string (worker, phone, office, ...)
geometry        Polygon or MultiPolygon, lon/lat
==============  ==========================================================

>>> LEVELS
('city', 'district', 'street', 'community', 'grid')
>>> LAYER_OF["grid"]
'grids'
"""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("city", "district", "street", "community", "grid")
CORE_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "level",
    "parent_code",
    "code_system",
    "code_version",
    "managing_zone",
    "attributes",
)
LAYER_OF: dict[str, str] = {
    "city": "cities",
    "district": "districts",
    "street": "streets",
    "community": "communities",
    "grid": "grids",
}
LEVEL_OF_LAYER: dict[str, str] = {layer: level for level, layer in LAYER_OF.items()}
PARENT_LEVEL: dict[str, str | None] = {
    "city": None,
    "district": "city",
    "street": "district",
    "community": "street",
    "grid": "community",
}
STORAGE_CRS = "EPSG:4326"
DEMO_GPKG_NAME = "zhengzhou-demo.gpkg"
