"""Moving objects (grid workers, vehicles, drones): positions, tracks, fences, fence events.

One :meth:`PositionStore.write` is one transaction, whose first lock is the change-feed
counter (as in every write here, :mod:`geo.store.lockorder`; one that loses a deadlock
anyway is run again): every position goes to the object's
``tracks`` (a replayed one is ignored); positions newer than the object's current one
move it (``objects``: position, grid chain, generation) and run through the fences
(:mod:`geo.live.fences`), whose confirmed side per object is kept in ``fence_state``.
To the change feed go an ``objects`` ``move`` when an object changes grid (old and new
grid; the id is ``kind:id``) and a ``fence_events`` change per fence event (op = the
detect word; the id is the ``fence_events`` row). A region fence is the outline of a
grid or region code in the active boundary generation, so it follows new generations.

>>> object_key("worker", "w1")
'worker:w1'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa

from cityaware.geo.errors import InvalidInput, NotFound
from cityaware.geo.live.fences import (
    FenceIndex,
    FenceSpec,
    crossing_m,
    decide,
    edge_distance_m,
)
from cityaware.geo.store.dialect import run_many
from cityaware.geo.store.live_tables import (
    Retention,
    change_row,
    digest_id,
    events_of,
    fetch_dicts,
    in_values,
    insert_ignore,
    insert_rows,
    plain,
    row_by_id,
    update_rows,
)
from cityaware.geo.store.lockorder import ordered_write
from cityaware.geo.store.times import from_ms

FENCES_VERSION = "fences_version"
RegionShapes = Callable[[str], Mapping[str, shapely.Geometry]]


def object_key(kind: str, id: str) -> str:
    """The feed id of a moving object."""
    return f"{kind}:{id}"


def fence_event_id(fence_id: str, key: str, at: int, detect: str) -> str:
    """The id of a fence event: the same position always makes the same event.

    >>> fence_event_id("f1", "worker:w1", 0, "enter")
    'fe_18c5cb60291aaf3d2525'
    """
    return digest_id("fe_", fence_id, key, at, detect)


@dataclass(frozen=True)
class PositionBatch:
    """Aligned columns of positions already in CRS84: object kind, id, lon, lat, time."""

    kinds: Sequence[str]
    ids: Sequence[str]
    lon: Sequence[float]
    lat: Sequence[float]
    at: Sequence[int]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class PositionReport:
    """What a write did: positions accepted, moved objects, grid changes, fence events."""

    accepted: int = 0
    moved: int = 0
    grid_changes: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)


class PositionStore:
    """Positions and fences over a feature store's backend and tables.

    ``region_shapes(generation)``: outlines by code of a boundary generation (for region
    fences); ``retention_ms``: how long tracks are kept.
    """

    def __init__(self, store: Any, region_shapes: RegionShapes, retention_ms: int) -> None:
        self.store, self.backend, self.tables = store, store.backend, store.tables
        self.region_shapes = region_shapes
        self.retention_ms = retention_ms
        self._index: tuple[tuple[int, str], FenceIndex] | None = None
        self._retention = Retention(self.tables["tracks"], retention_ms)

    # --- fences ----------------------------------------------------------------------

    def add_fence(self, row: dict[str, Any], generation: str) -> dict[str, Any]:
        """Store a fence (``region`` code or ``geometry`` GeoJSON text); Conflict-free:
        an existing id is InvalidInput. The region must exist in ``generation``."""
        region = row.get("region")
        if region is not None and region not in self.region_shapes(generation):
            raise NotFound(f"no grid or region {region!r} in generation {generation}")
        table = self.tables["fences"]

        def insert(conn: sa.Connection) -> None:
            exists = conn.execute(sa.select(table.c.id).where(table.c.id == row["id"])).first()
            if exists is not None:
                raise InvalidInput(f"fence {row['id']!r} already exists")
            conn.execute(table.insert(), [row])
            self._bump(conn)

        ordered_write(self.store, insert)
        return self.fence(row["id"])

    def delete_fence(self, fence_id: str) -> None:
        """Delete a fence, its state and its events (NotFound if absent)."""

        def delete(conn: sa.Connection) -> None:
            for name in ("fence_state", "fence_events"):
                table = self.tables[name]
                conn.execute(table.delete().where(table.c.fence_id == fence_id))
            table = self.tables["fences"]
            if not conn.execute(table.delete().where(table.c.id == fence_id)).rowcount:
                raise NotFound(f"no fence {fence_id!r}")
            self._bump(conn)

        ordered_write(self.store, delete)

    def fence(self, fence_id: str) -> dict[str, Any]:
        """One fence (NotFound if absent)."""
        with self.backend.read() as conn:
            return _fence_view(row_by_id(conn, self.tables["fences"], fence_id, "fence"))

    def fences(self) -> list[dict[str, Any]]:
        """Every fence, by id."""
        table = self.tables["fences"]
        with self.backend.read() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.id)).mappings()
            return [_fence_view(plain(r)) for r in rows]

    def fence_events(
        self, fence_id: str | None = None, ids: Sequence[str] | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Fence events (of one fence, or with these ids), oldest first, in Tile38's shape."""
        table = self.tables["fence_events"]
        with self.backend.read() as conn:
            rows = events_of(conn, table, "fence_id", fence_id, ids, limit, newest_first=False)
        return [event_view(r) for r in rows]

    # --- positions -------------------------------------------------------------------

    def write(
        self, batch: PositionBatch, locator: Any, now: int, located: Any = None
    ) -> PositionReport:
        """Store a batch of positions and detect fence events (see the module doc);
        ``located``: the locator's answers for the batch when the caller has them."""
        order = sorted(range(len(batch)), key=lambda i: (batch.kinds[i], batch.ids[i], batch.at[i]))
        lon = np.asarray(batch.lon, dtype=float)
        lat = np.asarray(batch.lat, dtype=float)
        if located is None:
            located = locator.locate_lonlat(lon, lat)
        generation = str(locator.generation)
        keys = [object_key(k, i) for k, i in zip(batch.kinds, batch.ids, strict=True)]
        chain = {
            name: np.asarray(getattr(located, name), dtype=object).tolist()
            for name in ("grid_code", "community_code", "street_code", "district_code")
        }
        lons, lats = lon.tolist(), lat.tolist()

        def attempt(conn: sa.Connection) -> PositionReport:
            report = PositionReport(accepted=len(batch))
            index = self._fence_index(conn, generation)
            current = self._objects(conn, batch)
            states = self._states(conn, sorted(set(keys)))
            tracks = [
                {
                    "kind": batch.kinds[i],
                    "id": batch.ids[i],
                    "at": batch.at[i],
                    "lon": lons[i],
                    "lat": lats[i],
                    "grid_code": chain["grid_code"][i],
                }
                for i in order
            ]
            insert_ignore(conn, self.tables["tracks"], tracks)
            newer = [
                i for i in order if keys[i] not in current or batch.at[i] > current[keys[i]]["at"]
            ]
            hits = self._hits(index, newer, lon, lat)
            fences_of: dict[str, set[str]] = {}
            for fence_id, key in states:
                fences_of.setdefault(key, set()).add(fence_id)
            changes: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            moved: dict[str, dict[str, Any]] = {}
            for i in newer:
                key = keys[i]
                before = moved.get(key) or current.get(key)
                grid = chain["grid_code"][i]
                row = {
                    "kind": batch.kinds[i],
                    "id": batch.ids[i],
                    "lon": lons[i],
                    "lat": lats[i],
                    "at": batch.at[i],
                    "grid_code": grid,
                    "community_code": chain["community_code"][i],
                    "street_code": chain["street_code"][i],
                    "district_code": chain["district_code"][i],
                    "generation": generation,
                    "updated_at": now,
                }
                if before is None or before["grid_code"] != grid:
                    old = None if before is None else before["grid_code"]
                    changes.append(change_row("objects", key, "move", old, grid, generation, now))
                    report.grid_changes += 1
                known = fences_of.setdefault(key, set())
                events += self._detect(index, hits.get(i, set()), row, before, states, known)
                moved[key] = row
            report.moved = len(moved)
            self._save_objects(conn, moved, current)
            self._save_states(conn, states)
            if events:
                insert_ignore(conn, self.tables["fence_events"], events)
                for event in events:
                    change = change_row(
                        "fence_events",
                        event["id"],
                        event["detect"],
                        event["grid_code"],
                        event["grid_code"],
                        generation,
                        now,
                    )
                    changes.append(change)
                report.events = [event_view(e) for e in events]
            if changes:
                self.store.changelog.append_rows(conn, changes)
            self._retention.prune(conn, now)
            return report

        return ordered_write(self.store, attempt)

    def objects(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Current positions (of one kind), by kind and id."""
        table = self.tables["objects"]
        stmt = sa.select(table).order_by(table.c.kind, table.c.id)
        if kind is not None:
            stmt = stmt.where(table.c.kind == kind)
        with self.backend.read() as conn:
            rows = conn.execute(stmt).mappings()
            return [
                plain(r) | {"at": from_ms(r["at"]), "updated_at": from_ms(r["updated_at"])}
                for r in rows
            ]

    def track(
        self, kind: str, id: str, start: int | None, end: int | None, limit: int = 100_000
    ) -> list[dict[str, Any]]:
        """The positions of one object in ``[start, end]`` (epoch ms), oldest first."""
        table = self.tables["tracks"]
        stmt = sa.select(table).where(table.c.kind == kind, table.c.id == id)
        if start is not None:
            stmt = stmt.where(table.c.at >= start)
        if end is not None:
            stmt = stmt.where(table.c.at <= end)
        with self.backend.read() as conn:
            rows = [
                plain(r) for r in conn.execute(stmt.order_by(table.c.at).limit(limit)).mappings()
            ]
            if not rows:
                known = self.tables["objects"]
                found = conn.execute(
                    sa.select(known.c.id).where(known.c.kind == kind, known.c.id == id)
                ).first()
                if found is None:
                    raise NotFound(f"no moving object {kind}/{id}")
        return rows

    # --- internals -------------------------------------------------------------------

    def _bump(self, conn: sa.Connection) -> None:
        meta = self.tables["store_meta"]
        updated = conn.execute(
            meta.update().where(meta.c.key == FENCES_VERSION).values(value=meta.c.value + 1)
        ).rowcount
        if not updated:
            conn.execute(meta.insert().values(key=FENCES_VERSION, value=1))

    def _fence_index(self, conn: sa.Connection, generation: str) -> FenceIndex:
        """The fences as an index (rebuilt when a fence or the generation changed)."""
        meta = self.tables["store_meta"]
        version = conn.execute(
            sa.select(meta.c.value).where(meta.c.key == FENCES_VERSION)
        ).scalar_one_or_none()
        key = (int(version or 0), generation)
        if self._index is None or self._index[0] != key:
            table = self.tables["fences"]
            rows = conn.execute(sa.select(table).order_by(table.c.id)).mappings().all()
            shapes = self.region_shapes(generation) if any(r["region"] for r in rows) else {}
            specs = []
            for r in rows:
                geometry = (
                    shapes.get(r["region"]) if r["region"] else shapely.from_geojson(r["geometry"])
                )
                if geometry is None:  # the region is gone from this generation
                    geometry = shapely.Polygon()
                specs.append(
                    FenceSpec(
                        r["id"],
                        geometry,
                        frozenset(r["detect"].split(",")),
                        frozenset(r["object_kinds"].split(",")) if r["object_kinds"] else None,
                        float(r["min_distance_m"]),
                        int(r["dwell_s"] * 1000),
                    )
                )
            self._index = (key, FenceIndex(specs))
        return self._index[1]

    def _objects(self, conn: sa.Connection, batch: PositionBatch) -> dict[str, dict[str, Any]]:
        table = self.tables["objects"]
        found: dict[str, dict[str, Any]] = {}
        for kind in sorted(set(batch.kinds)):
            ids = sorted({i for k, i in zip(batch.kinds, batch.ids, strict=True) if k == kind})
            stmt = sa.select(table).where(table.c.kind == kind, in_values(conn, table.c.id, ids))
            found |= {object_key(kind, r["id"]): r for r in fetch_dicts(conn, stmt)}
        return found

    def _states(self, conn: sa.Connection, keys: list[str]) -> dict[tuple[str, str], list[Any]]:
        """``(fence, object) -> [inside, pending_since, touched]`` of the batch's objects."""
        table = self.tables["fence_state"]
        stmt = sa.select(table).where(in_values(conn, table.c.object_key, keys))
        return {
            (r["fence_id"], r["object_key"]): [bool(r["inside"]), r["pending_since"], False]
            for r in fetch_dicts(conn, stmt)
        }

    @staticmethod
    def _hits(
        index: FenceIndex,
        newer: list[int],
        lon: np.ndarray,
        lat: np.ndarray,
    ) -> dict[int, set[int]]:
        """Per position, the fences it is in (the rest of the relevant ones are added by
        :meth:`_detect` from the state and the crossing segment)."""
        if not newer or not len(index):
            return {}
        pairs = index.containing(lon[newer], lat[newer])
        hits: dict[int, set[int]] = {}
        for p, f in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
            hits.setdefault(newer[p], set()).add(f)
        return hits

    def _detect(
        self,
        index: FenceIndex,
        inside_now: set[int],
        row: dict[str, Any],
        before: dict[str, Any] | None,
        states: dict[tuple[str, str], list[Any]],
        known: set[str],
    ) -> list[dict[str, Any]]:
        """Fence events of one position (updating ``states`` and ``known``, the fences
        with a state for this object, in place)."""
        if not len(index):
            return []
        kind, lon, lat, at = row["kind"], row["lon"], row["lat"], row["at"]
        key = object_key(kind, row["id"])
        relevant = set(inside_now) | set(index.outside_watchers)
        relevant |= {index.by_id[f] for f in known if f in index.by_id}
        segment = None
        moved = before is not None and (before["lon"], before["lat"]) != (lon, lat)
        if moved and index.crossers and before is not None:
            segment = shapely.linestrings([(before["lon"], before["lat"]), (lon, lat)])
            relevant |= set(index.crossed([segment])[1].tolist())
        events = []
        for f in sorted(relevant):
            spec = index.fences[f]
            if not spec.watches(kind):
                continue
            state = states.get((spec.id, key), [False, None, False])
            raw = f in inside_now
            edge = edge_distance_m(spec.geometry, lon, lat) if raw != state[0] else 0.0
            inside, pending, changed = decide(state[0], state[1], raw, edge, at, spec)
            if changed:
                detect = "enter" if inside else "exit"
            elif inside:
                detect = "inside"
            elif (
                segment is not None
                and not raw
                and not state[0]
                and crossing_m(spec.geometry, segment) >= max(spec.min_distance_m, 1e-3)
            ):
                detect = "cross"
            else:
                detect = "outside"
            if (inside, pending) != (state[0], state[1]) or (spec.id, key) in states:
                states[(spec.id, key)] = [inside, pending, True]
                known.add(spec.id)
            if detect in spec.detect:
                events.append(
                    {
                        "id": fence_event_id(spec.id, key, at, detect),
                        "fence_id": spec.id,
                        "detect": detect,
                        "object_kind": kind,
                        "object_id": row["id"],
                        "at": at,
                        "lon": lon,
                        "lat": lat,
                        "grid_code": row["grid_code"],
                    }
                )
        return events

    def _save_objects(
        self, conn: sa.Connection, moved: dict[str, dict[str, Any]], current: dict[str, Any]
    ) -> None:
        table = self.tables["objects"]
        new = [r for k, r in moved.items() if k not in current]
        old = [r for k, r in moved.items() if k in current]
        insert_rows(conn, table.insert(), new)
        update_rows(conn, table, old, ("kind", "id"))

    def _save_states(self, conn: sa.Connection, states: dict[tuple[str, str], list[Any]]) -> None:
        """Rewrite the touched states; an object confirmed outside with nothing pending
        needs no row."""
        table = self.tables["fence_state"]
        touched = [(k, s) for k, s in states.items() if s[2]]
        if not touched:
            return
        run_many(
            conn,
            table.delete().where(
                table.c.fence_id == sa.bindparam("b_fence"),
                table.c.object_key == sa.bindparam("b_key"),
            ),
            [{"b_fence": f, "b_key": o} for (f, o), _ in touched],
        )
        keep = [
            {"fence_id": f, "object_key": o, "inside": s[0], "pending_since": s[1]}
            for (f, o), s in touched
            if s[0] or s[1] is not None
        ]
        if keep:
            conn.execute(table.insert(), keep)


def event_view(row: dict[str, Any]) -> dict[str, Any]:
    """A fence event in Tile38's shape: detect, hook/fence id, object id and kind, time,
    position (GeoJSON), plus the grid it happened in.

    >>> event_view({"id": 1, "fence_id": "f", "detect": "enter", "object_kind": "worker",
    ...     "object_id": "w1", "at": 0, "lon": 1.0, "lat": 2.0, "grid_code": "g"})["object"]
    {'type': 'Point', 'coordinates': [1.0, 2.0]}
    """
    return {
        "id": row.get("id"),
        "command": "set",
        "detect": row["detect"],
        "fence": row["fence_id"],
        "key": row["object_kind"],
        "object_id": row["object_id"],
        "time": from_ms(row["at"]),
        "object": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        "grid_code": row["grid_code"],
    }


def _fence_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "region": row["region"],
        "geometry": None if row["geometry"] is None else json.loads(row["geometry"]),
        "detect": row["detect"].split(","),
        "kinds": row["object_kinds"].split(",") if row["object_kinds"] else None,
        "min_distance_m": row["min_distance_m"],
        "dwell_s": row["dwell_s"],
        "created_at": from_ms(row["created_at"]),
    }
