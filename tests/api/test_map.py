"""Map-wall HTTP routes against the demo city: tiles decoded with mapbox_vector_tile,
counts checked against the store's own aggregates, events against store writes."""

from __future__ import annotations

import gzip
import json
import re

import mapbox_vector_tile
import mercantile
import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.service.event_stream import EventCursor
from cityaware.api.testing import demo_city
from cityaware.layers.tiles import BIN_PX, EXTENT

CENTRE = (113.65, 34.75)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    ctx = demo_city(tmp_path_factory.mktemp("city"))
    return ctx, TestClient(create_app(ctx=ctx))


def decode(response) -> dict:
    return mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})


def test_pages_reference_only_our_origin(city):
    _, client = city
    for path in ("/map", "/map/kiosk"):
        html = client.get(path).text
        assert "http://" not in html and "https://" not in html
        assert "/static/leaflet/leaflet.js" in html and "CityWall.start" in html
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', client.get("/map").text)
    assert len(assets) >= 5
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
        vendored = asset.split("/")[2]
        if vendored.startswith("leaflet"):
            assert client.get(f"/static/{vendored}/LICENSE").status_code == 200
    assert client.get("/static/../../api/app.py").status_code == 404


def test_grid_tile_holds_the_grids_the_units_frame_says(city):
    ctx, client = city
    tile = mercantile.tile(*CENTRE, 12)
    response = client.get(f"/tiles/grids/12/{tile.x}/{tile.y}.mvt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    codes = {f["properties"]["code"] for f in decode(response)["grids"]["features"]}
    grids = ctx.registry.units(level="grid")
    west, south, east, north = mercantile.bounds(tile)
    inside = grids.cx[west:east, south:north]
    assert codes <= set(grids["code"]) and len(codes) >= len(inside) * 0.95


def test_tile_etag_gzip_and_errors(city):
    _, client = city
    tile = mercantile.tile(*CENTRE, 11)
    url = f"/tiles/boundaries/11/{tile.x}/{tile.y}.mvt"
    raw = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip" and "max-age" in raw.headers["cache-control"]
    assert client.get(url, headers={"If-None-Match": raw.headers["etag"]}).status_code == 304
    assert set(decode(raw)) >= {"districts", "streets"}
    assert client.get("/tiles/roads/1/0/0.mvt").status_code == 404
    assert client.get("/tiles/grids/3/9/0.mvt").status_code == 400
    assert client.get("/tiles/incidents/3/0/0.mvt?window=2y").status_code == 400


def test_low_zoom_bins_count_every_point_under_the_cap(city):
    ctx, client = city
    total = 0
    for tile in mercantile.tiles(112.7, 34.2, 114.25, 35.0, [9]):
        response = client.get(f"/tiles/sensors/9/{tile.x}/{tile.y}.mvt")
        if response.content:
            feats = decode(response)["sensors"]["features"]
            assert len(feats) <= (EXTENT // BIN_PX) ** 2 and all(
                f["properties"]["cluster"] for f in feats
            )
            total += sum(f["properties"]["count"] for f in feats)
    assert total == ctx.store.count("sensors")


def test_grid_counts_match_store_aggregate(city):
    ctx, client = city
    body = client.get("/map/api/grid-counts?window=all&status=open").json()
    oracle = ctx.store.aggregate(
        "incidents", ["grid"], _filter(status=["received", "dispatched", "in_progress"])
    )
    assert {k: v["total"] for k, v in body["counts"].items()} == {
        r["grid"]: r["count"] for r in oracle if r["grid"]
    }


def test_grid_detail_has_chain_and_worker(city):
    ctx, client = city
    grid = ctx.registry.units(level="grid").iloc[7]
    body = client.get(f"/map/api/grids/{grid['code']}").json()
    assert [u["level"] for u in body["chain"]] == [
        "city",
        "district",
        "street",
        "community",
        "grid",
    ]
    assert body["chain"][-2]["code"] == grid["parent_code"]
    assert body["attributes"]["worker"] == json.loads(grid["attributes"])["worker"]
    assert client.get("/map/api/grids/nope").status_code == 404


def test_new_incident_invalidates_its_tile_and_is_an_event(city):
    ctx, client = city
    cursor = EventCursor(ctx.store)
    lon, lat = 113.7001, 34.7702
    tile = mercantile.tile(lon, lat, 16)
    url = f"/tiles/incidents/16/{tile.x}/{tile.y}.mvt?window=1h"
    before = client.get(url)
    record = ctx.store.add("incidents", {"lon": lon, "lat": lat, "category": "noise"})
    ctx.map_layers.refresh_seconds = 0
    after = client.get(url)
    assert after.headers["etag"] != before.headers["etag"]
    ids = [f["properties"].get("id") for f in decode(after)["incidents"]["features"]]
    assert record["id"] in ids
    events = cursor.poll()
    assert [(e.type, e.data["id"]) for e in events] == [("incident", record["id"])]
    assert events[0].data["grid_code"] == record["grid_code"]
    # the event id is the write's change seq
    seq = int(events[0].id)
    change = ctx.store.changes(seq - 1, limit=1).changes[0]
    assert (change["seq"], change["id"], change["op"]) == (seq, record["id"], "create")
    # a client resuming from just before the write catches up; a later write is a status event
    resumed = EventCursor(ctx.store, str(seq - 1))
    assert [e.data["id"] for e in resumed.poll()] == [record["id"]]
    ctx.store.update("incidents", record["id"], {"status": "dispatched"})
    assert [e.type for e in cursor.poll()] == ["incident-status"]


def test_sensor_alarm_is_an_event(city):
    ctx, _ = city
    cursor = EventCursor(ctx.store)
    sensor = ctx.store.query("sensors", _filter(device_kind="smoke"), limit=1).items[0]
    ctx.store.update("sensors", sensor["id"], {"reading_value": sensor["alarm_high"] + 1})
    events = cursor.poll()
    assert [(e.type, e.data["id"]) for e in events] == [("sensor-alarm", sensor["id"])]
    # a reading back to normal is not an alarm
    ctx.store.update("sensors", sensor["id"], {"reading_value": sensor["alarm_high"] - 1})
    assert cursor.poll() == []


def test_heat_is_binned_and_bounded(city):
    _, client = city
    body = client.get("/map/api/heat?bbox=112.7,34.2,114.3,35.0&zoom=10&window=all").json()
    assert 0 < len(body["points"]) <= 4000
    assert client.get("/map/api/heat?bbox=1,2,0,3&zoom=3").status_code == 400


def test_locate_by_coordinates(city):
    _, client = city
    body = client.get("/map/api/locate", params={"q": "113.65, 34.75 WGS84"}).json()
    assert body["grid_code"] and body["lon"] == pytest.approx(113.65)


def _filter(**kwargs):
    from cityaware.geo.store.filters import FeatureFilter

    return FeatureFilter(**kwargs)


def test_gzip_body_is_a_tile(city):
    _, client = city
    tile = mercantile.tile(*CENTRE, 10)
    with client.stream("GET", f"/tiles/grids/10/{tile.x}/{tile.y}.mvt") as response:
        body = b"".join(response.iter_raw())
    assert mapbox_vector_tile.decode(gzip.decompress(body))["grids"]["features"]


def test_basemap_url_from_the_environment(city, monkeypatch):
    ctx, _ = city
    monkeypatch.setenv("CITYAWARE_BASEMAP_URL", "/basemap/{z}/{x}/{y}.png")
    html = TestClient(create_app(ctx=ctx)).get("/map").text
    assert '"basemapUrl": "/basemap/{z}/{x}/{y}.png"' in html
