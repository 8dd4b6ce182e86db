"""Assign grids to the rows of one frame: the pure function the bulk (dask) path maps.

:func:`assign_frame` takes a pandas or geopandas frame and a
:class:`~geo.engine.locator.GridLocator` and returns a GeoDataFrame: the input
columns plus the located ones (:data:`geo.engine.files.ADDED`), with the input
geometry, or WGS84 points at the located lon/lat when the input had none. It
reads no files and keeps no state, so it gives the same answer in any process;
the single-file streaming path (:mod:`geo.engine.files`) shares its row logic
(unusable rows get status ``invalid`` and the reason in ``error``).

>>> import pandas as pd
>>> from cityaware.geo.engine.locator import GridLocator
>>> units = gpd.GeoDataFrame({"code": ["g1"], "level": "grid", "parent_code": [None]},
...     geometry=[shapely.box(113.0, 34.0, 113.01, 34.01)], crs=4326)
>>> out = assign_frame(pd.DataFrame({"lon": [113.005, 200.0], "lat": [34.005, 34.0]}),
...     GridLocator.build(units, "demo"))
>>> out["grid_code"][0], out["status"].tolist(), out["error"][1]
('g1', ['inside', 'invalid'], 'lon=200.0, lat=34.0: longitude is outside [-180, 180]')
>>> out.geometry[0].wkt, out.crs.to_epsg()
('POINT (113.005 34.005)', 4326)
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import shapely

from cityaware.geo.crs import WGS84
from cityaware.geo.engine.files import ADDED, coordinate_columns, locate_chunk, make_chunk
from cityaware.geo.engine.locator import GridLocator
from cityaware.geo.errors import InvalidInput

_WKB = "__wkb__"


def assign_frame(
    frame: pd.DataFrame,
    locator: GridLocator,
    crs: str = WGS84,
    lon_col: str | None = None,
    lat_col: str | None = None,
    fields: Sequence[str] = ADDED,
) -> gpd.GeoDataFrame:
    """``frame`` with grid, community, street, district codes, status, distance and error.

    Coordinates come from ``lon_col``/``lat_col`` in ``crs`` (found by their usual
    names when not given), else from the point geometry of a GeoDataFrame (in
    ``crs``). ``fields``: the located columns to add (default
    :data:`~geo.engine.files.ADDED`; e.g. also ``managing_zone``, ``candidates``).
    Raises InvalidInput only when the frame has no coordinates at all.
    """
    geometry_col = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    attributes = pd.DataFrame(frame.drop(columns=geometry_col) if geometry_col else frame)
    table = pa.Table.from_pandas(attributes, preserve_index=False)
    lon_col, lat_col = coordinate_columns(table.column_names, lon_col, lat_col)
    if lon_col is None and geometry_col is None:
        raise InvalidInput(
            f"no geometry and no coordinate columns among {table.column_names}; "
            "give the lon and lat columns"
        )
    geometry_crs = None
    if isinstance(frame, gpd.GeoDataFrame):
        wkb = shapely.to_wkb(frame.geometry.to_numpy())
        table = table.append_column(_WKB, pa.array(wkb, type=pa.binary(), from_pandas=True))
        geometry_crs = frame.crs
    chunk = make_chunk(table, lon_col, lat_col, _WKB if geometry_col else None)
    located, lon, lat = locate_chunk(chunk, locator, crs, fields)
    out = located.to_pandas()
    if chunk.geometry is None:
        geometry = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=WGS84)
        geometry[~(pd.notna(lon) & pd.notna(lat))] = None
    else:
        geometry = gpd.GeoSeries.from_wkb(
            chunk.geometry.to_numpy(zero_copy_only=False), crs=geometry_crs
        )
    return gpd.GeoDataFrame(out, geometry=geometry.to_numpy(), crs=geometry.crs)
