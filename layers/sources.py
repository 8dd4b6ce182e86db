"""In-memory tile sources: boundary polygons by level and point snapshots by kind.

A :class:`PolygonSource` holds one boundary level (EPSG:3857, an STRtree, the
attributes sent in tiles) and simplifies per zoom once (1 tile pixel tolerance).
A :class:`PointSource` holds numpy arrays of one point kind; a tile shows the
points themselves from ``detail_zoom`` on while they fit under the cap, and
bins with counts otherwise.

>>> import geopandas as gpd
>>> units = gpd.GeoDataFrame({"code": ["1"], "name": ["a"], "level": ["grid"],
...     "parent_code": [""]}, geometry=[shapely.box(114.3, 34.8, 114.4, 34.9)], crs=4326)
>>> src = PolygonSource.from_units(units, "grids", min_zoom=0)
>>> src.features(TileBox.of(10, 837, 406), cap=100).columns["code"].to_numpy().tolist()
['1']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from cityaware.layers.mvt import Encoded, PointColumns
from cityaware.layers.mvt_polygons import PolygonColumns
from cityaware.layers.tiles import (
    BUFFER_PX,
    TileBox,
    binned_features,
    geometries_to_mercator,
    lonlat_to_mercator,
    point_features,
    points_in,
    polygon_features,
)

if TYPE_CHECKING:
    import geopandas as gpd

POLYGON_PROPERTIES = ("code", "name", "parent_code", "managing_zone")
SIMPLIFY_UP_TO_ZOOM = 16


@dataclass
class PolygonSource:
    """One boundary level ready for tiling."""

    name: str
    geoms: np.ndarray
    columns: dict[str, Encoded]
    min_zoom: int = 0
    tree: shapely.STRtree = field(init=False)
    _by_zoom: dict[int, np.ndarray] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.tree = shapely.STRtree(self.geoms)

    @classmethod
    def from_units(cls, units: gpd.GeoDataFrame, name: str, min_zoom: int = 0) -> PolygonSource:
        """Build from a units frame (EPSG:4326) of one level."""
        units = units.to_crs(4326) if units.crs and units.crs.to_epsg() != 4326 else units
        columns = {
            c: Encoded.of(np.array(["" if v is None else str(v) for v in units[c]], dtype=object))
            for c in POLYGON_PROPERTIES
            if c in units.columns
        }
        geoms = geometries_to_mercator(np.asarray(units.geometry.values, dtype=object))
        return cls(name=name, geoms=geoms, columns=columns, min_zoom=min_zoom)

    def geometries_at(self, z: int) -> np.ndarray:
        """The geometries simplified to one tile pixel at zoom ``z`` (cached)."""
        if z > SIMPLIFY_UP_TO_ZOOM:
            return self.geoms
        if z not in self._by_zoom:
            tolerance = TileBox.of(z, 0, 0).pixel
            simple = shapely.simplify(self.geoms, tolerance, preserve_topology=True)
            self._by_zoom[z] = np.where(shapely.is_empty(simple), self.geoms, simple)
        return self._by_zoom[z]

    def features(self, box: TileBox, cap: int) -> PolygonColumns:
        """Tile features of this level (none below ``min_zoom``)."""
        if box.z < self.min_zoom:
            return PolygonColumns(np.empty(0, dtype=object))
        return polygon_features(box, self.tree, self.geometries_at(box.z), self.columns, cap)


@dataclass
class PointSource:
    """A snapshot of one point kind: coordinates in EPSG:3857 (ascending x) plus attributes.

    ``columns`` are sent with each point when zoomed in; ``sums`` are 0/1 (or weight)
    columns summed per bin when zoomed out (e.g. ``open``, ``alarm``).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    attributes: pd.DataFrame
    columns: Sequence[str] = ()
    sums: Sequence[str] = ()

    @classmethod
    def from_frame(
        cls,
        name: str,
        frame: pd.DataFrame,
        columns: Sequence[str] = (),
        sums: Sequence[str] = (),
    ) -> PointSource:
        """Build from a frame with ``lon`` and ``lat`` (WGS84) and attribute columns.

        The rows are ordered by longitude (``attributes`` keeps that order), so a
        tile scans only its own slab of x.
        """
        frame = frame.sort_values("lon", kind="stable").reset_index(drop=True)
        x, y = lonlat_to_mercator(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        return cls(name, x, y, frame, tuple(columns), tuple(sums))

    def __len__(self) -> int:
        return len(self.x)

    @cached_property
    def arrays(self) -> dict[str, pd.api.extensions.ExtensionArray | np.ndarray]:
        """The arrays of the columns tiles send and sum, without pandas' column look-up."""
        return {n: self.attributes[n].array for n in dict.fromkeys([*self.columns, *self.sums])}

    def select(self, mask: np.ndarray) -> PointSource:
        """The points where ``mask`` is true (e.g. a time window or a status)."""
        return PointSource(
            self.name,
            self.x[mask],
            self.y[mask],
            self.attributes[mask].reset_index(drop=True),
            self.columns,
            self.sums,
        )

    def features(self, box: TileBox, cap: int, detail_zoom: int) -> PointColumns:
        """Points as themselves when zoomed in and under ``cap``; otherwise bins."""
        return features_of([self], box, cap, detail_zoom)


# Which of a source's rows (indices) to keep, e.g. the tile filters; None keeps all.
Keep = Callable[[PointSource, np.ndarray], np.ndarray] | None


def features_of(
    sources: Sequence[PointSource], box: TileBox, cap: int, detail_zoom: int, keep: Keep = None
) -> PointColumns:
    """The tile features of several sources as of one (a snapshot and the rows changed
    since): points when zoomed in and under ``cap``, else bins; ``keep`` selects rows.
    Only each source's slab of x is scanned; rows with a NaN ``y`` (replaced) never match.
    """

    def rows(source: PointSource, buffer: float) -> np.ndarray:
        found = points_in(box, source.x, source.y, buffer, x_sorted=True)
        return found if keep is None else found[keep(source, found)]

    inside = [rows(s, 0) for s in sources]
    if box.z >= detail_zoom and sum(len(i) for i in inside) <= cap:
        near = [rows(s, BUFFER_PX) for s in sources]
        columns = {
            name: _joined([_column(s.arrays[name], i) for s, i in zip(sources, near, strict=True)])
            for name in sources[0].columns
        }
        x = np.concatenate([s.x[i] for s, i in zip(sources, near, strict=True)])
        y = np.concatenate([s.y[i] for s, i in zip(sources, near, strict=True)])
        return point_features(box, x, y, columns)
    sums = {
        name: np.concatenate(
            [np.asarray(s.arrays[name])[i] for s, i in zip(sources, inside, strict=True)]
        )
        for name in sources[0].sums
    }
    x = np.concatenate([s.x[i] for s, i in zip(sources, inside, strict=True)])
    y = np.concatenate([s.y[i] for s, i in zip(sources, inside, strict=True)])
    return binned_features(box, x, y, sums)


def _column(array: pd.api.extensions.ExtensionArray | np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The values of ``rows`` of one attribute column as a numpy array, without reading the
    rest of it (categories and Arrow strings become objects, numbers stay numbers)."""
    values = array.take(rows)
    if isinstance(values, np.ndarray):
        return values
    if isinstance(values, pd.Categorical):
        return np.asarray(values.astype(object))
    if values.dtype.kind in "biuf" and not values.isna().any():
        return values.to_numpy()
    return values.to_numpy(dtype=object, na_value=None)  # type: ignore[arg-type]  # stubs lack None


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """One column from the parts of several sources (object when their types differ)."""
    if len(parts) == 1 or len({p.dtype for p in parts}) == 1:
        return np.concatenate(parts)
    return np.concatenate([p.astype(object) for p in parts])
