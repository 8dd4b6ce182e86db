"""A store filled inside ``building()`` (indexes dropped, built once at the end) ends
exactly like one filled row by row: the same rows, R*Tree, indexes, counts and answers."""

from __future__ import annotations

import pandas as pd
import pytest

from cityaware.geo.errors import InvalidInput
from cityaware.geo.store import FeatureFilter, open_store
from cityaware.geo.store.building import building
from tests.geo.store import sample

CATALOG = (
    "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY name"
)
RTREE = (
    "SELECT f.kind, f.id, r.minlon, r.maxlat FROM features_rtree r JOIN features f ON f.fid = r.id"
)


def _fill(store, frames) -> None:
    for frame in frames:
        store.bulk_import("incidents", frame, strict=True)


def _sql(store, sql: str) -> pd.DataFrame:
    with store.backend.read() as conn:
        result = conn.exec_driver_sql(sql)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


@pytest.fixture(scope="module")
def stores(tmp_path_factory, locator):
    every = sample.incidents(900, seed=23)
    frames = [every.iloc[:400], every.iloc[400:]]
    plain = open_store("", tmp_path_factory.mktemp("plain"), locator)
    built = open_store("", tmp_path_factory.mktemp("built"), locator)
    _fill(plain, frames)
    with building(built):
        assert "features_kind_grid" not in _sql(built, CATALOG)["name"].tolist()
        _fill(built, frames)
    yield plain, built
    plain.close()
    built.close()


def test_the_same_rows_rtree_indexes_and_counts(stores):
    plain, built = stores
    times = {"created_at", "updated_at"}  # the import's own clock
    columns = [c for c in plain.features.c.keys() if c not in times]
    rows = f"SELECT {', '.join(columns)} FROM features ORDER BY fid"
    pd.testing.assert_frame_equal(_sql(plain, rows), _sql(built, rows))
    for sql in (
        CATALOG,
        RTREE + " ORDER BY f.fid",
        "SELECT * FROM incident_counts ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
    ):
        pd.testing.assert_frame_equal(_sql(plain, sql), _sql(built, sql))
    assert len(_sql(built, RTREE)) == 900
    ops = [[(c["id"], c["op"]) for c in s.changes(0, 1000).changes] for s in stores]
    assert ops[0] == ops[1] and len(ops[0]) == 900


@pytest.mark.parametrize(
    "filters",
    [FeatureFilter(bbox=(113.61, 34.71, 113.625, 34.725)), FeatureFilter(region="410105001"),
     FeatureFilter(since="2026-11-05T00:00:00Z", until="2026-11-06T00:00:00Z", status="received")],
)  # fmt: skip
def test_the_same_answers(stores, filters):
    plain, built = stores
    ids = [sorted(i["id"] for i in s.query("incidents", filters, limit=1000).items) for s in stores]
    assert ids[0] == ids[1] and ids[0]


def test_only_for_sqlite(stores):
    class Other:
        backend_name = "postgis"

    with pytest.raises(InvalidInput, match="SQLite"):
        with building(Other()):  # type: ignore[arg-type]
            pass
