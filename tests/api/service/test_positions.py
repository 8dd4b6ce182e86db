"""POST /v1/positions and /v1/fences: tracks, grid changes, Tile38 detects, hysteresis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer

from cityaware.api.app import create_app
from cityaware.api.settings import Settings
from cityaware.geo.boundaries.generations import BoundaryRegistry
from tests.api.service.conftest import ADMIN_KEY, covering_grids, synthetic_units

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
GRID_1 = "410105001001001"  # box(113.60, 34.74, 113.61, 34.76)
TO_METRES = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)


def iso(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def positions(kind, oid, points, t0=0, step=10):
    return [
        {"id": oid, "kind": kind, "lon": lon, "lat": lat, "crs": "WGS84", "at": iso(t0 + n * step)}
        for n, (lon, lat) in enumerate(points)
    ]


def post(client, key, items):
    return client.post("/v1/positions", json={"positions": items}, headers={"X-API-Key": key})


def fence(client, key, **body):
    answer = client.post("/v1/fences", json=body, headers={"X-API-Key": key})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def events_of(client, fence_id, oid):
    events = client.get(f"/v1/fences/{fence_id}/events").json()["events"]
    return [e for e in events if e["object_id"] == oid]


def oracle_sides(polygon, points, min_m):
    """Independent oracle: the confirmed side along a path, with distances to the edge
    measured in Gauss-Krüger metres (EPSG:4547), a change counting only min_m deep."""
    metric = shapely.transform(polygon, lambda c: np.column_stack(TO_METRES.transform(*c.T)))
    inside, out = False, []
    for lon, lat in points:
        p = shapely.Point(TO_METRES.transform(lon, lat))
        raw = metric.covers(p)
        if raw != inside and metric.exterior.distance(p) >= min_m:
            inside = raw
            out.append("enter" if raw else "exit")
    return out


def test_jitter_along_an_edge_does_not_flap(client, role_keys):
    key = role_keys["service"]
    fid = fence(
        client, key, region=GRID_1, detect=["enter", "exit"], kinds=["worker"], min_distance_m=20
    )
    oid = f"w-{uuid.uuid4().hex[:6]}"
    rng = np.random.default_rng(3)
    jitter = 113.61 + rng.uniform(-5, 5, 40) / 92_000  # ±5 m across the east edge
    along = [(x, 34.745 + n * 0.0002) for n, x in enumerate(jitter)]
    path = along[:20] + [(113.605, 34.75)] + along[20:] + [(113.615, 34.755)]
    answer = post(client, key, positions("worker", oid, path))
    assert answer.status_code == 200, answer.text
    got = [e["detect"] for e in events_of(client, fid, oid)]
    polygon = shapely.box(113.60, 34.74, 113.61, 34.76)
    assert got == oracle_sides(polygon, path, 20) == ["enter", "exit"]
    event = events_of(client, fid, oid)[0]
    assert event["key"] == "worker" and event["fence"] == fid
    assert event["object"]["coordinates"] == [113.605, 34.75] and event["time"] == iso(200)
    # other kinds are not watched
    post(client, key, positions("vehicle", oid, [(113.605, 34.75)]))
    assert [e["key"] for e in events_of(client, fid, oid)] == ["worker", "worker"]


def test_cross_inside_and_dwell(client, role_keys):
    key = role_keys["service"]
    polygon = {
        "type": "Polygon",
        "coordinates": [
            [
                [113.622, 34.742],
                [113.624, 34.742],
                [113.624, 34.744],
                [113.622, 34.744],
                [113.622, 34.742],
            ]
        ],
    }
    crossing = fence(
        client, key, geometry=polygon, detect=["cross", "inside", "enter"], min_distance_m=0
    )
    dwell = fence(
        client, key, geometry=polygon, detect=["enter"], min_distance_m=10_000, dwell_s=60
    )
    oid = f"d-{uuid.uuid4().hex[:6]}"
    post(client, key, positions("drone", oid, [(113.620, 34.743), (113.626, 34.743)]))
    assert [e["detect"] for e in events_of(client, crossing, oid)] == ["cross"]
    post(client, key, positions("drone", oid, [(113.623, 34.743)] * 3, t0=100, step=40))
    assert [e["detect"] for e in events_of(client, crossing, oid)] == [
        "cross",
        "enter",
        "inside",
        "inside",
    ]
    # dwell: first seen inside at t=100, confirmed at t=180 (>= 60 s later), not before
    assert [(e["detect"], e["time"]) for e in events_of(client, dwell, oid)] == [
        ("enter", iso(180))
    ]


def test_tracks_current_positions_and_grid_changes_in_the_feed(client, role_keys, grids):
    key = role_keys["service"]
    oid = f"v-{uuid.uuid4().hex[:6]}"
    path = [(113.605, 34.745), (113.606, 34.746), (113.615, 34.745), (113.635, 34.775)]
    latest = client.get("/v1/changes?latest=true").json()["next"]
    report = post(client, key, positions("vehicle", oid, path)).json()
    assert report["grid_changes"] == 3  # first sighting, then two grid changes
    expected = [covering_grids(grids, lon, lat)[0] for lon, lat in path]
    changes = client.get(f"/v1/changes?after={latest}").json()["changes"]
    moves = [(c["old_grid"], c["new_grid"]) for c in changes if c["id"] == f"vehicle:{oid}"]
    assert moves == [(None, expected[0]), (expected[1], expected[2]), (expected[2], expected[3])]
    track = client.get(f"/v1/objects/vehicle/{oid}/track").json()["features"][0]
    assert track["geometry"]["coordinates"] == [list(p) for p in path]
    assert track["properties"]["grids"] == expected
    part = client.get(
        f"/v1/objects/vehicle/{oid}/track", params={"start": iso(10), "end": iso(20)}
    ).json()["features"][0]
    assert part["properties"]["times"] == [iso(10), iso(20)]
    now = [
        f
        for f in client.get("/v1/objects?kind=vehicle").json()["features"]
        if f["properties"]["id"] == oid
    ]
    assert now[0]["properties"]["grid_code"] == expected[-1]
    # a replay changes nothing; an older position is track only
    before = client.get("/v1/changes?latest=true").json()["next"]
    assert post(client, key, positions("vehicle", oid, path)).json()["moved"] == 0
    assert client.get("/v1/changes?latest=true").json()["next"] == before


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"lon": 113.605, "lat": 34.745, "crs": "EPSG:4547"}, "outside every grid"),
        ({"lon": 113.605, "lat": 34.745, "crs": "EPSG:999999"}, "unknown CRS"),
        ({"lon": 34.745, "lat": 113.605, "crs": "WGS84"}, "latitude"),
        ({"lon": 113.605, "lat": 34.745}, "crs is required"),
        ({"lon": 113.605, "lat": 34.745, "crs": "WGS84", "speed": 3}, "must be an object"),
    ],
)
def test_bad_positions_are_400_and_write_nothing(client, role_keys, item, words):
    oid = f"x-{uuid.uuid4().hex[:6]}"
    good = positions("worker", oid, [(113.605, 34.745)])[0]
    bad = {"id": oid, "kind": "worker", "at": iso(5), **item}
    answer = post(client, role_keys["service"], [good, bad])
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["description"]
    assert client.get(f"/v1/objects/worker/{oid}/track").status_code == 404


def test_bad_fences_are_400(client, role_keys):
    key = {"X-API-Key": role_keys["service"]}
    line = {"type": "LineString", "coordinates": [[113.6, 34.7], [113.7, 34.8]]}
    assert client.post("/v1/fences", json={"geometry": line}, headers=key).status_code == 400
    assert (
        client.post(
            "/v1/fences", json={"region": GRID_1, "detect": ["near"]}, headers=key
        ).status_code
        == 400
    )
    assert client.post("/v1/fences", json={"region": "999"}, headers=key).status_code == 404
    assert client.post("/v1/fences", json={"region": GRID_1}).status_code == 401


@pytest.fixture
def own_city(tmp_path):
    """An app over its own data directory (this test activates a new generation)."""
    units = synthetic_units()
    registry = BoundaryRegistry(tmp_path / "boundaries")
    registry.activate(registry.stage(units, source="synthetic"))
    app = create_app(Settings(data_dir=tmp_path, admin_key=ADMIN_KEY))
    with TestClient(app) as client:
        yield app, client, units


def test_a_region_fence_follows_a_new_generation(own_city):
    app, client, units = own_city
    key = ADMIN_KEY
    fid = fence(client, key, region=GRID_1, detect=["enter", "exit"], min_distance_m=20)
    post(client, key, positions("worker", "w1", [(113.607, 34.75)]))
    assert [e["detect"] for e in events_of(client, fid, "w1")] == ["enter"]
    # the new generation shrinks grid 1 to its western half; grid 3 takes the rest
    new = units.copy()
    grid_3 = GRID_1[:-1] + "3"
    new.loc[new.code == GRID_1, "geometry"] = shapely.box(113.60, 34.74, 113.605, 34.76)
    new.loc[new.code == grid_3, "geometry"] = shapely.box(113.605, 34.74, 113.62, 34.76)
    registry = app.state.ctx.registry
    registry.activate(registry.stage(new, source="synthetic v2"))
    post(client, key, positions("worker", "w1", [(113.607, 34.75)], t0=30))
    assert [e["detect"] for e in events_of(client, fid, "w1")] == ["enter", "exit"]
    now = client.get("/v1/objects?kind=worker").json()["features"][0]["properties"]
    assert now["grid_code"] == grid_3


def test_fence_events_reach_the_event_stream(app, client, role_keys):
    from cityaware.api.service.event_stream import EventCursor

    ctx = app.state.ctx
    key = role_keys["service"]
    fid = fence(client, key, region=GRID_1[:-1] + "2", detect=["enter"], min_distance_m=0)
    cursor = EventCursor(ctx.store, None, ctx.live_feed.sse_events)
    oid = f"e-{uuid.uuid4().hex[:6]}"
    post(client, key, positions("worker", oid, [(113.605, 34.77)]))
    events = [e for e in cursor.poll() if e.type == "fence-enter"]
    assert [(e.data["fence"], e.data["object_id"]) for e in events] == [(fid, oid)]
