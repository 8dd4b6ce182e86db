"""GeoJSON encoding of item frames: geometry by GEOS, properties by orjson.

>>> import geopandas as gpd, shapely
>>> from cityaware.api.ogc.crs import CRS84
>>> frame = gpd.GeoDataFrame({"id": ["a"], "n": [1]}, geometry=[shapely.Point(1, 2)])
>>> feature_bytes(frame, CRS84)[0]
b'{"type":"Feature","id":"a","geometry":{"type":"Point","coordinates":[1.0,2.0]},"properties":{"n":1}}'
"""

from __future__ import annotations

from typing import Any, cast

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from cityaware.api.ogc.crs import reproject


def json_safe_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of JSON-ready values: NaN/NaT → ``None``, timestamps → ISO 8601."""
    clean = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            text = column.map(
                lambda t: None if pd.isna(t) else t.isoformat().replace("+00:00", "Z")
            )
            clean[name] = text.astype(object)
        else:
            clean[name] = column.astype(object).where(column.notna(), None)
    return cast(list[dict[str, Any]], clean.to_dict("records"))  # column names are str


def feature_bytes(frame: gpd.GeoDataFrame, crs: str) -> list[bytes]:
    """One encoded GeoJSON Feature per row (geometry in ``crs``, authority axis order)."""
    geoms = reproject(np.asarray(frame.geometry.values, dtype=object), crs)
    geometry_json = shapely.to_geojson(geoms)
    props = frame.drop(columns=["id", frame.geometry.name])
    out = []
    for item_id, geometry, record in zip(
        frame["id"].astype(str), geometry_json, json_safe_records(props), strict=True
    ):
        head = b'{"type":"Feature","id":' + orjson.dumps(item_id) + b',"geometry":'
        body = (geometry or "null").encode()
        tail = b',"properties":' + orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"}"
        out.append(head + body + tail)
    return out


def collection_bytes(features: list[bytes], members: dict[str, Any]) -> bytes:
    """A FeatureCollection from encoded features plus extra members (links, counts)."""
    extra = orjson.dumps(members, option=orjson.OPT_SERIALIZE_NUMPY)
    return b'{"type":"FeatureCollection","features":[' + b",".join(features) + b"]," + extra[1:]
