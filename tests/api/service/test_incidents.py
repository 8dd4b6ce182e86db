"""POST/GET/PATCH /v1/incidents and GET /v1/nearest through HTTP, against shapely/pyproj."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from cityaware.api.service.routing import DutyList
from cityaware.geo.crs import from_lonlat
from tests.api.service.conftest import covering_grids

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def cameras(app):
    """A line of cameras across the synthetic city (every other one offline)."""
    store = app.state.ctx.store
    rng = np.random.default_rng(5)
    placed = []
    for i, (lon, lat) in enumerate(
        zip(rng.uniform(113.60, 113.64, 40), rng.uniform(34.74, 34.78, 40), strict=True)
    ):
        record = {
            "id": f"cam-{i:02d}",
            "lon": lon,
            "lat": lat,
            "name": f"C{i}",
            "online": i % 2 == 0,
        }
        store.add("cameras", record)
        placed.append(record)
    for i in range(5):
        store.add("sensors", {"id": f"sen-{i}", "lon": 113.601 + i * 0.005, "lat": 34.741})
    return placed


def geodesic(lon, lat, records):
    _, _, d = GEOD.inv(
        [lon] * len(records),
        [lat] * len(records),
        [r["lon"] for r in records],
        [r["lat"] for r in records],
    )
    return dict(zip((r["id"] for r in records), d, strict=True))


def post(client, key, body, idempotency_key=None):
    headers = {"X-API-Key": key}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return client.post("/v1/incidents", json=body, headers=headers)


def test_an_incident_in_gcj02_is_pinned_routed_and_shows_the_nearest_cameras(
    client, role_keys, grids, cameras, staged_dir
):
    lon, lat = 113.635, 34.77  # east street: zone 410172
    x, y = from_lonlat(lon, lat, "GCJ02")
    answer = post(
        client,
        role_keys["service"],
        {"category": "manhole_cover", "lon": float(x), "lat": float(y), "crs": "GCJ02"},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["grid"]["code"] == covering_grids(grids, lon, lat)[0]
    levels = ["grid", "community", "street", "district", "city"]
    assert [a["level"] for a in body["chain"]] == levels
    assert body["location"]["wgs84"] == pytest.approx([lon, lat], abs=1e-7)
    expected = DutyList.load(staged_dir).route("manhole_cover", "410105", "410172")
    assert body["routing"] == expected.as_dict() and body["routing"]["rule"]["id"] == "R012"
    distances = geodesic(lon, lat, cameras)
    nearest = sorted(distances, key=distances.get)[:5]
    assert [c["id"] for c in body["nearest_cameras"]] == nearest
    assert body["nearest_cameras"][0]["distance_m"] == pytest.approx(
        distances[nearest[0]], abs=0.01
    )
    again = client.get(f"/v1/incidents/{body['id']}").json()
    assert again["grid"] == body["grid"] and again["history"][0]["to"] == "received"


def test_an_incident_on_a_boundary_carries_the_candidates_and_the_default_rule(
    client, role_keys, grids
):
    lon, lat = 113.61, 34.77
    body = post(
        client, role_keys["ops"], {"category": "other", "lon": lon, "lat": lat, "crs": "WGS84"}
    ).json()
    covering = covering_grids(grids, lon, lat)
    assert body["on_boundary"] is True and body["grid"]["code"] == covering[0]
    assert [c["code"] for c in body["candidates"]] == covering[1:]
    assert body["routing"]["rule"]["default"] is True


def test_an_incident_outside_every_grid_is_kept_with_its_nearest_grid(client, role_keys, grids):
    lon, lat = 113.643, 34.77  # ~275 m east of the city's last grid
    answer = post(
        client, role_keys["service"], {"category": "noise", "lon": lon, "lat": lat, "crs": "WGS84"}
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["outside"] is True and body["grid"] is None and body["chain"] is None
    metric = grids.to_crs(4547)
    point = shapely.Point(*Transformer.from_crs(4326, 4547, always_xy=True).transform(lon, lat))
    distances = metric.geometry.distance(point)
    assert body["nearest_grid"]["grid"]["code"] == metric.loc[distances.idxmin(), "code"]
    assert body["nearest_grid"]["distance_m"] == pytest.approx(distances.min(), abs=0.5)
    assert body["routing"]["rule"]["id"] == "R105"  # no district known: the category rule


def test_an_incident_by_address(client, role_keys, grids):
    body = post(
        client, role_keys["service"], {"category": "noise", "address": "金水区街道1社区1网格1-2"}
    ).json()
    assert body["grid"]["code"] == grids.loc[grids["name"] == "网格1-2", "code"].item()
    vague = post(client, role_keys["service"], {"category": "noise", "address": "金水区街道1"})
    assert vague.status_code == 422


def test_idempotency_key_returns_the_same_incident_and_refuses_another_body(client, role_keys):
    key = uuid.uuid4().hex
    body = {"category": "street_light", "lon": 113.605, "lat": 34.745, "crs": "WGS84"}
    first = post(client, role_keys["service"], body, key)
    second = post(client, role_keys["service"], body, key)
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    other = post(client, role_keys["service"], body | {"description": "another"}, key)
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["description"]
    listed = client.get(
        "/open311/v2/requests.json", params={"service_request_id": first.json()["id"]}
    )
    assert len(listed.json()) == 1


def test_status_follows_the_lifecycle_and_illegal_transitions_are_409(client, role_keys):
    body = {"category": "drainage", "lon": 113.625, "lat": 34.745, "crs": "WGS84"}
    incident = post(client, role_keys["service"], body).json()
    path, ops = f"/v1/incidents/{incident['id']}", {"X-API-Key": role_keys["ops"]}
    refused = client.patch(path, json={"status": "closed"}, headers=ops)
    assert refused.status_code == 409
    assert "received -> closed" in refused.json()["description"]
    for status in ("dispatched", "in_progress", "resolved", "closed"):
        answer = client.patch(path, json={"status": status, "note": f"now {status}"}, headers=ops)
        assert answer.status_code == 200 and answer.json()["status"] == status
    history = client.get(path).json()["history"]
    assert [h["to"] for h in history] == [
        "received",
        "dispatched",
        "in_progress",
        "resolved",
        "closed",
    ]
    assert history[-1]["note"] == "now closed"
    assert client.patch(path, json={"status": "flying"}, headers=ops).status_code == 400
    assert client.patch(path, json={}, headers=ops).status_code == 400
    assert client.get("/v1/incidents/no-such-id").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"category": "noise", "lon": 113.61, "lat": 34.75},  # no crs
        {"category": "noise"},  # no place
        {"category": "volcano", "lon": 113.61, "lat": 34.75, "crs": "WGS84"},
        {"category": "noise", "lon": 34.75, "lat": 113.61, "crs": "WGS84"},  # swapped
        {"category": "noise", "lon": 113.61, "lat": 34.75, "crs": "WGS84", "colour": "red"},
    ],
)
def test_bad_incidents_are_400_and_nothing_is_stored(client, role_keys, app, body):
    store = app.state.ctx.store
    before = store.count("incidents")
    answer = post(client, role_keys["service"], body)
    assert answer.status_code == 400, answer.text
    assert store.count("incidents") == before


def test_nearest_k_online_cameras_in_bd09_match_geodesic_distances(client, cameras):
    lon, lat = 113.62, 34.76
    x, y = from_lonlat(lon, lat, "BD09")
    params = {
        "lon": float(x),
        "lat": float(y),
        "crs": "BD09",
        "kind": "cameras",
        "k": 4,
        "online": True,
    }
    body = client.get("/v1/nearest", params=params).json()
    online = [c for c in cameras if c["online"]]
    distances = geodesic(lon, lat, online)
    assert [f["id"] for f in body["features"]] == sorted(distances, key=distances.get)[:4]
    for feature in body["features"]:
        assert feature["distance_m"] == pytest.approx(distances[feature["id"]], abs=0.05)
        assert feature["online"] is True


def test_all_within_a_radius_and_around_an_incident(client, role_keys, cameras):
    lon, lat = 113.605, 34.745
    body = client.get(
        "/v1/nearest", params={"lon": lon, "lat": lat, "crs": "WGS84", "radius_m": 1500}
    ).json()
    expected = {k for k, d in geodesic(lon, lat, cameras).items() if d <= 1500}
    sensors = [{"id": f"sen-{i}", "lon": 113.601 + i * 0.005, "lat": 34.741} for i in range(5)]
    expected |= {k for k, d in geodesic(lon, lat, sensors).items() if d <= 1500}
    assert {f["id"] for f in body["features"]} == expected
    incident = post(
        client, role_keys["service"], {"category": "noise", "lon": lon, "lat": lat, "crs": "WGS84"}
    ).json()
    around = client.get("/v1/nearest", params={"incident": incident["id"], "radius_m": 1500}).json()
    assert {f["id"] for f in around["features"]} == expected
    assert (
        client.get(
            "/v1/nearest", params={"kind": "drones", "lon": lon, "lat": lat, "crs": "WGS84"}
        ).status_code
        == 400
    )


def test_an_oversized_incident_body_is_413(client, role_keys):
    body = b'{"category": "noise", "description": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    answer = client.post(
        "/v1/incidents",
        content=body,
        headers={"X-API-Key": role_keys["service"], "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
