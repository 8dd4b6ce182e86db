"""``GET /v1/dashboard`` against the demo city with live writes (cases through the hotline
loop, an open alarm): every figure equals the pandas recount from the store's raw rows
(:func:`tests.dashboard_city.expected`), for the city, a district and a street, in
several windows; bad input is a clear 4xx."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.testing import demo_city
from tests.dashboard_city import expected, live_writes, open_alarm

pytestmark = pytest.mark.slow
ADMIN = "ca_dashBoard4Rt8Yw2Qe6Uo1Pa9Sd3Fg7Hj5"
H = {"X-API-Key": ADMIN}


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    ctx = demo_city(tmp_path_factory.mktemp("dash"), cameras=300, sensors=400, days=9,
                    per_day=150, admin_key=ADMIN)  # fmt: skip
    with TestClient(create_app(ctx=ctx)) as client:

        def post(path, body):
            return client.post(path, json=body, headers=H)

        def request(method, path, body):
            return client.request(method, path, json=body, headers=H)

        live_writes(post, request)
        open_alarm(post, request, ctx.store.query("sensors", None, limit=1).items[0])
        yield ctx, client


def _check(ctx, client, region, level, window):
    body = client.get("/v1/dashboard", params={"region": region, "window": window}).json()
    now = int(pd.Timestamp(body["at"]).value // 1_000_000)
    tz = ctx.profiles.get(ctx.registry.active()).timezone
    want = expected(str(ctx.store.backend.engine.url.database), region, level, window, now, tz)
    kpi = {k: v for k, v in body["kpi"].items() if k in want["kpi"]}
    assert kpi == want["kpi"]
    ranked = {u["code"]: (u["open"], u["overdue"]) for u in body["ranking"]["units"]}
    assert all(want["ranking"].get(code, (0, 0)) == counts for code, counts in ranked.items())
    left = [v[0] for c, v in want["ranking"].items() if c not in ranked]
    assert min(o for o, _ in ranked.values()) >= max(left, default=0)  # the top ones
    assert [c["id"] for c in body["newest"]["cases"]] == want["newest_cases"]
    assert [a["id"] for a in body["newest"]["alarms"]] == want["newest_alarms"]
    assert body["intake_by_hour"]["today"] == want["today"]
    assert body["intake_by_hour"]["last_week"] == want["last_week"]
    assert {c["category"]: c["count"] for c in body["category_mix"]} == want["category_mix"]
    return body


@pytest.mark.parametrize("window", ["24h", "7d", "all"])
def test_city_figures_equal_the_raw_row_recount(city, window):
    ctx, client = city
    body = _check(ctx, client, "", "city", window)
    assert body["region"]["name"] == "郑州市" and body["ranking"]["level"] == "district"
    assert body["kpi"]["intake_today"] >= 3 and body["kpi"]["sensors_in_alarm"] >= 1
    assert len(body["newest"]["alarms"]) >= 1
    assert body["kpi"]["resolved_today"] >= 1 and body["kpi"]["satisfaction"] is not None


def test_district_and_street_figures_equal_the_raw_row_recount(city):
    ctx, client = city
    body = _check(ctx, client, "410105", "district", "7d")
    assert body["ranking"]["level"] == "street"
    street = body["ranking"]["units"][0]["code"]
    assert _check(ctx, client, street, "street", "all")["ranking"]["level"] == "community"


def test_an_unchanged_store_answers_again_and_a_write_recounts(city):
    ctx, client = city
    first = _check(ctx, client, "410105", "district", "24h")
    again = client.get("/v1/dashboard", params={"region": "410105", "window": "24h"}).json()
    assert again == first  # no write since: the same answer (its "at" included)
    case = {"lon": 113.655, "lat": 34.765, "crs": "WGS84", "category": "noise"}
    assert client.post("/v1/incidents", json=case, headers=H).status_code == 201
    after = _check(ctx, client, "410105", "district", "24h")
    assert after["at"] != first["at"]
    assert after["kpi"]["intake_today"] == first["kpi"]["intake_today"] + 1


@pytest.mark.parametrize(
    "params, status, words",
    [
        ({"window": "2d"}, 400, "window must be one of"),
        ({"region": "999999999"}, 404, "no boundary unit"),
        ({"region": "x" * 40}, 400, "region"),
    ],
)
def test_bad_input_is_a_clear_4xx(city, params, status, words):
    answer = city[1].get("/v1/dashboard", params=params)
    assert answer.status_code == status and words in answer.text


def test_emergency_mode_is_access_controlled_and_reported(city):
    ctx, client = city
    case = ctx.store.query("incidents", None, limit=1, sortby=["-reported_at"]).items[0]
    assert client.get("/v1/dashboard/emergency").json() == {"active": False}
    assert client.post("/v1/dashboard/emergency", json={"incident": case["id"]}).status_code == 401
    gis = {"X-API-Key": ctx.keys.create("gis", label="dashboard test")[0]}
    answer = client.post("/v1/dashboard/emergency", json={"incident": case["id"]}, headers=gis)
    assert answer.status_code == 403
    missing = client.post("/v1/dashboard/emergency", json={"incident": "nope"}, headers=H)
    assert missing.status_code == 404 and "nope" in missing.text
    extra = client.post("/v1/dashboard/emergency", json={"incident": "x", "y": 1}, headers=H)
    assert extra.status_code in (400, 422)
    after = ctx.store.data_version()
    on = client.post("/v1/dashboard/emergency", json={"incident": case["id"]}, headers=H).json()
    assert on["active"] and on["incident"]["id"] == case["id"]
    assert on["grids"]["features"][0]["properties"]["code"] == case["grid_code"]
    assert client.get("/v1/dashboard/emergency").json()["incident_id"] == case["id"]
    assert client.delete("/v1/dashboard/emergency", headers=H).json() == {"active": False}
    changes = client.get(f"/v1/changes?after={after}").json()["changes"]
    assert [(c["kind"], c["op"], c["id"]) for c in changes] == [
        ("wall", "emergency-on", case["id"]),
        ("wall", "emergency-off", case["id"]),
    ]


def test_replay_gives_the_incidents_of_a_local_hour(city):
    ctx, client = city
    tz = ctx.profiles.get(ctx.registry.active()).timezone
    hour = (pd.Timestamp.now(tz=tz) - pd.Timedelta(days=1)).strftime("%Y-%m-%dT%H")
    body = client.get("/v1/dashboard/replay", params={"at": hour}).json()
    frame = pd.DataFrame(ctx.store.query("incidents", None, limit=100_000).items)
    local = (
        pd.to_datetime(frame["reported_at"], format="ISO8601")
        .dt.tz_convert(tz)
        .dt.strftime("%Y-%m-%dT%H")
    )
    want = frame.loc[local == hour].sort_values(["reported_at"], kind="stable")
    assert [i["id"] for i in body["incidents"]] == want["id"].tolist()
    bad = client.get("/v1/dashboard/replay", params={"at": "yesterday"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
