"""Re-assignment by month (geo.store.reassign): on a month-partitioned PostGIS store each
batch is read and written within one month, and on every layout the stored grids equal a
point-in-polygon oracle over the new units (PostGIS's own ST_Contains where there is one)
and the kept counts equal a pandas recount of the stored rows."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from cityaware.geo.store import FeatureFilter, partitions, reassign
from tests.geo.store import synthetic
from tests.geo.store.conftest import backend_store
from tests.geo.store.test_partition_load import _spread

LAYOUTS = [
    "sqlite",
    pytest.param("postgis", marks=pytest.mark.postgis),
    pytest.param("partitioned", marks=pytest.mark.postgis),
]
SHIFT = 0.004  # the new release moves every inner edge east: many rows change grid


@pytest.fixture(params=LAYOUTS)
def store(request, tmp_path, locator):
    backend = "sqlite" if request.param == "sqlite" else "postgis"
    with backend_store(backend, tmp_path, locator, request.param == "partitioned") as opened:
        yield opened


def _stored(store) -> pd.DataFrame:
    with store.backend.read() as conn:
        return pd.read_sql(
            "SELECT id, lon, lat, category, grid_code, street_code, district_code, generation "
            "FROM features",
            conn,
        )


def _contains_oracle(rows: pd.DataFrame) -> dict[str, str]:
    """id -> grid of the new release containing the point (shapely; points outside: '')."""
    grids = synthetic.units(SHIFT).query("level == 'grid'")[["code", "geometry"]]
    points = gpd.GeoDataFrame(rows[["id"]], geometry=gpd.points_from_xy(rows.lon, rows.lat))
    joined = gpd.sjoin(points.set_crs(grids.crs), grids, predicate="within", how="left")
    return {i: c if isinstance(c, str) else "" for i, c in zip(joined.id, joined.code, strict=True)}


def _postgis_oracle(store) -> dict[str, str]:
    """id -> grid of the new release by PostGIS's ST_Contains over the stored points."""
    grids = synthetic.units(SHIFT).query("level == 'grid'")
    with store.backend.write() as conn:
        conn.exec_driver_sql("CREATE TEMPORARY TABLE new_grids (code text, geom geometry)")
        for code, shape in zip(grids.code, grids.geometry, strict=True):
            conn.exec_driver_sql(
                "INSERT INTO new_grids VALUES (%(c)s, ST_GeomFromText(%(w)s, 4326))",
                {"c": code, "w": shape.wkt},
            )
        rows = conn.exec_driver_sql(
            "SELECT f.id, coalesce(g.code, '') FROM features f "
            "LEFT JOIN new_grids g ON ST_Contains(g.geom, f.geom)"
        ).all()
    return {str(i): str(c) for i, c in rows}


def _counts_equal_recount(store, rows: pd.DataFrame) -> None:
    table = store.count_table()
    for level, column in (("district", "district_code"), ("street", "street_code")):
        kept = table[(table.level == level) & (table.dim == "category")]
        got = {k: int(v) for k, v in kept.groupby(["unit", "value"])["n"].sum().items() if v}
        expected = rows.dropna(subset=[column]).groupby([column, "category"]).size()
        assert got == {k: int(v) for k, v in expected.items()}, level
    kept = table[(table.level == "grid") & (table.dim == "category")]
    got = {k: int(v) for k, v in kept.groupby("unit")["n"].sum().items() if v}
    expected = rows.assign(grid=rows.grid_code.fillna("")).groupby("grid").size()
    assert got == {k: int(v) for k, v in expected.items()}


def test_reassigned_grids_equal_contains_and_counts_equal_a_recount(store):
    frame = _spread(240)
    assert store.bulk_import("incidents", frame).accepted == 240
    store.add("incidents", {"id": "live-1", "lon": 113.615, "lat": 34.715, "category": "noise"})
    old = {
        "lon": 113.625,
        "lat": 34.725,
        "category": "noise",
        "reported_at": "2019-05-01T08:00:00Z",
    }
    store.add("incidents", {"id": "live-2", **old})  # partitioned: a month of no partition
    if store.backend.partitioned:
        with store.backend.read() as conn:
            parked = conn.exec_driver_sql(f"SELECT id FROM {partitions.DEFAULT_PARTITION}")
            assert parked.scalars().all() == ["live-2"]
    first = _stored(store).set_index("id").grid_code.fillna("")
    moved = store.reassign(synthetic.locator("g2", SHIFT), batch_size=25)
    rows = _stored(store)
    assert moved == 242 and set(rows.generation) == {"g2"}
    stored = dict(zip(rows.id, rows.grid_code.fillna(""), strict=True))
    assert stored == _contains_oracle(rows)
    if store.backend.name == "postgis":
        assert stored == _postgis_oracle(store)
    assert sum(stored[i] != first[i] for i in stored) > 40  # the release moved many rows
    _counts_equal_recount(store, rows)
    changes = store.changes(after=0, limit=10_000).changes
    assert sorted(c["id"] for c in changes if c["op"] == "reassign") == sorted(rows.id)
    assert store.reassign(synthetic.locator("g2", SHIFT)) == 0  # nothing moves twice


@pytest.mark.postgis
def test_a_partitioned_store_walks_its_months_then_the_rest(tmp_path, locator):
    with backend_store("postgis", tmp_path, locator, partitioned=True) as store:
        store.bulk_import("incidents", _spread(30))
        with store.backend.read() as conn:
            months = sorted(partitions.existing_months(conn))
        assert {202403, 202404, 202405} <= set(months)
        spans = reassign.spans(store)
        assert spans == [*(partitions.month_bounds(m) for m in months), None]


def test_an_unpartitioned_store_is_one_span(tmp_path, locator):
    with backend_store("sqlite", tmp_path, locator) as store:
        assert reassign.spans(store) == [None]


@pytest.mark.postgis
def test_month_reads_of_a_partitioned_store_equal_pandas(tmp_path, locator):
    """A district's statistics and a bbox + month page (the walk) prune to the month and
    still equal pandas over the stored rows (the zone counts with its district's code)."""
    with backend_store("postgis", tmp_path, locator, partitioned=True) as store:
        store.bulk_import("incidents", _spread(300))
        with store.backend.read() as conn:
            rows = pd.read_sql(
                "SELECT id, lon, lat, street_code, district_code, managing_zone, fid, "
                "reported_at FROM features",
                conn,
            )
        since, until = "2024-04-01T00:00:00Z", "2024-04-30T23:59:59Z"
        start, end = (pd.Timestamp(t).value // 1_000_000 for t in (since, until))
        month = rows[rows.reported_at.between(start, end)]
        for code in ("410105", synthetic.ZONE):
            f = FeatureFilter(region=code, since=since, until=until)
            got = {r["street"]: r["count"] for r in store.aggregate("incidents", ["street"], f)}
            inside = month[(month.district_code == code) | (month.managing_zone == code)]
            assert got == inside.groupby("street_code").size().to_dict() and got
        box = (113.605, 34.705, 113.635, 34.735)
        window = FeatureFilter(bbox=box, since=since, until=until)
        page = store.query("incidents", window, limit=20)
        boxed = month[month.lon.between(box[0], box[2]) & month.lat.between(box[1], box[3])]
        assert [i["id"] for i in page.items] == list(boxed.sort_values("fid").id[:20])
