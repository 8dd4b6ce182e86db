"""``GET /v1/changes`` paging, its 400s and 410, and ``/v1/events`` resuming with
Last-Event-ID across a reconnect to a real server (ids are change seqs)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.settings import Settings
from cityaware.api.testing import live_server
from cityaware.geo.engine.locator import GridLocator
from tests.api.service.conftest import ADMIN_KEY
from tests.units import staged

INCIDENT = {"category": "noise", "lon": 113.605, "lat": 34.745, "crs": "WGS84"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, units):
    """A data directory of its own (its feed gets pruned here)."""
    return staged(tmp_path_factory.mktemp("changes-data"), units)


@pytest.fixture(scope="module")
def feed_client(data_dir) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=data_dir, admin_key=ADMIN_KEY))) as client:
        yield client


def post_incident(client: TestClient | httpx.Client, **extra: str) -> str:
    answer = client.post("/v1/incidents", json=INCIDENT | extra, headers={"X-API-Key": ADMIN_KEY})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_pages_follow_the_store_feed(feed_client):
    store = feed_client.app.state.ctx.store
    start = feed_client.get("/v1/changes", params={"latest": "true"}).json()
    assert start == {"next": store.data_version()}
    ids = [post_incident(feed_client, title=f"case {k}") for k in range(5)]
    pages, after = [], start["next"]
    while True:
        body = feed_client.get("/v1/changes", params={"after": after, "limit": 2}).json()
        if not body["changes"]:
            assert body["next"] == after
            break
        assert len(body["changes"]) <= 2 and body["next"] == body["changes"][-1]["seq"]
        pages += body["changes"]
        after = body["next"]
    assert pages == store.changes(start["next"], limit=100).changes
    assert [(c["id"], c["op"]) for c in pages] == [(i, "create") for i in ids]
    grids = [store.get("incidents", i)["grid_code"] for i in ids]
    assert [c["new_grid"] for c in pages] == grids


@pytest.mark.parametrize(
    "params",
    [
        {"after": "9" * 5000},
        {"after": "-1"},
        {"after": "1e3"},
        {"limit": "10001"},
        {"limit": "0"},
        {"latest": "maybe"},
    ],
)
def test_bad_parameters_are_400_json(feed_client, params):
    answer = feed_client.get("/v1/changes", params=params)
    assert answer.status_code == 400
    assert answer.json()["code"] == "InvalidParameterValue"


def test_reads_need_a_key_when_reads_are_not_public(data_dir):
    settings = Settings(data_dir=data_dir, admin_key=ADMIN_KEY, public_read=False)
    client = TestClient(create_app(settings))
    assert client.get("/v1/changes").status_code == 401
    assert client.get("/v1/changes", headers={"X-API-Key": ADMIN_KEY}).status_code == 200


@pytest.mark.parametrize("where", ["query", "header"])
@pytest.mark.parametrize("bad", ["junk", "1764136800000-incidents-ab12", "9" * 5000])
def test_a_malformed_last_event_id_is_400_json(feed_client, where, bad):
    if where == "query":
        answer = feed_client.get("/v1/events", params={"last_event_id": bad})
    else:
        answer = feed_client.get("/v1/events", headers={"Last-Event-ID": bad})
    assert answer.status_code == 400 and "Last-Event-ID" in answer.json()["description"]


def test_a_pruned_seq_is_410(feed_client):
    store = feed_client.app.state.ctx.store
    post_incident(feed_client)
    store.prune_changes(now=10**15)  # far future: every change is older than the retention
    answer = feed_client.get("/v1/changes", params={"after": 0})
    assert answer.status_code == 410 and answer.json()["code"] == "Gone"
    assert "latest=true" in answer.json()["description"]
    latest = feed_client.get("/v1/changes", params={"latest": "true"}).json()["next"]
    assert feed_client.get("/v1/changes", params={"after": latest}).json()["changes"] == []


def read_events(lines: Iterator[str], count: int) -> list[tuple[str, str, dict]]:
    """The next ``count`` server-sent events of a stream's lines as (id, type, data)."""
    events, fields = [], {}
    for line in lines:
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if "event" in fields:
            events.append((fields["id"], fields["event"], json.loads(fields["data"])))
        fields = {}
        if len(events) == count:
            return events
    raise AssertionError(f"the stream ended after {events}")


def test_events_resume_after_a_reconnect_with_last_event_id(data_dir):
    with live_server(data_dir, {"CITYAWARE_ADMIN_KEY": ADMIN_KEY}) as url:
        client = httpx.Client(base_url=url, timeout=10)
        with client.stream("GET", "/v1/events") as stream:
            lines = stream.iter_lines()
            ((hello_id, kind, _),) = read_events(lines, 1)
            assert kind == "hello"
            first = post_incident(client)
            ((seen_id, kind, data),) = read_events(lines, 1)
        assert (kind, data["id"]) == ("incident", first) and int(seen_id) > int(hello_id)

        # missed while disconnected: a new incident and a status change of the first
        second = post_incident(client)
        patched = client.patch(
            f"/v1/incidents/{first}", json={"status": "dispatched"},
            headers={"X-API-Key": ADMIN_KEY},
        )  # fmt: skip
        assert patched.status_code == 200
        oracle = client.get("/v1/changes", params={"after": seen_id}).json()["changes"]
        with client.stream("GET", "/v1/events", headers={"Last-Event-ID": seen_id}) as stream:
            hello, *missed = read_events(stream.iter_lines(), 3)
        assert hello[:2] == (seen_id, "hello")
        assert [(e[1], e[2]["id"]) for e in missed] == [
            ("incident", second),
            ("incident-status", first),
        ]
        assert [e[0] for e in missed] == [str(c["seq"]) for c in oracle]
        assert missed[1][2]["status"] == "dispatched"
        with client.stream("GET", "/v1/events", params={"last_event_id": hello_id}) as stream:
            replay = read_events(stream.iter_lines(), 4)[1:]
        assert [e[2]["id"] for e in replay] == [first, second, first]


def test_an_incident_post_locates_once_and_stores_that_answer(feed_client, monkeypatch):
    ctx = feed_client.app.state.ctx
    located = []
    real_locate = GridLocator.locate

    def counting_locate(self, *args, **kwargs):
        located.append(real_locate(self, *args, **kwargs))
        return located[-1]

    def no_second_locator():
        raise AssertionError("the store located the point again")

    monkeypatch.setattr(GridLocator, "locate", counting_locate)
    monkeypatch.setattr(ctx.store, "_locator", no_second_locator)
    incident = ctx.store.get("incidents", post_incident(feed_client))
    (location,) = located
    assert (incident["grid_code"], incident["generation"]) == (
        location.grid_code,
        location.generation,
    )
    assert (incident["lon"], incident["lat"]) == (location.lon, location.lat)
