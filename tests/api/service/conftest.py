"""A small real hierarchy staged and activated through the registry, and apps over it.

Eight 0.01° x 0.02° grids in one district (410105): street 410105001 west of
113.62°E, street 410105002 (managed by zone 410172) east of it.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.commands.demo import install_demo_city_files
from cityaware.api.settings import Settings
from tests.units import staged, unit_record

ADMIN_KEY = "ca_Jq7vX2mR9tLw4kPz8nYb3cHd6fGs1aEu"
WEST, SOUTH, EAST, NORTH = 113.60, 34.74, 113.64, 34.78


def synthetic_units() -> gpd.GeoDataFrame:
    """District → 2 streets → 2 communities → 8 box grids (codes sorted west to east)."""
    rows = [("410105", "金水区", "district", "", "", shapely.box(WEST, SOUTH, EAST, NORTH))]
    for s, (street_zone, x0) in enumerate((("", 113.60), ("410172", 113.62)), start=1):
        street, community = f"410105{s:03d}", f"410105{s:03d}001"
        half = shapely.box(x0, SOUTH, x0 + 0.02, NORTH)
        rows.append((street, f"街道{s}", "street", "410105", street_zone, half))
        rows.append((community, f"社区{s}", "community", street, street_zone, half))
        k = 0
        for dx in (0.0, 0.01):
            for dy in (0.0, 0.02):
                k += 1
                cell = shapely.box(x0 + dx, SOUTH + dy, x0 + dx + 0.01, SOUTH + dy + 0.02)
                rows.append(
                    (f"{community}{k:03d}", f"网格{s}-{k}", "grid", community, street_zone, cell)
                )
    records = [
        unit_record(code, name, level, parent, geometry, zone, {"worker": f"w{i}", "office": "o"})
        for i, (code, name, level, parent, zone, geometry) in enumerate(rows)
    ]
    return gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4326")


@pytest.fixture(scope="session")
def units() -> gpd.GeoDataFrame:
    return synthetic_units()


@pytest.fixture(scope="session")
def grids(units) -> gpd.GeoDataFrame:
    return units[units["level"] == "grid"].sort_values("code").reset_index(drop=True)


@pytest.fixture(scope="session")
def staged_dir(tmp_path_factory, units):
    """A data directory with the synthetic hierarchy as the active generation, and the
    demo city's profile and duty list (its codes are the demo city's)."""
    data_dir = tmp_path_factory.mktemp("service-data")
    install_demo_city_files(data_dir)
    return staged(data_dir, units)


@pytest.fixture(scope="session")
def app(staged_dir):
    return create_app(Settings(data_dir=staged_dir, admin_key=ADMIN_KEY))


@pytest.fixture(scope="session")
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def role_keys(app) -> dict[str, str]:
    """One fresh key per role (the admin key comes from the settings)."""
    store = app.state.ctx.keys
    keys = {role: store.create(role, label=f"test {role}")[0] for role in ("service", "gis", "ops")}
    return keys | {"admin": ADMIN_KEY}


def covering_grids(grids: gpd.GeoDataFrame, lon: float, lat: float) -> list[str]:
    """Oracle: codes of the grids whose polygon covers the point (shapely), sorted."""
    point = shapely.Point(lon, lat)
    return sorted(grids.loc[grids.geometry.covers(point), "code"])
