"""HTTP semantics every client relies on, over the hostile tests' small demo city: HEAD
wherever GET is (walking every GET route of the app), CORS (preflight and actual requests from
another origin on tiles, the OGC API and /v1/*), ETag / If-None-Match on items."""

from __future__ import annotations

import pytest
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from tests.api.hostile.conftest import ADMIN_KEY
from tests.api.hostile.test_access import concrete, routes

KEY = {"X-API-Key": ADMIN_KEY}
WALL = "https://wall.example"
TILE = "/collections/incidents/tiles/WebMercatorQuad/10/416/843"
READS = (TILE, "/collections/incidents/items", "/collections/grids", "/v1/hotspots")


@pytest.fixture(scope="module")
def city(city_dir) -> AppContext:
    return AppContext(Settings(data_dir=city_dir, admin_key=ADMIN_KEY))


def client_for(city: AppContext, **settings) -> TestClient:
    ctx = AppContext(Settings(data_dir=city.settings.data_dir, admin_key=ADMIN_KEY, **settings))
    return TestClient(create_app(ctx=ctx), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(city):
    return client_for(city)


@pytest.mark.slow
def test_head_answers_wherever_get_does(client):
    checked = []
    for method, path, route in routes(client.app):
        if method != "GET":
            continue
        url = concrete(path)
        head = client.head(url, headers=KEY)
        assert head.content == b"" and head.status_code < 500, (url, head.status_code)
        if route.response_class is StreamingResponse:  # a stream: HEAD ends at once
            assert head.status_code == 200
            assert head.headers["content-type"].startswith("text/event-stream")
            continue
        get = client.get(url, headers=KEY)
        assert head.status_code == get.status_code, url
        assert head.headers.get("content-type") == get.headers.get("content-type"), url
        assert head.headers.get("etag") == get.headers.get("etag"), url
        if "content-length" in get.headers:
            assert head.headers["content-length"] == get.headers["content-length"], url
        checked.append(url)
    assert len(checked) >= 50
    assert client.head("/v1/incidents", headers=KEY).status_code == 405  # POST only


def test_no_cors_unless_configured(client):
    answer = client.get("/collections", headers={"Origin": WALL})
    assert "access-control-allow-origin" not in answer.headers
    preflight = client.options(
        TILE, headers={"Origin": WALL, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize("path", READS)
def test_a_named_origin_passes_preflight_and_reads(city, path):
    client = client_for(city, cors_origins=(WALL,))
    preflight = client.options(
        path,
        headers={
            "Origin": WALL,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-API-Key, If-None-Match",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == WALL
    allowed = {
        h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")
    }
    assert {"x-api-key", "if-none-match"} <= allowed
    actual = client.get(path, headers={"Origin": WALL, **KEY})
    assert actual.status_code == 200, actual.text
    assert actual.headers["access-control-allow-origin"] == WALL
    assert "Origin" in actual.headers["vary"]
    assert "etag" in actual.headers["access-control-expose-headers"].lower()


def test_a_named_origin_may_write_and_others_are_refused(city):
    client = client_for(city, cors_origins=(WALL,))
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "X-API-Key"}
    assert client.options("/v1/incidents", headers={"Origin": WALL, **ask}).status_code == 200
    other = client.options("/v1/incidents", headers={"Origin": "https://evil.example", **ask})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    read = client.get("/collections", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in read.headers


def test_any_origin_reads_only(city):
    client = client_for(city, cors_origins=("*",), public_read=True)
    for path in READS:
        answer = client.get(path, headers={"Origin": "https://anyone.example"})
        assert answer.headers["access-control-allow-origin"] == "*", path
    get = {"Origin": "https://anyone.example", "Access-Control-Request-Method": "GET"}
    assert client.options(TILE, headers=get).status_code == 200
    post = {**get, "Access-Control-Request-Method": "POST"}
    assert client.options("/v1/incidents", headers=post).status_code == 400
    with pytest.raises(ValueError, match="public reads"):
        client_for(city, cors_origins=("*",), public_read=False)


@pytest.mark.parametrize(
    "path", ["/collections/incidents/items?limit=5", "/collections/grids/items?limit=3"]
)
def test_items_carry_an_etag_that_changes_with_the_data(city, client, path):
    first = client.get(path, headers=KEY)
    tag = first.headers["etag"]
    assert tag.startswith('W/"')
    again = client.get(path, headers={**KEY, "If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    other = client.get(path + "&offset=1", headers={**KEY, "If-None-Match": tag})
    assert other.status_code == 200
    html = client.get(path, headers={**KEY, "Accept": "text/html"})
    assert html.headers["etag"] != tag
    one_id = first.json()["features"][0]["id"]
    item_path = path.split("?")[0] + f"/{one_id}"
    item = client.get(item_path, headers=KEY)
    assert (
        client.get(item_path, headers={**KEY, "If-None-Match": item.headers["etag"]}).status_code
        == 304
    )
    if path.startswith("/collections/incidents"):
        city.store.add("incidents", {"lon": 113.65, "lat": 34.75, "category": "noise"})
        changed = client.get(path, headers={**KEY, "If-None-Match": tag})
        assert changed.status_code == 200 and changed.headers["etag"] != tag
