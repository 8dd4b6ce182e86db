"""What the grid locator answers: one :class:`Location`, or a columnar :class:`LocationBatch`.

A point is answered at the finest level the generation has an outline for
there (``level``: grid, community, street, district or city); the codes of
finer levels are None (a city with district outlines only answers districts).

Statuses: ``inside`` (strictly inside one grid), ``on_boundary`` (on the edge
or vertex of the grid it was assigned to), ``outside`` (no grid covers it),
and ``invalid`` (only from file/lenient paths: the coordinates were unusable;
the message is in ``error``).

>>> batch = LocationBatch.empty("g1", 1)
>>> batch.status[0], len(batch), batch.to_frame().columns[0]
('outside', 1, 'status')
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from cityaware.geo.arrays import FloatArray, Int8Array, IntArray, ObjectArray

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("inside", "on_boundary", "outside", "invalid")
INSIDE, ON_BOUNDARY, OUTSIDE, INVALID = range(4)
STATUS_NAMES = np.array(STATUSES, dtype=object)  # STATUS_NAMES[codes] -> names


@dataclass(slots=True)
class Location:
    """Where one point falls.

    ``distance_m`` is the distance to ``nearest_grid`` when outside (NaN
    otherwise); ``candidates`` lists the *other* grids within the locator's
    ``near_m`` metres (sorted by code), or None when there are none. ``level`` is
    the level of the unit that answered (None when outside); ``city_code`` the city
    the point lies in, when the generation knows its cities.
    """

    status: str
    grid_code: str | None
    community_code: str | None
    street_code: str | None
    district_code: str | None
    managing_zone: str | None
    generation: str
    lon: float
    lat: float
    distance_m: float = float("nan")
    nearest_grid: str | None = None
    candidates: list[str] | None = None
    error: str | None = None
    level: str | None = None
    city_code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready apart from NaN distance, which becomes None)."""
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        if record["distance_m"] != record["distance_m"]:
            record["distance_m"] = None
        return record


COLUMNS = (
    "status",
    "grid_code",
    "community_code",
    "street_code",
    "district_code",
    "managing_zone",
    "lon",
    "lat",
    "distance_m",
    "nearest_grid",
    "candidates",
    "error",
    "level",
    "city_code",
)


@dataclass
class LocationBatch:
    """Columnar answers for n points: each field is a numpy array of length n.

    String fields are object arrays holding str or None; ``lon``/``lat`` are
    the WGS84 coordinates actually located.
    """

    generation: str
    status: ObjectArray
    grid_code: ObjectArray
    community_code: ObjectArray
    street_code: ObjectArray
    district_code: ObjectArray
    managing_zone: ObjectArray
    lon: FloatArray
    lat: FloatArray
    distance_m: FloatArray
    nearest_grid: ObjectArray
    candidates: ObjectArray
    error: ObjectArray
    level: ObjectArray
    city_code: ObjectArray

    @classmethod
    def empty(cls, generation: str, n: int, codes: bool = True) -> LocationBatch:
        """n answers with status ``outside`` and nothing found, to be filled in.

        ``codes=False`` leaves status, lon, lat, level and the six code columns empty
        (length 0) for a caller that sets them itself.
        """
        size = n if codes else 0

        def nothing(size: int = n) -> ObjectArray:
            return np.empty(size, dtype=object)  # object arrays start as None

        return cls(
            generation=generation,
            status=STATUS_NAMES[np.full(size, OUTSIDE, dtype=np.int8)],
            grid_code=nothing(size),
            community_code=nothing(size),
            street_code=nothing(size),
            district_code=nothing(size),
            managing_zone=nothing(size),
            lon=np.full(size, np.nan),
            lat=np.full(size, np.nan),
            distance_m=np.full(n, np.nan),
            nearest_grid=nothing(),
            candidates=nothing(),
            error=nothing(),
            level=nothing(size),
            city_code=nothing(size),
        )

    def __len__(self) -> int:
        return len(self.status)

    def part(self, rows: slice) -> LocationBatch:
        """The rows ``rows`` as views: writing into the part writes into this batch.
        Columns left empty (see :meth:`empty`) stay empty.

        >>> batch = LocationBatch.empty("g1", 4)
        >>> batch.part(slice(1, 3)).error[0] = "bad"
        >>> batch.error.tolist()
        [None, 'bad', None, None]
        """
        views = {name: getattr(self, name)[rows] for name in COLUMNS}
        return LocationBatch(generation=self.generation, **views)

    def __getitem__(self, i: int) -> Location:
        values = {name: getattr(self, name)[i] for name in COLUMNS}
        values["lon"], values["lat"] = float(values["lon"]), float(values["lat"])
        values["distance_m"] = float(values["distance_m"])
        return Location(generation=self.generation, **values)

    def to_frame(self) -> pd.DataFrame:
        """One row per point, the :data:`COLUMNS` as columns."""
        import pandas as pd

        return pd.DataFrame({name: getattr(self, name) for name in COLUMNS})


@dataclass(slots=True)
class Located:
    """Numeric answers for n points (what the locator computes before any strings).

    ``status``: codes into :data:`STATUSES`; ``unit``: the answering leaf's index
    (-1 none); ``nearest``: for outside points, the nearest leaf within the
    tolerance (-1 none) at ``distance_m``; ``candidates``: lists of codes or None,
    or no array at all when not asked for; ``error``: texts or None.

    >>> found = Located.empty(np.array([1.0, 2.0]), np.array([3.0, 4.0]), candidates=False)
    >>> found.part(slice(1, 2)).unit[0] = 7
    >>> found.unit.tolist(), found.candidates
    ([-1, 7], None)
    """

    lon: FloatArray
    lat: FloatArray
    status: Int8Array
    unit: IntArray
    nearest: IntArray
    distance_m: FloatArray
    candidates: ObjectArray | None
    error: ObjectArray

    @classmethod
    def empty(cls, lon: FloatArray, lat: FloatArray, candidates: bool = True) -> Located:
        """Answers for the points lon/lat: outside, nothing found, to be filled in."""
        n = len(lon)
        return cls(
            lon,
            lat,
            np.full(n, OUTSIDE, dtype=np.int8),
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            np.full(n, np.nan),
            np.empty(n, dtype=object) if candidates else None,
            np.empty(n, dtype=object),
        )

    def part(self, rows: slice) -> Located:
        """The rows ``rows`` as views: writing into the part writes into this one."""
        return Located(
            self.lon[rows],
            self.lat[rows],
            self.status[rows],
            self.unit[rows],
            self.nearest[rows],
            self.distance_m[rows],
            None if self.candidates is None else self.candidates[rows],
            self.error[rows],
        )
