"""PostGIS ``ST_AsMVT`` on the rows a map layer tiles, for :mod:`benchmarks.bench_tiles`.

The points of a snapshot (EPSG:3857 x/y and the attribute columns its tiles carry) and
the boundary polygons (already simplified for the zoom) are copied into tables of a
fresh schema with a GiST index; a tile is then one query, timed from the client:
``ST_AsMVTGeom`` + ``ST_AsMVT`` for points and polygons (64 px buffer, clipped, as
ours), and for bins the same 512 px cells with count, cluster and sums, grouped in SQL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from cityaware.layers.tiles import BIN_PX, BUFFER_PX, EXTENT, TileBox

TYPES = {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double precision"}


class PostgisTiles:
    """Tables of one benchmark run in a schema of their own (dropped by :meth:`close`)."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.schema = f"bench_tiles_{uuid.uuid4().hex[:8]}"
        self.conn = self.engine.connect()
        self.conn.exec_driver_sql(f"CREATE SCHEMA {self.schema}")
        self.conn.exec_driver_sql(f"SET search_path = {self.schema}, public")
        self.conn.commit()

    def close(self) -> None:
        self.conn.rollback()
        self.conn.exec_driver_sql(f"DROP SCHEMA {self.schema} CASCADE")
        self.conn.commit()
        self.conn.close()
        self.engine.dispose()

    def load_points(self, name: str, x: np.ndarray, y: np.ndarray, frame: pd.DataFrame) -> None:
        """Copy points (EPSG:3857) and their ``frame`` columns into table ``name``."""
        columns = {c: _sql_type(frame[c]) for c in frame.columns}
        spec = ", ".join(f"{c} {t}" for c, t in columns.items())
        self.conn.exec_driver_sql(f"CREATE TABLE {name} (x double precision, "
                                  f"y double precision, {spec})")  # fmt: skip
        values = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in columns]
        self._copy(name, ["x", "y", *columns], zip(x.tolist(), y.tolist(), *values, strict=True))
        self._index(name, "ST_SetSRID(ST_MakePoint(x, y), 3857)")

    def load_polygons(self, name: str, geoms: np.ndarray, frame: pd.DataFrame) -> None:
        """Copy EPSG:3857 polygons and their ``frame`` columns into table ``name``."""
        spec = ", ".join(f"{c} text" for c in frame.columns)
        self.conn.exec_driver_sql(f"CREATE TABLE {name} (wkb bytea, {spec})")
        wkb = shapely.to_wkb(geoms)
        values = [frame[c].astype(str).tolist() for c in frame.columns]
        self._copy(name, ["wkb", *frame.columns], zip(wkb.tolist(), *values, strict=True))
        self._index(name, "ST_SetSRID(ST_GeomFromWKB(wkb), 3857)")

    def clipped_tile(self, name: str, box: TileBox, columns: Sequence[str]) -> tuple[bytes, float]:
        """The MVT of the geometries of ``name`` meeting ``box`` (points or polygons, 64 px
        buffer, clipped) and the seconds it took."""
        sql = (
            f"SELECT ST_AsMVT(q, '{name}', {EXTENT}, 'geom') FROM (SELECT ST_AsMVTGeom(geom, "
            f"ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {EXTENT}, {BUFFER_PX}, true) AS geom, "
            f"{', '.join(columns)} FROM {name} WHERE geom && ST_TileEnvelope(%(z)s, %(x)s, "
            f"%(y)s, margin => {BUFFER_PX / EXTENT})) q"
        )
        return self._timed(sql, box)

    def bins_tile(self, name: str, box: TileBox, sums: Sequence[str]) -> tuple[bytes, float]:
        """Points of ``name`` inside ``box`` binned as ours (``BIN_PX`` cells, mean position,
        count, cluster, sums) in SQL, then ``ST_AsMVT``; the tile and the seconds it took."""
        side = EXTENT // BIN_PX - 1
        sums_sql = "".join(f", sum({s}::int)::int AS {s}" for s in sums)
        cell = f"least(greatest(floor(%s / {BIN_PX}), 0), {side})"
        sql = (
            "WITH e AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS b), p AS (SELECT "
            f"(x - ST_XMin(e.b)) * {EXTENT} / (ST_XMax(e.b) - ST_XMin(e.b)) AS px, "
            f"(ST_YMax(e.b) - y) * {EXTENT} / (ST_YMax(e.b) - ST_YMin(e.b)) AS py"
            f"{''.join(', ' + s for s in sums)} FROM {name}, e WHERE geom && e.b "
            "AND x >= ST_XMin(e.b) AND x < ST_XMax(e.b) AND y > ST_YMin(e.b) "
            "AND y <= ST_YMax(e.b)) "
            f"SELECT ST_AsMVT(q, '{name}', {EXTENT}, 'geom') FROM (SELECT "
            "ST_MakePoint(round(avg(px)), round(avg(py))) AS geom, count(*)::int AS count, "
            f"1 AS cluster{sums_sql} FROM p GROUP BY {cell % 'px'}, {cell % 'py'}) q"
        )
        return self._timed(sql, box)

    def _timed(self, sql: str, box: TileBox) -> tuple[bytes, float]:
        started = time.perf_counter()
        body = self.conn.exec_driver_sql(sql, {"z": box.z, "x": box.x, "y": box.y}).scalar()
        return bytes(body or b""), time.perf_counter() - started

    def _copy(self, name: str, columns: Sequence[str], rows) -> None:
        cursor = self.conn.connection.cursor()
        with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _index(self, name: str, geometry: str) -> None:
        self.conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN geom geometry")
        self.conn.exec_driver_sql(f"UPDATE {name} SET geom = {geometry}")
        self.conn.exec_driver_sql(f"CREATE INDEX ON {name} USING gist (geom)")
        self.conn.exec_driver_sql(f"ANALYZE {name}")
        self.conn.commit()


def _sql_type(series: pd.Series) -> str:
    return TYPES.get(series.dtype.kind, "text") if series.dtype != object else "text"
