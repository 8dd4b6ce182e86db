"""Region endpoints and hotspots, checked against pandas/shapely/pyproj oracles."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod
from shapely.geometry import shape

from cityaware.api.app import create_app
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.geo.analysis.hotspots import poisson_sf
from tests.api.ogc.conftest import hierarchy, populated, staged, stored_incidents

STREET = "410105001"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return populated(staged(tmp_path_factory.mktemp("regions")))


@pytest.fixture(scope="module")
def client(ctx):
    return TestClient(create_app(ctx=ctx))


@pytest.fixture(scope="module")
def records(ctx) -> pd.DataFrame:
    return stored_incidents(ctx)


def test_region_record_matches_the_units(client):
    units = hierarchy().set_index("code")
    body = client.get(f"/v1/regions/{STREET}").json()
    assert (body["name"], body["level"], body["parent_code"]) == ("街道1", "street", "410105")
    assert body["child_count"] == 2
    assert body["bbox"] == pytest.approx(list(units.loc[STREET, "geometry"].bounds))
    area, _ = Geod(ellps="GRS80").geometry_area_perimeter(units.loc[STREET, "geometry"])
    assert body["area_km2"] == pytest.approx(abs(area) / 1e6, rel=2e-3)
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "geometry", "children", "items", "stats", "up"} <= rels
    grid = client.get("/v1/regions/41010500100101").json()
    assert grid["attributes"]["worker"] == "worker 41010500100101"


def test_functional_zone_is_answered_from_its_streets(client):
    body = client.get("/v1/regions/410171").json()
    assert body["level"] == "zone" and body["child_count"] == 1
    children = client.get("/v1/regions/410171/children").json()
    assert [f["id"] for f in children["features"]] == ["410105002"]


def test_unknown_region_is_a_404_everywhere(client):
    for suffix in ("", "/geometry", "/children", "/features", "/stats"):
        response = client.get(f"/v1/regions/999999{suffix}")
        assert response.status_code == 404, suffix
        assert response.json()["code"] == "NotFound"


def test_geometry_exact_simplified_and_in_epsg4326(client):
    units = hierarchy().set_index("code")
    exact = shape(client.get(f"/v1/regions/{STREET}/geometry").json()["geometry"])
    assert exact.equals(units.loc[STREET, "geometry"])
    simple = shape(client.get(f"/v1/regions/{STREET}/geometry?simplify=200").json()["geometry"])
    assert simple.hausdorff_distance(exact) < 200 / 90_000  # 200 m in degrees, generously
    latlon = client.get(f"/v1/regions/{STREET}/geometry?crs=EPSG:4326").json()["geometry"]
    swapped = shapely.transform(shape(latlon), lambda c: c[:, ::-1])
    assert swapped.equals(exact)
    assert client.get(f"/v1/regions/{STREET}/geometry?simplify=-1").status_code == 400


def test_children_of_each_level(client):
    units = hierarchy()
    for code in ("410105", STREET, "410105001001"):
        got = [f["id"] for f in client.get(f"/v1/regions/{code}/children").json()["features"]]
        assert sorted(got) == sorted(units[units.parent_code == code]["code"])
    assert client.get("/v1/regions/41010500100101/children").json()["features"] == []


def test_features_of_a_region_take_the_items_filters(client, records):
    url = f"/v1/regions/{STREET}/features"
    body = client.get(url, params={"limit": 100}).json()
    assert {f["id"] for f in body["features"]} == set(records[records.street_code == STREET].index)
    noisy = client.get(url, params={"limit": 100, "filter": "category = 'noise'"}).json()
    expected = records[(records.street_code == STREET) & (records.category == "noise")]
    assert noisy["numberMatched"] == len(expected)
    page = client.get(url, params={"limit": 3}).json()
    next_link = next(link for link in page["links"] if link["rel"] == "next")
    assert next_link["href"].startswith("http://testserver/v1/regions/410105001/features?")
    grids = client.get(url, params={"kind": "grids"}).json()
    assert {f["id"] for f in grids["features"]} == {
        c for c in hierarchy().query("level == 'grid'")["code"] if c.startswith(STREET)
    }
    assert client.get(url, params={"kind": "nope"}).status_code == 404


def test_stats_match_pandas(client, records):
    inside = records[records.street_code == STREET]
    body = client.get(f"/v1/regions/{STREET}/stats").json()
    assert body["total"] == len(inside)
    assert body["by_category"] == inside.category.value_counts().to_dict()
    assert body["by_status"] == inside.status.value_counts().to_dict()
    assert body["by_channel"] == inside.channel.value_counts().to_dict()
    local_day = pd.to_datetime(inside.reported_at, utc=True) + pd.Timedelta(hours=8)
    assert body["by_day"] == local_day.dt.strftime("%Y-%m-%d").value_counts().sort_index().to_dict()
    open_cases = inside[inside.status.isin(["received", "dispatched", "in_progress"])]
    top = open_cases.grid_code.value_counts()
    assert {g["grid_code"]: g["open"] for g in body["top_grids_by_open"]} == top.to_dict()
    names = hierarchy().set_index("code")["name"]
    assert all(g["grid_name"] == names[g["grid_code"]] for g in body["top_grids_by_open"])
    closed = inside.status.isin(["resolved", "closed"]).sum()
    assert body["closure_rate"] == pytest.approx(closed / len(inside))
    filtered = client.get(f"/v1/regions/{STREET}/stats", params={"filter": "channel = 'web'"})
    assert filtered.json()["total"] == int((inside.channel == "web").sum())
    cameras = client.get("/v1/regions/410105/stats", params={"kind": "cameras"}).json()
    assert cameras["total"] == 2


def test_on_time_rate_from_the_status_history(tmp_path):
    ctx = populated(staged(tmp_path))
    store = ctx.store
    now = pd.Timestamp.now(tz="UTC")
    fresh = store.add(
        "incidents",
        {
            "lon": 113.61,
            "lat": 34.71,
            "category": "noise",
            "reported_at": (now - pd.Timedelta(hours=2)).isoformat(),
        },
    )
    stale = store.add(
        "incidents",
        {
            "lon": 113.61,
            "lat": 34.72,
            "category": "noise",
            "reported_at": (now - pd.Timedelta(days=10)).isoformat(),
        },
    )
    for feature in (fresh, stale):
        for status in ("dispatched", "in_progress", "resolved"):
            store.update("incidents", feature["id"], {"status": status})
    body = TestClient(create_app(ctx=ctx)).get("/v1/regions/410105/stats").json()
    assert body["on_time"] == {"sla_hours": 72, "resolved_with_history": 2, "on_time": 1,
                               "rate": 0.5}  # fmt: skip


HOT_GRID, STEADY_GRID = "41010500100101", "41010500200101"


def hotspot_context(tmp_path) -> AppContext:
    """Grid HOT: 1 noise case a week, then 8 on 4 days of the last week; STEADY: 3 a week."""
    ctx = AppContext(Settings(data_dir=staged(tmp_path)))
    end = pd.Timestamp("2026-03-01T00:00:00Z")
    rows = []
    for week in range(1, 5):  # baseline: the 4 weeks before the window
        rows.append((113.61, 34.71, end - pd.Timedelta(days=7 * week + 3)))
        rows += [(113.66, 34.71, end - pd.Timedelta(days=7 * week + 1 + 2 * k)) for k in range(3)]
    for day in (1, 2, 4, 6):  # window: 2 cases on each of 4 (local, UTC+8) days
        start = end - pd.Timedelta(days=day)
        rows += [(113.61, 34.71, start + pd.Timedelta(hours=h)) for h in (2, 4)]
    rows += [(113.66, 34.71, end - pd.Timedelta(days=d)) for d in (2, 4, 6)]
    frame = pd.DataFrame(rows, columns=["lon", "lat", "reported_at"])
    frame["reported_at"] = frame["reported_at"].map(lambda t: t.isoformat())
    frame["category"] = "noise"
    ctx.store.bulk_import("incidents", frame, crs="EPSG:4326")
    return ctx


def test_hotspots_flag_the_recurring_grid_not_the_steady_one(tmp_path):
    client = TestClient(create_app(ctx=hotspot_context(tmp_path)))
    body = client.get("/v1/hotspots", params={"end": "2026-03-01", "category": "noise"}).json()
    assert body["window"] == ["2026-02-22T00:00:00Z", "2026-03-01T00:00:00Z"]
    assert body["tested_pairs"] == 2
    hot = {h["grid_code"]: h for h in body["hotspots"]}
    assert set(hot) == {HOT_GRID}
    row = hot[HOT_GRID]
    assert (row["window_count"], row["baseline_count"], row["days_with_cases"]) == (8, 4, 4)
    assert row["expected"] == pytest.approx(4 / 28 * 7)
    assert row["ratio"] == pytest.approx(8 / 1.0)
    assert row["p_value"] == pytest.approx(poisson_sf(8, 1.0))
    one_day = client.get("/v1/hotspots", params={"end": "2026-03-01", "min_days": 5}).json()
    assert one_day["hotspots"] == []
    assert client.get("/v1/hotspots", params={"window_days": 0}).status_code == 400
    assert client.get("/v1/hotspots", params={"end": "soon"}).status_code == 400


def test_hotspots_as_geojson_carry_the_grid_outline(tmp_path):
    client = TestClient(create_app(ctx=hotspot_context(tmp_path)))
    response = client.get("/v1/hotspots", params={"end": "2026-03-01", "f": "geojson"})
    assert response.headers["content-type"] == "application/geo+json"
    features = response.json()["features"]
    assert [f["id"] for f in features] == [f"{HOT_GRID}-noise"]
    outline = hierarchy().set_index("code").loc[HOT_GRID, "geometry"]
    assert shape(features[0]["geometry"]).equals(outline)
    assert features[0]["properties"]["window_count"] == 8
    empty = client.get("/v1/hotspots", params={"end": "2026-03-01", "f": "geojson", "min_days": 9})
    assert empty.json()["features"] == []


def test_region_features_as_html_link_to_the_collection_items(client, records):
    page = client.get(f"/v1/regions/{STREET}/features", params={"f": "html", "limit": 3})
    assert page.headers["content-type"].startswith("text/html")
    first = records[records.street_code == STREET].index[0]
    assert f"http://testserver/collections/incidents/items/{first}?f=html" in page.text
    assert client.get(f"/collections/incidents/items/{first}?f=html").status_code == 200


def test_stats_need_a_feature_kind(client):
    response = client.get(f"/v1/regions/{STREET}/stats", params={"kind": "grids"})
    assert response.status_code == 400
    assert "feature kind" in response.json()["description"]
