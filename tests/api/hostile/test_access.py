"""Every route of the app declares its access, and none answers 2xx without a key when
reads are locked (besides the deliberate public ones); a wrong key is refused everywhere,
also when reads are public; guessing keys is rate-limited per client."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.service.auth import app_routes, route_permissions
from cityaware.api.settings import Settings
from tests.api.hostile.conftest import ADMIN_KEY

#: routes anyone may call even when reads are locked: no data in them
PUBLIC = {
    "GET /healthz",
    "GET /",
    "GET /conformance",
    "GET /api",
    "GET /api.html",
    "GET /map",
    "GET /map/kiosk",
    "GET /static/{path:path}",
    "OPTIONS /collections/{collectionId}/items",  # which methods a collection takes
    "OPTIONS /collections/{collectionId}/items/{featureId}",
}
SAMPLE = {
    "code": "410105",
    "collectionId": "incidents",
    "featureId": "INC-0000001",
    "incident_id": "INC-0000001",
    "service_request_id": "INC-0000001",
    "id": "INC-0000001",
    "layer": "grids",
    "z": "10",
    "x": "843",
    "y": "416",
    "service_code": "noise",
    "path:path": "wall.js",
    "generation": "g0001",
    "format": "geojson",
    "tileMatrixSetId": "WebMercatorQuad",
    "tileMatrix": "10",
    "tileRow": "416",
    "tileCol": "843",
}


def routes(app) -> list[tuple]:
    found = []
    for route in app_routes(app):
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, route.path, route))
    return found


def concrete(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: SAMPLE.get(m.group(1), "x"), path)


@pytest.fixture(scope="module")
def locked(city_dir):
    settings = Settings(data_dir=city_dir, admin_key=ADMIN_KEY, public_read=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def open_app(city_dir):
    settings = Settings(data_dir=city_dir, admin_key=ADMIN_KEY, public_read=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_every_route_declares_its_access_once(locked):
    undeclared = [f"{m} {p}" for m, p, r in routes(locked.app) if not route_permissions(r)]
    assert not undeclared
    public = {f"{m} {p}" for m, p, r in routes(locked.app) if route_permissions(r) == {"public"}}
    assert public == PUBLIC


def test_locked_reads_answer_nothing_without_a_key(locked):
    opened = []
    for method, path, _ in routes(locked.app):
        name = f"{method} {path}"
        answer = locked.request(method, concrete(path), json={} if method != "GET" else None)
        if name in PUBLIC:
            assert answer.status_code < 500, name
        elif 200 <= answer.status_code < 300 or answer.status_code != 401:
            opened.append(f"{name}: {answer.status_code}")
    assert not opened
    with_key = locked.get("/collections/incidents/items", headers={"X-API-Key": ADMIN_KEY})
    assert with_key.status_code == 200


@pytest.mark.parametrize("fixture", ["locked", "open_app"])
def test_a_wrong_key_is_refused_on_every_route(request, fixture):
    client = request.getfixturevalue(fixture)
    client.app.state.ctx.access.failures._buckets.clear()
    for method, path, _ in routes(client.app):
        answer = client.request(
            method,
            concrete(path),
            headers={"X-API-Key": "ca_wrong"},
            json={} if method != "GET" else None,
        )
        assert answer.status_code in (401, 429), f"{method} {path}: {answer.status_code}"
        kind = "text/xml" if path.endswith(".xml") else "application/json"  # Open311's XML
        assert answer.headers["content-type"].startswith(kind), f"{method} {path}"


def test_guessing_keys_is_rate_limited_per_client(open_app):
    limiter = open_app.app.state.ctx.access.failures
    limiter._buckets.clear()
    limiter.rate = 0.01  # one failure back per 100 s: none refills during the test
    codes = [
        open_app.get("/v1/changes", headers={"X-API-Key": f"ca_guess{i}"}).status_code
        for i in range(limiter.burst + 5)
    ]
    assert codes[: limiter.burst] == [401] * limiter.burst
    assert set(codes[limiter.burst :]) == {429}
    refused = open_app.get("/v1/changes", headers={"X-API-Key": ADMIN_KEY})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert open_app.get("/v1/changes").status_code == 200  # keyless public reads go on
    assert len(limiter._buckets) <= limiter.max_clients
