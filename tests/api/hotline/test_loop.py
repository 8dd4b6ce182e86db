"""受理 → 办理 → 反馈 → 监督 → 考评 through HTTP, with a controllable clock for supervision.

Oracles: the deadline table read directly (due times), the change feed and status
history as stored, and for 考评 counts recomputed with pandas from the raw rows of
the SQLite file (json.loads of each row's attributes; no cityaware code).
"""

from __future__ import annotations

import json
from io import StringIO

import pandas as pd
import pytest

from cityaware.api.service.casework import Casework, Escalation
from cityaware.geo.hotline.deadlines import HOUR_MS, DeadlineTable
from cityaware.geo.store.times import now_ms
from tests.api.hotline.conftest import ADMIN, post

pytestmark = pytest.mark.slow
H = {"X-API-Key": ADMIN}


def _case(client, category="sanitation", lon=113.655, lat=34.765):
    body = post(client, {"category": category, "lon": lon, "lat": lat, "crs": "WGS84",
                         "title": "t", "text": "垃圾没人清运都臭了"})  # fmt: skip
    assert body.status_code == 201, body.text
    body = body.json()
    client.patch(f"/v1/incidents/{body['id']}", json={"status": "dispatched"}, headers=H)
    return body


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_due_times_come_from_the_duty_list_at_intake(client):
    body = _case(client, "manhole_cover")
    block = client.get(f"/v1/incidents/{body['id']}").json()["hotline"]
    respond, resolve = DeadlineTable.load().hours("manhole_cover", block["level"])
    start = pd.Timestamp(block["due"]["start_at"])
    assert pd.Timestamp(block["due"]["respond_at"]) - start == pd.Timedelta(hours=respond)
    assert pd.Timestamp(block["due"]["resolve_at"]) - start == pd.Timedelta(hours=resolve)


def test_supervision_raises_events_once_and_escalation_climbs_the_levels(ctx, client):
    body = _case(client, "sanitation")  # a street-level category: 48 h to resolve
    start = pd.Timestamp(body["hotline"]["due"]["start_at"]).value // 1_000_000
    clock = Clock(start + HOUR_MS)
    work = Casework(ctx.incidents, clock)
    after = ctx.store.data_version()
    with pytest.raises(Exception, match="still within its deadline"):
        work.escalate(body["id"], Escalation())
    clock.now = start + 44 * HOUR_MS  # past 80 % of the 48 h
    mine = [e for e in work.scan() if e["id"] == body["id"]]
    assert {(e["deadline"], e["state"]) for e in mine} >= {("resolve", "near")}
    assert not [e for e in work.scan() if e["id"] == body["id"]]  # raised once
    clock.now = start + 49 * HOUR_MS
    assert ("resolve", "overdue") in {
        (e["deadline"], e["state"]) for e in work.scan() if e["id"] == body["id"]
    }
    changes = ctx.store.changes(after=after, limit=1000).changes
    ops = [c["op"] for c in changes if c["id"] == body["id"]]
    assert "deadline_near" in ops and "overdue" in ops
    first = work.escalate(body["id"], Escalation(note="督办"))
    assert first["hotline"]["level"] == "district"
    second = work.escalate(body["id"], Escalation())
    assert second["hotline"]["level"] == "city"
    stored = ctx.store.get("incidents", body["id"])
    assert stored["office"] == ctx.duty_list.route("sanitation").office  # the city's office
    with pytest.raises(Exception, match="city level"):
        work.escalate(body["id"], Escalation())
    notes = [h["note"] or "" for h in client.get(f"/v1/incidents/{body['id']}").json()["history"]]
    assert any("street -> district" in n and "督办" in n for n in notes)
    assert any("district -> city" in n for n in notes)


def test_reply_resolves_and_an_unsatisfied_callback_reopens(client):
    body = _case(client)
    case = f"/v1/incidents/{body['id']}"
    early = client.post(case + "/callback", json={"satisfaction": "satisfied"}, headers=H)
    assert early.status_code == 409  # nothing to rate yet
    replied = client.post(case + "/reply", json={"note": "已清运"}, headers=H).json()
    assert replied["status"] == "resolved" and replied["hotline"]["reply"]["note"] == "已清运"
    assert replied["hotline"]["reply"]["on_time"] is True
    bad = client.post(case + "/callback", json={"satisfaction": "meh"}, headers=H)
    assert bad.status_code == 400
    reopened = client.post(case + "/callback", json={"satisfaction": "unsatisfied"},
                           headers=H).json()  # fmt: skip
    assert reopened["status"] == "in_progress" and reopened["hotline"]["reopened"] == 1
    again = client.post(case + "/callback", json={"satisfaction": "satisfied"}, headers=H)
    assert again.status_code == 409  # the reopened case has no new reply yet
    client.post(case + "/reply", json={"note": "再次处理"}, headers=H)
    closed = client.post(case + "/callback", json={"satisfaction": "basically"},
                         headers=H).json()  # fmt: skip
    assert closed["status"] == "closed"
    statuses = [h["to"] for h in closed["history"]]
    assert statuses[-3:] == ["in_progress", "resolved", "closed"]
    late = client.post(case + "/reply", json={"note": "x"}, headers=H)
    assert late.status_code == 409


def _raw_cases(ctx) -> pd.DataFrame:
    """Incidents straight from the database (SQLite file or PostGIS schema), with their
    hotline fields read from the stored JSON."""
    with ctx.store.backend.engine.connect() as conn:
        rows = pd.read_sql("SELECT id, status, office, street_code, district_code, grid_code, "
                           "attributes FROM features WHERE kind = 'incidents'", conn)  # fmt: skip
    stored = [a if isinstance(a, dict) else json.loads(a or "{}") for a in rows.pop("attributes")]
    blocks = [a.get("hotline") or {} for a in stored]
    rows["replied_on_time"] = [bool((b.get("reply") or {}).get("on_time")) for b in blocks]
    rows["reply_level"] = [(b.get("reply") or {}).get("level") for b in blocks]
    rows["satisfaction"] = [(b.get("callback") or {}).get("satisfaction") for b in blocks]
    rows["reopened"] = [int(b.get("reopened") or 0) for b in blocks]
    rows["due"] = [(b.get("due") or {}).get("resolve_at", float("inf")) for b in blocks]
    return rows


@pytest.mark.parametrize("by", ["district", "street", "grid", "office"])
def test_evaluation_figures_match_counts_from_the_stored_rows(ctx, client, by):
    now = now_ms()
    answer = client.get(f"/v1/evaluation?by={by}")
    assert answer.status_code == 200
    got = {u[by]: u for u in answer.json()["units"]}
    raw = _raw_cases(ctx)
    key = {"district": "district_code", "street": "street_code", "grid": "grid_code",
           "office": "office"}[by]  # fmt: skip
    for unit, cases in raw.groupby(raw[key].fillna("")):
        figures = got[unit or None]
        done = cases[cases.status.isin(["resolved", "closed"])]
        called = cases[cases.satisfaction.notna()]
        assert figures["intake"] == len(cases)
        assert figures["resolved"] == len(done)
        if len(done):
            assert figures["on_time_rate"] == pytest.approx(done.replied_on_time.mean(), abs=1e-4)
            local = done.reply_level.isin(["grid", "community", "street"]).mean()
            assert figures["local_share"] == pytest.approx(local, abs=1e-4)
        if len(called):
            happy = called.satisfaction.isin(["satisfied", "basically"]).mean()
            assert figures["satisfaction_rate"] == pytest.approx(happy, abs=1e-4)
        assert figures["reopen_rate"] == pytest.approx((cases.reopened > 0).mean(), abs=1e-4)
        open_late = (~cases.status.isin(["resolved", "closed"])) & (cases.due < now - 60_000)
        assert figures["overdue"] >= int(open_late.sum())
    csv = pd.read_csv(StringIO(client.get(f"/v1/evaluation.csv?by={by}").text), dtype={by: str})
    assert csv["intake"].sum() == len(raw)


def test_window_bounds_the_evaluation(client):
    future = client.get("/v1/evaluation?by=district&since=2999-01-01T00:00:00Z").json()
    assert future["units"] == []
    assert client.get("/v1/evaluation?by=planet").status_code == 400
