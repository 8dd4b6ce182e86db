"""督办 on the wall: the dashboard's escalation count and the typed supervision events.

Oracles: the escalation count recomputed with pandas from the stored rows (each case's
``hotline.escalations`` as read through the store, no SQL JSON); the change feed as
stored for the events' ops, and ``/v1/events`` read from a real server's stream.
"""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest

from cityaware.api.testing import ThreadedServer
from cityaware.geo.hotline.deadlines import HOUR_MS
from cityaware.geo.store.times import now_ms
from tests.api.hotline.conftest import ADMIN
from tests.api.hotline.test_loop import _case
from tests.api.service.test_changes_http import read_events

pytestmark = pytest.mark.slow
H = {"X-API-Key": ADMIN}
WINDOW_MS = {"24h": 86_400_000, "7d": 7 * 86_400_000, "all": None}


def _cases(ctx) -> pd.DataFrame:
    frame = ctx.store.frame("incidents", ["id", "status", "district_code", "attributes"])
    frame["attributes"] = [a if isinstance(a, dict) else json.loads(a or "{}")
                           for a in frame["attributes"]]  # fmt: skip
    frame["hotline"] = [a.get("hotline") or {} for a in frame["attributes"]]
    return frame


def escalated_oracle(ctx, now: int, window: str, district: str | None = None) -> int:
    """Cases with an escalation step at in [now - window, now], recounted with pandas."""
    cases = _cases(ctx)
    if district:
        cases = cases[cases["district_code"] == district]
    steps = cases[["id"]].assign(step=[h.get("escalations") or [] for h in cases["hotline"]])
    steps = steps.explode("step").dropna(subset=["step"])
    at = pd.Series([s["at"] for s in steps["step"]], index=steps.index, dtype="int64")
    low = -(2**62) if WINDOW_MS[window] is None else now - WINDOW_MS[window]
    return int(steps.loc[(at >= low) & (at <= now), "id"].nunique())


def _escalate_overdue(ctx, client, count: int) -> list[str]:
    """``count`` new cases whose deadlines passed an hour ago, escalated over HTTP."""
    ids, now = [], now_ms()
    for _ in range(count):
        id = _case(client)["id"]
        attributes = ctx.store.get("incidents", id)["attributes"]
        due = {"start_at": now - 50 * HOUR_MS, "respond_at": now - 48 * HOUR_MS,
               "resolve_at": now - HOUR_MS}  # fmt: skip
        attributes["hotline"] = {**attributes["hotline"], "due": due}
        ctx.store.update("incidents", id, {"attributes": attributes})
        answer = client.post(f"/v1/incidents/{id}/escalate", json={"note": "督办"}, headers=H)
        assert answer.status_code == 200, answer.text
        ids.append(id)
    return ids


def test_the_dashboard_counts_escalated_cases_as_the_stored_rows_say(ctx, client):
    ids = _escalate_overdue(ctx, client, 3)
    district = ctx.store.get("incidents", ids[0])["district_code"]
    for window in WINDOW_MS:
        body = client.get("/v1/dashboard", params={"window": window}).json()
        now = int(pd.Timestamp(body["at"]).value // 1_000_000)
        assert body["kpi"]["escalated"] == escalated_oracle(ctx, now, window) >= len(ids)
        one = client.get("/v1/dashboard", params={"window": window, "region": district}).json()
        now = int(pd.Timestamp(one["at"]).value // 1_000_000)
        assert one["kpi"]["escalated"] == escalated_oracle(ctx, now, window, district) >= 1
    listed = client.get("/v1/dashboard", params={"window": "24h"}).json()["newest"]["supervision"]
    assert {e["id"] for e in listed if e["op"] == "escalated"} >= set(ids)
    assert [e["seq"] for e in listed] == sorted((e["seq"] for e in listed), reverse=True)


def test_supervision_events_carry_their_type_in_the_changes_and_the_stream(ctx, client):
    after = ctx.store.data_version()
    case = _case(client)
    resolve_at = pd.Timestamp(case["hotline"]["due"]["resolve_at"]).value // 1_000_000
    at = pd.Timestamp(resolve_at + 60_000, unit="ms", tz="UTC").isoformat()
    raised = client.post("/v1/supervision/scan", params={"at": at}, headers=H)
    assert raised.status_code == 200, raised.text
    assert ("resolve", "overdue") in {
        (e["deadline"], e["state"]) for e in raised.json()["events"] if e["id"] == case["id"]
    }
    (escalated,) = _escalate_overdue(ctx, client, 1)
    changes = client.get("/v1/changes", params={"after": after, "limit": 10_000}).json()["changes"]
    typed = {(c["id"], c["op"]): c["seq"] for c in changes}
    assert (case["id"], "overdue") in typed and (escalated, "escalated") in typed
    assert (case["id"], "create") in typed  # the plain ops stay as they were
    want = {(case["id"], "overdue"), (escalated, "escalated")}
    server = ThreadedServer(ctx)
    try:
        with (
            httpx.Client(base_url=server.origin, timeout=30) as http,
            http.stream("GET", "/v1/events", params={"last_event_id": after}) as stream,
        ):
            lines, seen = stream.iter_lines(), {}
            while not want <= set(seen):
                ((seq, kind, data),) = read_events(lines, 1)
                if kind != "hello":
                    seen[(data["id"], data.get("op"))] = (seq, kind, data)
    finally:
        server.stop()
    for key in want:
        seq, kind, data = seen[key]
        assert kind == "incident-status" and int(seq) == typed[key]
        assert data["level"] == ctx.store.get("incidents", key[0])["attributes"]["hotline"]["level"]
    assert seen[(case["id"], "create")][1] == "incident"
