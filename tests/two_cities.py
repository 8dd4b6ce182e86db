"""Two Henan cities with district outlines only (no streets, communities or grids).

开封市 (410200) and 洛阳市 (410300), four real districts each (GB/T 2260 codes and
names), outlined as Voronoi cells of a box around each city's real position, and
an NBS-style division list (``level,code,name,parent_code``, NBS level names)
naming the two cities and a few townships under the districts. Nothing of the
demo city.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from tests.units import unit_record

# city code, name, (west, south, east, north), districts (code, name)
CITIES = (
    (
        "410200",
        "开封市",
        (114.26, 34.74, 114.42, 34.86),
        (
            ("410202", "龙亭区"),
            ("410203", "顺河回族区"),
            ("410204", "鼓楼区"),
            ("410205", "禹王台区"),
        ),
    ),
    (
        "410300",
        "洛阳市",
        (112.36, 34.60, 112.54, 34.72),
        (
            ("410302", "老城区"),
            ("410303", "西工区"),
            ("410304", "瀍河回族区"),
            ("410305", "涧西区"),
        ),
    ),
)
# NBS township rows under the outlined districts (level names as NBS writes them)
TOWNSHIPS = (
    ("410202001", "北书店街道", "410202"),
    ("410202002", "午朝门街道", "410202"),
    ("410204001", "相国寺街道", "410204"),
    ("410303001", "王城路街道", "410303"),
    ("410305001", "湖北路街道", "410305"),
)


def district_outlines(seed: int = 12) -> gpd.GeoDataFrame:
    """The eight district outlines (EPSG:4326): Voronoi cells of random seeds per city box."""
    rng = np.random.default_rng(seed)
    rows = []
    for city_code, _, (west, south, east, north), districts in CITIES:
        box = shapely.box(west, south, east, north)
        seeds = shapely.multipoints(
            np.column_stack(
                [rng.uniform(west, east, len(districts)), rng.uniform(south, north, len(districts))]
            )
        )
        cells = [cell.intersection(box) for cell in shapely.voronoi_polygons(seeds).geoms]
        cells.sort(key=lambda cell: (cell.centroid.x, cell.centroid.y))
        for (code, name), cell in zip(districts, cells, strict=True):
            rows.append(unit_record(code, name, "district", city_code, cell))
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def division_list() -> pd.DataFrame:
    """The division list in the registry's shape (code, name, level, parent_code; our levels)."""
    rows = [(code, name, "city", "") for code, name, _, _ in CITIES]
    rows += [(code, name, "street", parent) for code, name, parent in TOWNSHIPS]
    return pd.DataFrame(rows, columns=["code", "name", "level", "parent_code"])


def write_files(folder: Path) -> list[Path]:
    """The outlines as GeoJSON and the division list as an NBS CSV (levels named city,
    township), the files a city's GIS team would import."""
    outlines, divisions = folder / "districts.geojson", folder / "divisions.csv"
    district_outlines().drop(columns="parent_code").to_file(outlines, driver="GeoJSON")
    nbs = division_list().assign(
        level=lambda f: f["level"].map({"city": "city", "street": "township"})
    )
    nbs[["level", "code", "name", "parent_code"]].to_csv(divisions, index=False)
    return [outlines, divisions]
