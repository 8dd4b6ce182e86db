"""Shared fixtures: a small real boundary hierarchy staged in a registry under tmp_path."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from tests.units import staged as staged_units
from tests.units import unit_record

WEST, SOUTH, EAST, NORTH = 113.60, 34.70, 113.70, 34.80
collect_ignore = ["clients"]  # scripts run by other clients' Pythons (QGIS's), not tests


def hierarchy() -> gpd.GeoDataFrame:
    """1 district → 2 streets (west/east) → 4 communities → 8 grids, all rectangles."""
    rows = []

    def add(code, name, level, parent, box):
        attributes = {"worker": f"worker {code}", "phone": "0371-0000"} if level == "grid" else {}
        zone = "410171" if code.startswith("410105002") else ""
        rows.append(unit_record(code, name, level, parent, shapely.box(*box), zone, attributes))

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


def staged(path: Path) -> Path:
    """Stage and activate :func:`hierarchy` under ``path``; return ``path``."""
    return staged_units(path, hierarchy())


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A data directory with :func:`hierarchy` staged and active (shared by a test module)."""
    return staged(tmp_path_factory.mktemp("data"))


def incidents_frame(n: int = 60, seed: int = 5) -> pd.DataFrame:
    """``n`` incidents inside the district, spread over the 30 days before 2026-01-31."""
    rng = np.random.default_rng(seed)
    reported = pd.Timestamp("2026-01-31T00:00:00Z") - pd.to_timedelta(
        rng.integers(0, 30 * 24 * 60, n), unit="min"
    )
    return pd.DataFrame(
        {
            "id": [f"inc{i:03d}" for i in range(n)],
            "lon": rng.uniform(WEST + 0.001, EAST - 0.001, n),
            "lat": rng.uniform(SOUTH + 0.001, NORTH - 0.001, n),
            "category": rng.choice(["noise", "road_damage", "sanitation"], n),
            "channel": rng.choice(["hotline_12345", "photo_app", "web"], n),
            "status": rng.choice(["received", "dispatched", "resolved", "closed"], n),
            "title": [f"case {i}" for i in range(n)],
            "office": [None if i % 3 else "城管局" for i in range(n)],
            "reported_at": [t.isoformat() for t in reported],
        }
    )


@pytest.fixture(scope="module")
def ctx(data_dir):
    """An app context whose store holds :func:`incidents_frame`, 2 cameras and 10 sensors."""
    return populated(data_dir)


def populated(data_dir: Path, database_url: str = "") -> AppContext:
    """An app context over ``data_dir`` (store: SQLite, or ``database_url``) with incidents,
    cameras and sensors imported."""
    context = AppContext(Settings(data_dir=data_dir, database_url=database_url))
    context.store.bulk_import("incidents", incidents_frame(), crs="EPSG:4326")
    cameras = pd.DataFrame({"lon": [113.61, 113.69], "lat": [34.71, 34.79], "name": ["c1", "c2"]})
    context.store.bulk_import("cameras", cameras, crs="EPSG:4326")
    sensors = pd.DataFrame(
        {
            "lon": np.linspace(WEST + 0.01, EAST - 0.01, 10),
            "lat": np.full(10, (SOUTH + NORTH) / 2),
            "name": [f"s{i}" for i in range(10)],
            "reading_value": np.arange(10.0),
        }
    )
    context.store.bulk_import("sensors", sensors, crs="EPSG:4326")
    return context


@pytest.fixture(scope="module")
def client(ctx):
    return TestClient(create_app(ctx=ctx))


def stored_incidents(context: AppContext) -> pd.DataFrame:
    """Every stored incident record (the oracle's input), indexed by id, with ``reported``
    as a UTC time."""
    rows = [r for batch in context.store.iter_features("incidents") for r in batch]
    frame = pd.DataFrame(rows).set_index("id", drop=False)
    frame["reported"] = pd.to_datetime(frame["reported_at"], utc=True)
    return frame


@pytest.fixture(scope="module")
def records(ctx) -> pd.DataFrame:
    return stored_incidents(ctx)
