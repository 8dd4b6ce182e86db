"""A small synthetic city for the store tests: 16 grids of 0.01° in a 4×4 block.

Districts 410105 (west half) and 410102 (east half); each district has two
streets (south, north), each street two communities (by column), each
community two grids (by row). Street 410102002 is managed by zone 410171.
"""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry import box

from cityaware.geo.engine.locator import GridLocator

WEST, SOUTH, CELL = 113.60, 34.70, 0.01
ZONE_STREET, ZONE = "410102002", "410171"


def grid_cells(shift: float = 0.0) -> list[dict]:
    """One dict per grid: code, parent chain, geometry (``shift`` moves the east edges)."""
    cells = []
    for i in range(4):
        for j in range(4):
            district = "410105" if i < 2 else "410102"
            street = f"{district}{1 + (j >= 2):03d}"
            community = f"{street}{1 + i % 2:03d}"
            grid = f"{community}{1 + j % 2:03d}"
            west = WEST + i * CELL + (shift if i > 0 else 0.0)
            east = WEST + (i + 1) * CELL + (shift if i < 3 else 0.0)
            geometry = box(west, SOUTH + j * CELL, east, SOUTH + (j + 1) * CELL)
            cells.append(
                dict(
                    grid=grid,
                    community=community,
                    street=street,
                    district=district,
                    geometry=geometry,
                )
            )
    return cells


def units(shift: float = 0.0) -> gpd.GeoDataFrame:
    """The units frame (all four levels) of the synthetic city."""
    cells = grid_cells(shift)
    rows = []
    for level, parent in (
        ("district", None),
        ("street", "district"),
        ("community", "street"),
        ("grid", "community"),
    ):
        codes = sorted({c[level] for c in cells})
        for code in codes:
            members = [c for c in cells if c[level] == code]
            zone = ZONE if members[0]["street"] == ZONE_STREET and level != "district" else ""
            rows.append(
                dict(
                    code=code,
                    name=f"{level} {code}",
                    level=level,
                    parent_code=members[0][parent] if parent else "",
                    code_system="NBS",
                    code_version="2023",
                    managing_zone=zone,
                    attributes="{}",
                    geometry=shapely.union_all([m["geometry"] for m in members]),
                )
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def locator(generation: str = "g1", shift: float = 0.0) -> GridLocator:
    """A real GridLocator over the synthetic city."""
    return GridLocator.build(units(shift), generation)
