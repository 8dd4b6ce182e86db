"""The locator answers at the finest level outlined at each point (issue 12).

One city where only one district has streets and grids: points there answer
their grid, points in the other district answer that district; chains come from
the records only (the city from a division row), checked against shapely.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cityaware.geo.engine.locator import GridLocator
from tests.units import unit_record


def mixed_city() -> gpd.GeoDataFrame:
    rows = [
        unit_record(
            "410202", "龙亭区", "district", "410200", shapely.box(114.0, 34.0, 114.1, 34.1)
        ),
        unit_record(
            "410203", "顺河区", "district", "410200", shapely.box(114.1, 34.0, 114.2, 34.1)
        ),
        unit_record("410202001", "街道", "street", "410202", shapely.box(114.0, 34.0, 114.1, 34.1)),
        unit_record(
            "410202001001", "社区", "community", "410202001", shapely.box(114.0, 34.0, 114.1, 34.1)
        ),
    ]
    for k, x in enumerate((114.0, 114.05)):
        cell = shapely.box(x, 34.0, x + 0.05, 34.1)
        rows.append(unit_record(f"410202001001{k:03d}", f"网格{k}", "grid", "410202001001", cell))
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def test_each_point_answers_the_finest_outlined_unit_with_its_chain_to_the_city():
    units = mixed_city()
    city = pd.DataFrame([{"code": "410200", "name": "开封市", "level": "city", "parent_code": ""}])
    locator = GridLocator.build(units, "mixed", divisions=city)
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(114.001, 114.199, 400), rng.uniform(34.001, 34.099, 400)
    batch = locator.locate_lonlat(lon, lat)
    grids = units[units["level"] == "grid"]
    for k in range(len(lon)):
        point = shapely.Point(lon[k], lat[k])
        in_grid = sorted(grids.loc[grids.geometry.covers(point), "code"])
        district = units.loc[(units["level"] == "district") & units.geometry.covers(point), "code"]
        assert batch.city_code[k] == "410200"
        assert batch.district_code[k] == sorted(district)[0]
        if in_grid:
            assert (batch.level[k], batch.grid_code[k]) == ("grid", in_grid[0])
            assert batch.street_code[k] == "410202001"
        else:
            assert (batch.level[k], batch.grid_code[k], batch.street_code[k]) == (
                "district",
                None,
                None,
            )
    one = locator.locate(114.15, 34.05)
    assert (one.level, one.district_code, one.city_code) == ("district", "410203", "410200")


def test_a_missing_parent_is_not_guessed_from_the_code():
    units = mixed_city()
    units = units[units["level"] != "street"]  # the community's parent has no record
    hit = GridLocator.build(units, "gappy").locate(114.02, 34.05)
    assert hit.community_code == "410202001001" and hit.street_code is None
    assert hit.district_code is None  # not 410202 by prefix: no record says so
