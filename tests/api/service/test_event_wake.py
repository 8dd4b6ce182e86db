"""A commit of this process wakes ``/v1/events`` at once: with the feed's poll set to
30 s, a POSTed incident's event still arrives (the read times out well before a poll
would run), over a real server; a failed write tells no one."""

from __future__ import annotations

import httpx
import pytest

from cityaware.api.context import AppContext
from cityaware.api.routes import events
from cityaware.api.settings import Settings
from cityaware.api.testing import ThreadedServer
from tests.api.service.conftest import ADMIN_KEY
from tests.api.service.test_changes_http import post_incident, read_events

POLL_SECONDS = 30.0  # longer than the read below waits: only a wake-up can deliver in time
READ_SECONDS = 12.0


@pytest.fixture()
def server(staged_dir, monkeypatch):
    monkeypatch.setattr(events, "POLL_SECONDS", POLL_SECONDS)
    served = ThreadedServer(AppContext(Settings(data_dir=staged_dir, admin_key=ADMIN_KEY)))
    yield served
    served.stop()


def test_a_commit_wakes_the_stream_although_the_poll_is_slow(server):
    timeout = httpx.Timeout(READ_SECONDS, connect=30)
    with httpx.Client(base_url=server.origin, timeout=timeout) as client:
        with client.stream("GET", "/v1/events") as stream:
            lines = stream.iter_lines()
            assert read_events(lines, 1)[0][1] == "hello"
            first = post_incident(client)  # may come from the hub's first round
            assert read_events(lines, 1)[0][2]["id"] == first
            for _ in range(2):  # the hub now sleeps 30 s between polls: commits wake it
                case = post_incident(client)
                ((seq, kind, data),) = read_events(lines, 1)
                assert (kind, data["id"]) == ("incident", case)
                oracle = client.get("/v1/changes", params={"after": int(seq) - 1}).json()
                assert oracle["changes"][0]["id"] == case  # the event id is the change seq


def test_only_a_commit_is_told(server):
    store = server.ctx.store
    told: list[int] = []
    stop = store.on_commit(lambda: told.append(1))
    with pytest.raises(RuntimeError), store.backend.write():
        raise RuntimeError("rolled back")
    assert told == []
    record = store.add("incidents", {"lon": 113.605, "lat": 34.745, "category": "noise"})
    assert told and store.get("incidents", record["id"])["id"] == record["id"]
    stop()
    count = len(told)
    store.add("incidents", {"lon": 113.605, "lat": 34.745, "category": "noise"})
    assert len(told) == count
