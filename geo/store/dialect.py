"""The one place where SQLite and PostGIS differ: engine setup, spatial index, spatial SQL.

Everything else in :mod:`geo.store` is plain SQLAlchemy Core shared by both.

* SQLite (embedded default): one file, WAL, ``synchronous=FULL``,
  ``busy_timeout``; write transactions start with ``BEGIN IMMEDIATE`` so
  concurrent writers queue instead of failing, and take an exclusive ``flock``
  on ``features.sqlite.write-lock`` first, so writers of other processes (server
  workers, an import) queue in the kernel and wake the moment the lock is free
  (SQLite's own busy handler sleeps and retries, up to 100 ms a time).
  Durability: ``synchronous=FULL`` makes every commit ``fsync`` the WAL, so an
  acknowledged write survives a power cut; ``NORMAL`` would not (in WAL mode it
  may lose the last commits on power loss), so it is not used. Its cost, one
  ``fsync`` per commit, is shared by the many writes of a group commit
  (:mod:`geo.store.group`). The spatial index is SQLite's
  built-in R*Tree virtual table, kept in sync by triggers inside the writing
  transaction; exact polygon and geodesic tests run as registered Python
  functions (shapely, pyproj) on the R*Tree candidates only.
* PostGIS: a generated ``geometry(Point, 4326)`` column with a GiST index;
  exact tests are ``ST_Intersects`` and ``ST_DWithin`` on geography; bulk loads
  through COPY; ``?partitions=month`` partitions ``features`` by month
  (:mod:`geo.store.partitions`).

>>> normalize_url("postgresql://u@h/db")
'postgresql+psycopg://u@h/db'
>>> normalize_url("", Path("/srv/ca"))
'sqlite:////srv/ca/features.sqlite'
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import shapely
import sqlalchemy as sa
from geoalchemy2 import Geography, Geometry
from sqlalchemy.sql.compiler import SQLCompiler

from cityaware.geo.crs import WGS84_GEOD
from cityaware.geo.store import partitions
from cityaware.geo.store.commits import CommitSignal
from cityaware.geo.store.times import now_ms

SQLITE_FILE = "features.sqlite"
Columns = Mapping[str, Sequence[Any]]  # aligned column -> values of rows to insert
Progress = Callable[[int], None]  # called with the number of rows done
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default
CACHE_KIB = -131_072  # page cache per connection: 128 MiB (negative = KiB)
ANALYZE_GROWTH = 2  # after a bulk import, ANALYZE again once the rows have doubled
ANALYZED_KEY = "analyzed_rows"  # store_meta: max(fid) at the last ANALYZE after an import
_RTREE = sa.table(
    "features_rtree",
    sa.column("id"),
    sa.column("minlon"),
    sa.column("maxlon"),
    sa.column("minlat"),
    sa.column("maxlat"),
)
_SQLITE_DDL = (
    """CREATE VIRTUAL TABLE IF NOT EXISTS features_rtree
         USING rtree(id, minlon, maxlon, minlat, maxlat)""",
    """CREATE TRIGGER IF NOT EXISTS features_rtree_insert AFTER INSERT ON features BEGIN
         INSERT INTO features_rtree VALUES (new.fid, new.lon, new.lon, new.lat, new.lat); END""",
    """CREATE TRIGGER IF NOT EXISTS features_rtree_move AFTER UPDATE OF lon, lat ON features BEGIN
         UPDATE features_rtree SET minlon = new.lon, maxlon = new.lon,
           minlat = new.lat, maxlat = new.lat WHERE id = new.fid; END""",
    """CREATE TRIGGER IF NOT EXISTS features_rtree_delete AFTER DELETE ON features BEGIN
         DELETE FROM features_rtree WHERE id = old.fid; END""",
)


def normalize_url(url: str, data_dir: Path | None = None) -> str:
    """The SQLAlchemy URL for a settings URL: empty means the embedded SQLite file."""
    if not url:
        if data_dir is None:
            raise ValueError("the embedded store needs a data directory")
        return f"sqlite:///{(Path(data_dir) / SQLITE_FILE).absolute()}"
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Backend:
    """An engine plus the dialect's spatial expressions for the ``features`` table."""

    name: str
    partitioned = False  # ?partitions=month on PostGIS (geo.store.partition_load)

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.commits = CommitSignal()  # told after each write transaction commits

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[sa.Connection]:
        """A connection inside a write transaction (committed on success); ``durable=False``
        (a step of a staged import, still hidden and discarded if lost) may skip the
        commit's ``fsync``: the next durable commit syncs it too."""
        with self.engine.connect() as conn:
            conn.execution_options(store_write=True)
            with self._synchronous(conn, durable), conn.begin():
                yield conn
        self.commits.notify()

    @contextmanager
    def _synchronous(self, conn: sa.Connection, durable: bool) -> Iterator[None]:
        """How the commit reaches the disk (no-op but on SQLite)."""
        yield

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection inside a read transaction (one consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @staticmethod
    def insert_many(conn: sa.Connection, table: sa.Table, columns: Columns) -> None:
        """INSERT rows given as aligned column lists (:func:`run_columns`: bulk speed)."""
        if columns:
            run_columns(conn, table.insert().values({n: sa.bindparam(n) for n in columns}), columns)

    def bulk_load(
        self,
        conn: sa.Connection,
        features: sa.Table,
        columns: Columns,
        batch: int,
        progress: Progress | None,
    ) -> None:
        """Insert many feature rows in batches, calling ``progress(rows_done)``."""
        total = len(next(iter(columns.values()), []))
        columns = _without_empty(columns)
        for start in range(0, total, batch):
            stop = min(start + batch, total)
            self.insert_many(conn, features, {k: v[start:stop] for k, v in columns.items()})
            if progress is not None:
                progress(stop)

    def add_geometry(self, features: sa.Table) -> None:
        """Add backend-only columns to the table definition (before create_all)."""

    def before_create(self, conn: sa.Connection) -> None:
        """Prepare the database for the tables (extensions)."""

    def install(self, conn: sa.Connection) -> None:
        """Create the spatial index structures (after create_all)."""

    def after_bulk(self, conn: sa.Connection) -> None:
        """Refresh what the planner knows after a bulk import (its own short transaction)."""

    def analyze(self, conn: sa.Connection, table: sa.Table) -> None:
        """Planner statistics of a table just filled in ``conn``'s transaction (a temporary
        table: autovacuum never sees it, and without them joins on it loop per row)."""

    def index_prefilter(
        self, features: sa.Table, minx: float, miny: float, maxx: float, maxy: float
    ) -> sa.ColumnElement[bool]:
        """Candidates from the spatial index for a lon/lat box (may be loose)."""
        raise NotImplementedError

    def intersects(self, features: sa.Table, geometry: shapely.Geometry) -> sa.ColumnElement[bool]:
        """Exact test: the point lies in or on the shapely ``geometry``."""
        raise NotImplementedError

    def within_metres(
        self, features: sa.Table, lon: float, lat: float, metres: float
    ) -> sa.ColumnElement[bool]:
        """Exact test: geodesic (WGS84 ellipsoid) distance to (lon, lat) <= metres."""
        raise NotImplementedError

    def dispose(self) -> None:
        self.engine.dispose()


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, url: str):
        database = Path(sa.make_url(url).database or "")
        database.parent.mkdir(parents=True, exist_ok=True)
        # LIFO: a write takes the connection the last one used, whose page cache is warm
        # (SQLite drops a connection's whole cache when another one wrote meanwhile: a bulk
        # import's steps on rotating connections re-read every index page, 4x slower)
        engine = sa.create_engine(url, connect_args={"timeout": 60}, pool_use_lifo=True)
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        super().__init__(engine)
        self._lock_path = database.with_name(database.name + ".write-lock")
        self._lock_fd: int | None = None
        self._thread_lock = threading.Lock()  # flock does not order threads of one process

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[sa.Connection]:
        """As the base, holding the cross-process write lock for the transaction."""
        with self._thread_lock:
            if self._lock_fd is None:
                self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                with super().write(durable) as conn:
                    yield conn
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        if not durable:  # out of both locks: this process's other writers go on too
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy the WAL into the database outside the write lock (``PASSIVE``: never waits,
        writers go on): a staged import's step commits without the automatic checkpoint
        (see :meth:`_synchronous`), which would hold the lock for its I/O and ``fsync``."""
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None, "a checked-out connection has a driver connection"
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @contextmanager
    def _synchronous(self, conn: sa.Connection, durable: bool) -> Iterator[None]:
        """``synchronous=NORMAL`` and no automatic checkpoint for a non-durable commit (WAL:
        no ``fsync``, never a corrupt file; set outside a transaction, as SQLite asks; the
        checkpoint follows outside the lock), then ``FULL`` and the default again."""
        if durable:
            yield
            return
        raw = conn.connection.dbapi_connection
        assert raw is not None, "a checked-out connection has a driver connection"
        raw.execute("PRAGMA synchronous=NORMAL")
        raw.execute("PRAGMA wal_autocheckpoint=0")
        try:
            yield
        finally:
            raw.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            raw.execute("PRAGMA synchronous=FULL")

    def dispose(self) -> None:
        super().dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def install(self, conn: sa.Connection) -> None:
        for statement in _SQLITE_DDL:
            conn.exec_driver_sql(statement)
        self._analyze(conn)

    @staticmethod
    def _analyze(conn: sa.Connection) -> None:
        """Sampled planner statistics, so spatial filters start from the R*Tree."""
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")

    def after_bulk(self, conn: sa.Connection) -> None:
        """ANALYZE once the table has grown by :data:`ANALYZE_GROWTH` since the last one (the
        plans depend on the shape of the data, not on each import)."""
        rows = int(conn.exec_driver_sql("SELECT coalesce(max(fid), 0) FROM features").scalar_one())
        seen = conn.exec_driver_sql(
            "SELECT value FROM store_meta WHERE key = ?", (ANALYZED_KEY,)
        ).scalar_one_or_none()
        if seen is not None and rows < int(seen) * ANALYZE_GROWTH:
            return
        self._analyze(conn)
        conn.exec_driver_sql(
            "INSERT INTO store_meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (ANALYZED_KEY, max(rows, 1)),
        )

    def index_prefilter(
        self, features: sa.Table, minx: float, miny: float, maxx: float, maxy: float
    ) -> sa.ColumnElement[bool]:
        hits = sa.select(_RTREE.c.id).where(
            _RTREE.c.minlon <= maxx,
            _RTREE.c.maxlon >= minx,
            _RTREE.c.minlat <= maxy,
            _RTREE.c.maxlat >= miny,
        )
        return features.c.fid.in_(hits)

    def intersects(self, features: sa.Table, geometry: shapely.Geometry) -> sa.ColumnElement[bool]:
        return sa.func.ca_intersects(shapely.to_wkb(geometry), features.c.lon, features.c.lat) == 1

    def within_metres(
        self, features: sa.Table, lon: float, lat: float, metres: float
    ) -> sa.ColumnElement[bool]:
        return sa.func.ca_geodesic_m(lon, lat, features.c.lon, features.c.lat) <= metres


class PostGISBackend(Backend):
    name = "postgis"

    def __init__(self, url: str):
        parsed = sa.make_url(url)
        option = parsed.query.get(partitions.PARTITION_OPTION)
        if option not in (None, "month"):
            raise ValueError(f"?{partitions.PARTITION_OPTION}={option}: only 'month' is known")
        self.partitioned = option == "month"  # see geo.store.partitions
        parsed = parsed.difference_update_query([partitions.PARTITION_OPTION])
        engine = sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=20)
        super().__init__(engine)

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[sa.Connection]:
        """As the base; a non-durable commit does not wait for its WAL flush."""
        with super().write(durable) as conn:
            if not durable:
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            yield conn

    def add_geometry(self, features: sa.Table) -> None:
        if "geom" not in features.c:
            features.append_column(
                sa.Column(
                    "geom",
                    Geometry("POINT", 4326, spatial_index=True),
                    sa.Computed("ST_SetSRID(ST_MakePoint(lon, lat), 4326)", persisted=True),
                )
            )
            if self.partitioned:
                partitions.prepare_table(features)
                partitions.prepare_counts(features.metadata.tables["incident_counts"])

    def install(self, conn: sa.Connection) -> None:
        if self.partitioned:
            partitions.install(conn, now_ms())

    def before_create(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")

    def analyze(self, conn: sa.Connection, table: sa.Table) -> None:
        conn.exec_driver_sql(f"ANALYZE {table.name}")

    def bulk_load(
        self,
        conn: sa.Connection,
        features: sa.Table,
        columns: Columns,
        batch: int,
        progress: Progress | None,
    ) -> None:
        """COPY the rows in (PostgreSQL's bulk path), inside the caller's transaction (a
        month-partitioned store loads through :mod:`geo.store.partition_load` instead)."""
        total = len(next(iter(columns.values()), []))
        columns = _without_empty(columns)
        names = list(columns)
        driver = conn.connection.driver_connection
        assert driver is not None, "a checked-out connection has a driver connection"
        cursor = driver.cursor()
        statement = f"COPY {features.name} ({', '.join(names)}) FROM STDIN"
        with cursor, cursor.copy(statement) as copy:
            for done, row in enumerate(zip(*columns.values(), strict=True), start=1):
                copy.write_row(row)
                if progress is not None and done % batch == 0:
                    progress(done)
        if progress is not None and total % batch:
            progress(total)

    def index_prefilter(
        self, features: sa.Table, minx: float, miny: float, maxx: float, maxy: float
    ) -> sa.ColumnElement[bool]:
        return features.c.geom.op("&&")(sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, 4326))

    def intersects(self, features: sa.Table, geometry: shapely.Geometry) -> sa.ColumnElement[bool]:
        shape = sa.func.ST_GeomFromWKB(shapely.to_wkb(geometry), 4326)
        return sa.func.ST_Intersects(features.c.geom, shape)

    def within_metres(
        self, features: sa.Table, lon: float, lat: float, metres: float
    ) -> sa.ColumnElement[bool]:
        centre = sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326)
        return sa.func.ST_DWithin(
            sa.cast(features.c.geom, Geography), sa.cast(centre, Geography), metres
        )


def create_backend(url: str, data_dir: Path | None = None) -> Backend:
    """The backend for a settings URL (empty: SQLite under ``data_dir``)."""
    url = normalize_url(url, data_dir)
    if url.startswith("sqlite"):
        return SQLiteBackend(url)
    if url.startswith("postgresql"):
        return PostGISBackend(url)
    raise ValueError(f"unsupported database URL {url!r}; use postgresql://... or leave it empty")


def _without_empty(columns: Columns) -> dict[str, Sequence[Any]]:
    """The columns with at least one value (all-NULL ones are left to the default NULL)."""
    return {k: v for k, v in columns.items() if any_set(v)}


def any_set(values: Sequence[Any]) -> bool:
    """Whether any value is not None (a column worth writing).

    >>> any_set([None, 0]), any_set([None])
    (True, False)
    """
    return any(x is not None for x in values)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute(f"PRAGMA cache_size={CACHE_KIB}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()
    dbapi_conn.create_function("ca_intersects", 3, _intersects, deterministic=True)
    dbapi_conn.create_function("ca_geodesic_m", 4, _geodesic_m, deterministic=True)


def _sqlite_begin(conn: sa.Connection) -> None:
    write = conn.get_execution_options().get("store_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@lru_cache(maxsize=32)
def _prepared(wkb: bytes) -> shapely.Geometry:
    geometry = shapely.from_wkb(wkb)
    shapely.prepare(geometry)
    return geometry


def _intersects(wkb: bytes, lon: float, lat: float) -> int:
    return int(shapely.intersects_xy(_prepared(wkb), lon, lat))


def _geodesic_m(lon0: float, lat0: float, lon: float, lat: float) -> float:
    return float(WGS84_GEOD.inv(lon0, lat0, lon, lat)[2])


def run_many(conn: sa.Connection, stmt: sa.ClauseElement, rows: Sequence[Mapping[str, Any]]) -> int:
    """Execute ``stmt`` once per row (mappings of bind names) straight through the driver's
    ``executemany``: the statement is compiled once, and SQLAlchemy's per-row parameter
    processing (what makes 10,000-row batches slow) is skipped. Returns the row count."""
    return _executemany(
        conn,
        stmt,
        lambda order: [tuple(r[n] for n in order) for r in rows],
        lambda: list(rows),
    )


def run_columns(conn: sa.Connection, stmt: sa.ClauseElement, columns: Columns) -> int:
    """:func:`run_many` for rows given as aligned columns (bind name -> values)."""
    names = list(columns)
    return _executemany(
        conn,
        stmt,
        lambda order: list(zip(*(columns[n] for n in order), strict=True)),
        lambda: [dict(zip(names, r, strict=True)) for r in zip(*columns.values(), strict=True)],
    )


def _executemany(
    conn: sa.Connection,
    stmt: sa.ClauseElement,
    positional: Callable[[Sequence[str]], list[tuple[Any, ...]]],
    named: Callable[[], list[Any]],
) -> int:
    """Compile once; hand the driver tuples in bind order (SQLite) or mappings (psycopg)."""
    compiled = cast(SQLCompiler, stmt.compile(dialect=conn.dialect))  # DML compiles to SQL
    params = positional(compiled.positiontup or []) if compiled.positional else named()
    if not params:
        return 0
    result = conn.exec_driver_sql(str(compiled), params)
    return max(int(result.rowcount), 0)
