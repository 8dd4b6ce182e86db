"""The live writers (readings, positions, rules) keep the store's lock order
(geo.store.lockorder): the change-feed counter is the first lock of each of their
transactions, so beside re-assignment batches and incident writes on PostGIS none of them
deadlocks, and what they stored agrees with an oracle recomputed from the stored rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from cityaware.geo.live.alarms import Threshold
from cityaware.geo.live.rules import Rule
from cityaware.geo.store import lockorder
from cityaware.geo.store.lockorder import VERSION_KEY, lock_feed
from cityaware.geo.store.positions import PositionBatch, PositionStore
from cityaware.geo.store.readings import ReadingBatch, ReadingStore
from cityaware.geo.store.rules import RuleStore
from cityaware.geo.store.times import from_ms
from tests.geo.store import sample, synthetic
from tests.geo.store.synthetic import CELL, SOUTH, WEST

SPAN = 4 * CELL
HIGH = 50.0  # the meters' threshold: a reading above it opens an alarm, one below clears it
T0 = 1_700_000_000_000
DAY_MS = 86_400_000


def add_sensors(store, n: int) -> list[str]:
    rng = np.random.default_rng(7)
    ids = [f"s{i:03d}" for i in range(n)]
    frame = pd.DataFrame(
        {
            "id": ids,
            "lon": rng.uniform(WEST, WEST + SPAN, n),
            "lat": rng.uniform(SOUTH, SOUTH + SPAN, n),
            "device_kind": "meter",
        }
    )
    store.bulk_import("sensors", frame, crs="EPSG:4326")
    return ids


def live(store) -> tuple[ReadingStore, PositionStore]:
    readings = ReadingStore(store, retention_ms=365 * DAY_MS)
    readings.set_threshold("kind", "meter", Threshold(max=HIGH), T0)
    return readings, PositionStore(store, lambda generation: {}, retention_ms=365 * DAY_MS)


def reading_round(ids: list[str], r: int) -> ReadingBatch:
    """Round ``r``: every sensor once, good and bad in turns (so alarms open and clear and
    every batch writes to the feed), plus a replay of the previous round's first reading."""
    values = [90.0 if (r + k) % 2 else 10.0 for k in range(len(ids))]
    at = [T0 + r * 1000] * len(ids)
    sensors, units = list(ids), [None] * len(ids)
    if r:
        sensors.append(ids[0])
        values.append(90.0 if (r - 1) % 2 else 10.0)
        at.append(T0 + (r - 1) * 1000)
        units.append(None)
    return ReadingBatch(sensors, values, at, units)


def position_round(n: int, r: int, rng: np.random.Generator) -> PositionBatch:
    return PositionBatch(
        ["worker"] * n,
        [f"w{k:02d}" for k in range(n)],
        rng.uniform(WEST, WEST + SPAN, n).tolist(),
        rng.uniform(SOUTH, SOUTH + SPAN, n).tolist(),
        [T0 + r * 1000] * n,
    )


def table(store, name: str) -> pd.DataFrame:
    with store.backend.read() as conn:
        return pd.DataFrame(conn.execute(sa.select(store.tables[name])).mappings().all())


@pytest.fixture
def lost(monkeypatch) -> list[BaseException]:
    """Every deadlock or serialization failure ``retrying`` sees (and would run again)."""
    seen: list[BaseException] = []
    real = lockorder.retryable

    def recording(error: BaseException) -> bool:
        if real(error):
            seen.append(error)
            return True
        return False

    monkeypatch.setattr(lockorder, "retryable", recording)
    return seen


def run_together(jobs: list[Callable[[], None]]) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(len(jobs))

    def run(job: Callable[[], None]) -> None:
        try:
            start.wait(timeout=60)
            job()
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


@pytest.mark.slow
def test_live_batches_beside_reassignment_and_incident_writes(store, lost):
    sensors = add_sensors(store, 40)
    store.bulk_import("incidents", sample.incidents(150))
    readings, positions = live(store)
    g1, g2 = synthetic.locator("g1"), synthetic.locator("g2", shift=0.003)
    rounds, workers = 10, 12

    def read_in() -> None:
        for r in range(rounds):
            readings.write(reading_round(sensors, r), T0 + r * 1000)

    def move() -> None:
        rng = np.random.default_rng(3)
        for r in range(rounds):
            positions.write(position_round(workers, r, rng), g1, T0 + r * 1000)

    def reassign() -> None:
        for r in range(4):
            store.reassign(g2 if r % 2 == 0 else g1, batch_size=25)

    def report(seed: int) -> Callable[[], None]:
        def job() -> None:
            rng = np.random.default_rng(seed)
            for _ in range(15):
                lon, lat = rng.uniform(WEST, WEST + SPAN), rng.uniform(SOUTH, SOUTH + SPAN)
                store.add("incidents", {"lon": lon, "lat": lat, "category": "noise"})

        return job

    errors = run_together([read_in, move, reassign, report(1), report(2)])
    assert not errors, errors
    assert not lost  # no transaction even lost a deadlock (and had to run again)

    # readings: every distinct (sensor, time) once; each sensor's last reading and alarm
    # flag as recomputed from the stored history and alarms
    history = table(store, "readings")
    assert len(history) == len(sensors) * rounds
    assert not history.duplicated(["sensor_id", "at"]).any()
    newest = history.sort_values("at").groupby("sensor_id").last()
    stored = pd.DataFrame([r for b in store.iter_features("sensors") for r in b]).set_index("id")
    assert stored.loc[newest.index, "reading_value"].tolist() == newest["value"].tolist()
    alarms = table(store, "alarms")
    opened = alarms[alarms["state"] == "open"]["sensor_id"]
    assert set(stored.index[stored["alarm"].astype(bool)]) == set(opened)
    assert set(opened) == set(newest.index[newest["value"] > HIGH])
    bad = history.sort_values("at").assign(bad=lambda h: h["value"] > HIGH)
    starts = bad.groupby("sensor_id")["bad"].apply(
        lambda s: int((s & ~s.shift(fill_value=False)).sum())
    )
    assert alarms.groupby("sensor_id").size().reindex(starts.index, fill_value=0).tolist() == (
        starts.tolist()
    )

    # positions: each object where its newest track row is, one feed move per grid change
    tracks = table(store, "tracks").sort_values("at")
    assert len(tracks) == workers * rounds
    objects = table(store, "objects").set_index("id")
    last = tracks.groupby("id").last()
    assert objects.loc[last.index, ["lon", "lat", "at", "grid_code"]].equals(
        last[["lon", "lat", "at", "grid_code"]]
    )
    grid_changes = tracks.groupby("id")["grid_code"].apply(lambda g: int((g != g.shift()).sum()))
    feed = table(store, "changes")
    moves = feed[feed["kind"] == "objects"]
    assert len(moves) == int(grid_changes.sum())

    # the feed is one gap-free sequence; every feature sits in its generation's grid
    assert sorted(feed["seq"]) == list(range(1, store.data_version() + 1))
    assert store.count("incidents") == 150 + 30
    locators = {"g1": g1, "g2": g2}
    for kind in ("incidents", "sensors"):
        rows = [r for b in store.iter_features(kind) for r in b]
        for generation, locator in locators.items():
            mine = [r for r in rows if r["generation"] == generation]
            answer = locator.locate_lonlat([r["lon"] for r in mine], [r["lat"] for r in mine])
            assert [r["grid_code"] for r in mine] == list(answer.grid_code)


class Statements:
    """The statements of the store's write transactions, one list per transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.transactions = engine, []
        sa.event.listen(engine, "before_cursor_execute", self._statement)

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not conn.get_execution_options().get("store_write") or statement.startswith("BEGIN"):
            return
        dbapi = conn.connection.dbapi_connection
        if not self.transactions or self.transactions[-1][0] is not dbapi:
            self.transactions.append((dbapi, []))
        self.transactions[-1][1].append((statement, parameters))

    def firsts(self) -> list[tuple[str, object]]:
        return [statements[0] for _, statements in self.transactions]

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)


def takes_the_counter(statement: str, parameters, backend: str) -> bool:
    text = " ".join(statement.replace('"', "").split()).upper()
    ours = text.startswith("SELECT STORE_META.VALUE FROM STORE_META WHERE STORE_META.KEY")
    values = parameters.values() if isinstance(parameters, dict) else parameters
    locks = text.endswith("FOR UPDATE") or backend == "sqlite"  # SQLite's writers are serial
    return ours and VERSION_KEY in values and locks


def test_every_live_write_takes_the_feed_counter_first(store):
    sensors = add_sensors(store, 5)
    readings, positions = live(store)
    rules = RuleStore(store)
    offline = Rule("quiet", "offline", frozenset({"sensors"}), after_minutes=1.0)
    fence = {
        "id": "f1", "name": "f", "region": None, "detect": "enter,exit", "object_kinds": None,
        "geometry": '{"type":"Polygon","coordinates":[[[113.6,34.7],[113.62,34.7],'
                    '[113.62,34.72],[113.6,34.7]]]}',
        "min_distance_m": 0.0, "dwell_s": 0.0, "created_at": T0,
    }  # fmt: skip
    writes = {
        "readings.write": lambda: readings.write(reading_round(sensors, 1), T0),
        "set_threshold": lambda: readings.set_threshold("sensor", sensors[0], Threshold(), T0),
        "delete_threshold": lambda: readings.delete_threshold("sensor", sensors[0]),
        "set_offline": lambda: readings.set_threshold(
            "kind", "meter", Threshold(max=HIGH, offline_minutes=1.0), T0
        ),
        "sweep_offline": lambda: readings.sweep_offline(T0 + DAY_MS),
        "add_fence": lambda: positions.add_fence(fence, "g1"),
        "positions.write": lambda: positions.write(
            position_round(3, 1, np.random.default_rng(1)), synthetic.locator("g1"), T0
        ),
        "delete_fence": lambda: positions.delete_fence("f1"),
        "rules.evaluate": lambda: rules.evaluate(
            [offline], T0 + DAY_MS, ZoneInfo("UTC"), "g1", lambda g: {}, {}
        ),
    }
    for name, write in writes.items():
        seen = Statements(store.backend.engine)
        try:
            write()
        finally:
            seen.close()
        assert seen.transactions, name
        for statement, parameters in seen.firsts():
            assert takes_the_counter(statement, parameters, store.backend_name), (name, statement)
    assert rules.open_subjects("quiet")  # the sweep and the rule did their work


def wait_for_lock_wait(store, timeout_s: float = 60.0) -> None:
    """Until some session waits for a lock in a statement on ``store_meta``."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND query ILIKE '%store_meta%' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with store.backend.read() as conn:
            if conn.execute(query).scalar_one():
                return
        time.sleep(0.05)
    raise AssertionError("the writer never waited for the feed counter")


@pytest.mark.parametrize("writer", ["readings", "positions"])
def test_a_live_writer_waiting_for_the_counter_holds_no_row_yet(store, writer):
    """With the counter held elsewhere, the writer waits for it before locking any sensor
    or object row: a second session can still lock those rows at once (NOWAIT)."""
    if store.backend_name != "postgis":
        pytest.skip("SQLite write transactions are serial: no row locks to observe")
    sensors = add_sensors(store, 5)
    readings, positions = live(store)
    rng = np.random.default_rng(5)
    positions.write(position_round(3, 0, rng), synthetic.locator("g1"), T0)
    readings.write(reading_round(sensors, 0), T0)
    work = {
        "readings": lambda: readings.write(reading_round(sensors, 1), T0 + 1000),
        "positions": lambda: positions.write(
            position_round(3, 1, rng), synthetic.locator("g1"), T0 + 1000
        ),
    }[writer]
    features, objects = store.features, store.tables["objects"]
    holder = store.backend.engine.connect()
    transaction = holder.begin()
    lock_feed(holder, store.tables["store_meta"])
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: errors.extend(run_together([work])))
    thread.start()
    try:
        wait_for_lock_wait(store)
        with store.backend.engine.connect() as probe, probe.begin():
            probe.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
            for stmt in (
                sa.select(features.c.id).where(features.c.kind == "sensors"),
                sa.select(objects.c.id),
            ):
                assert probe.execute(stmt.with_for_update(nowait=True)).all()
    finally:
        transaction.rollback()
        holder.close()
        thread.join(timeout=120)
    assert not errors, errors
    if writer == "readings":
        stored = {r["at"] for r in readings.history(sensors[0], None, None)}
        assert stored == {from_ms(T0), from_ms(T0 + 1000)}
    else:
        assert {o["at"] for o in positions.objects()} == {from_ms(T0 + 1000)}
