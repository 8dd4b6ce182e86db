"""Assemble a generation's units: parents carried from the active generation, cities
derived from district codes, and parent links mended where levels are missing.

>>> from shapely import box
>>> districts = gpd.GeoDataFrame({"code": ["410202", "410203"], "level": ["district"] * 2,
...     "parent_code": ["", ""], "name": ["龙亭区", "顺河回族区"], "code_system": ["NBS"] * 2,
...     "code_version": ["2023"] * 2, "managing_zone": [""] * 2, "attributes": ["{}"] * 2},
...     geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)
>>> units = with_cities(districts, pd.DataFrame({"code": [], "name": []}))
>>> units[["code", "level", "parent_code"]].values.tolist()
[['410202', 'district', '410200'], ['410203', 'district', '410200'], ['410200', 'city', '']]
>>> units.geometry.iloc[2].area
2.0
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cityaware.geo.boundaries.divisions import concat_divisions
from cityaware.geo.boundaries.levels import city_code, is_city_code
from cityaware.geo.boundaries.schema import LEVELS, STORAGE_CRS

# Code lengths a parent may have, longest first (community, street, district).
_PARENT_LENGTHS: tuple[int, ...] = (12, 9, 6)
_GENERATION_COLUMNS = ("unit_id", "since_generation")


def carry_over(
    units: gpd.GeoDataFrame,
    divisions: pd.DataFrame,
    active_units: gpd.GeoDataFrame | None,
    active_divisions: pd.DataFrame | None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Units (and divisions) of the levels above the file's own, from the active generation,
    when the file's top units have their parents there (e.g. a grid-only update).

    Otherwise ``units`` and ``divisions`` come back as they are.

    >>> carry_over(grids, divisions, active, active_divisions)  # doctest: +SKIP
    """
    if active_units is None or active_units.empty or units.empty:
        return units, divisions
    top = next(level for level in LEVELS if (units["level"] == level).any())
    parents = units.loc[units["level"] == top, "parent_code"]
    outside = parents[(parents != "") & ~parents.isin(units["code"])]
    if not outside.isin(active_units["code"]).any():
        return units, divisions
    above = LEVELS[: LEVELS.index(top)]
    carried = active_units[active_units["level"].isin(above)]
    carried = carried.drop(columns=[c for c in _GENERATION_COLUMNS if c in carried.columns])
    merged = pd.concat([carried, units], ignore_index=True)
    frame = gpd.GeoDataFrame(merged, geometry="geometry", crs=STORAGE_CRS)
    frames = [active_divisions, divisions] if active_divisions is not None else [divisions]
    return frame, concat_divisions(frames)


def with_cities(units: gpd.GeoDataFrame, divisions: pd.DataFrame) -> gpd.GeoDataFrame:
    """Districts without a parent get their city (code prefix + 00); every city code without
    a unit gets one: named from ``divisions`` when listed there, outline = union of its
    districts. Cities given in the file are kept as they are.
    """
    units = units.reset_index(drop=True).copy()
    codes = units["code"].astype(str).to_numpy()
    parents = units["parent_code"].astype(str).to_numpy().copy()
    district = (units["level"] == "district").to_numpy()
    rootless = district & (parents == "") & np.array([len(c) == 6 for c in codes], dtype=bool)
    parents[rootless] = [city_code(c) for c in codes[rootless]]
    units["parent_code"] = parents
    needed = sorted({p for p in parents[district] if is_city_code(p)} - set(codes))
    if not needed:
        return units
    listed = divisions.set_index("code")["name"] if not divisions.empty else pd.Series(dtype=object)
    records, geoms = [], []
    for code in needed:
        members = units[district & (parents == code)]
        records.append(
            {
                "code": code,
                "name": str(listed.get(code, "")),
                "level": "city",
                "parent_code": "",
                "code_system": members["code_system"].iloc[0],
                "code_version": members["code_version"].iloc[0],
                "managing_zone": "",
                "attributes": json.dumps({"outline": "union of its districts"}),
            }
        )
        geoms.append(shapely.union_all(members.geometry.to_numpy()))
    cities = gpd.GeoDataFrame(records, geometry=geoms, crs=STORAGE_CRS)
    for column in units.columns.difference(cities.columns):
        cities[column] = ""
    merged = pd.concat([units, cities[units.columns]], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry=units.geometry.name, crs=STORAGE_CRS)


def link_parents(units: gpd.GeoDataFrame, divisions: pd.DataFrame) -> gpd.GeoDataFrame:
    """Parent codes that name no known unit but are a prefix of the code (derived by prefix)
    are replaced by the longest shorter prefix that is a known unit or division (a grid
    in a city without communities hangs on its street), so chains follow parent links.

    >>> from shapely import box
    >>> frame = gpd.GeoDataFrame({"code": ["410202001", "410202001001001"],
    ...     "level": ["street", "grid"], "parent_code": ["410202", "410202001001"]},
    ...     geometry=[box(0, 0, 1, 1)] * 2, crs=4326)
    >>> link_parents(frame, divisions=pd.DataFrame({"code": []})).parent_code.tolist()
    ['410202', '410202001']
    """
    known = set(units["code"].astype(str)) | set(divisions["code"].astype(str))
    out = units.copy()
    parents = out["parent_code"].astype(str).to_numpy().copy()
    for row, code in enumerate(out["code"].astype(str)):
        parent = parents[row]
        if not parent or parent in known or not code.startswith(parent):
            continue
        shorter = [code[:n] for n in _PARENT_LENGTHS if n < len(parent)]
        if len(parent) >= 6:
            shorter.append(city_code(code))
        found = next((candidate for candidate in shorter if candidate in known), None)
        if found is not None:
            parents[row] = found
    out["parent_code"] = parents
    return out


def fill_names(units: gpd.GeoDataFrame, divisions: pd.DataFrame) -> gpd.GeoDataFrame:
    """Units without a name take the name a division list gives their code.

    >>> from shapely import box
    >>> frame = gpd.GeoDataFrame({"code": ["410202"], "name": [""]}, geometry=[box(0, 0, 1, 1)])
    >>> listed = pd.DataFrame({"code": ["410202"], "name": ["龙亭区"]})
    >>> fill_names(frame, listed).name.tolist()
    ['龙亭区']
    """
    if divisions.empty:
        return units
    listed = divisions.set_index("code")["name"]
    listed = listed[~listed.index.duplicated()]
    out = units.copy()
    unnamed = out["name"].astype(str).str.strip() == ""
    out.loc[unnamed, "name"] = out.loc[unnamed, "code"].map(listed).fillna("").to_numpy()
    return out
