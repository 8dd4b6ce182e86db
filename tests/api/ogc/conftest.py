"""Shared fixtures: a small real boundary hierarchy staged in a registry under tmp_path."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from geo.boundaries.generations import BoundaryRegistry

WEST, SOUTH, EAST, NORTH = 113.60, 34.70, 113.70, 34.80


def hierarchy() -> gpd.GeoDataFrame:
    """1 district → 2 streets (west/east) → 4 communities → 8 grids, all rectangles."""
    rows = []

    def add(code, name, level, parent, box):
        attributes = {"worker": f"worker {code}", "phone": "0371-0000"} if level == "grid" else {}
        rows.append(
            {
                "code": code,
                "name": name,
                "level": level,
                "parent_code": parent,
                "code_system": "NBS",
                "code_version": "2023",
                "managing_zone": "410171" if code.startswith("410105002") else "",
                "attributes": json.dumps(attributes),
                "geometry": shapely.box(*box),
            }
        )

    add("410105", "金水区", "district", "", (WEST, SOUTH, EAST, NORTH))
    mid_x, mid_y = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
    for s, (x0, x1) in enumerate([(WEST, mid_x), (mid_x, EAST)], start=1):
        street = f"410105{s:03d}"
        add(street, f"街道{s}", "street", "410105", (x0, SOUTH, x1, NORTH))
        for c, (y0, y1) in enumerate([(SOUTH, mid_y), (mid_y, NORTH)], start=1):
            community = f"{street}{c:03d}"
            add(community, f"社区{s}{c}", "community", street, (x0, y0, x1, y1))
            xm = (x0 + x1) / 2
            for g, (gx0, gx1) in enumerate([(x0, xm), (xm, x1)], start=1):
                add(f"{community}{g:02d}", f"网格{s}{c}{g}", "grid", community, (gx0, y0, gx1, y1))
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


@pytest.fixture
def data_dir(tmp_path):
    registry = BoundaryRegistry(tmp_path / "boundaries")
    registry.activate(registry.stage(hierarchy(), source="synthetic"))
    return tmp_path


@pytest.fixture
def client(data_dir):
    return TestClient(create_app(Settings(data_dir=data_dir)))
