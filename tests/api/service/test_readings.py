"""POST /v1/readings: history, thresholds with hysteresis, one incident per alarm, replays."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cityaware.geo.store import FeatureFilter
from tests.api.service.conftest import covering_grids

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def iso(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def sensor(app):
    """A fresh sensor in the east street (zone 410172) of its own device kind."""
    sid = f"s-{uuid.uuid4().hex[:8]}"
    kind = f"kind-{sid}"
    app.state.ctx.store.add(
        "sensors", {"id": sid, "lon": 113.625, "lat": 34.745, "device_kind": kind}
    )
    return sid, kind


def post(client, key, readings):
    return client.post("/v1/readings", json={"readings": readings}, headers={"X-API-Key": key})


def values(sid, pairs):
    return [{"sensor": sid, "value": v, "at": iso(m), "unit": "m"} for m, v in pairs]


def set_threshold(client, role_keys, scope, target, **bounds):
    answer = client.put(
        f"/v1/thresholds/{scope}/{target}", json=bounds, headers={"X-API-Key": role_keys["ops"]}
    )
    assert answer.status_code == 200, answer.text


def alarm_incidents(app, sid):
    """Oracle: every stored incident that names this sensor (read back from the store)."""
    store = app.state.ctx.store
    found = []
    for batch in store.iter_features("incidents", FeatureFilter(), 1000):
        found += [r for r in batch if r["attributes"].get("sensor") == sid]
    return found


def alarm_changes(client, ids):
    changes = client.get("/v1/changes?after=0&limit=10000").json()["changes"]
    return [(c["op"], c["id"]) for c in changes if c["kind"] == "alarms" and c["id"] in ids]


def test_one_incident_per_alarm_hysteresis_clear_and_reopen(app, client, role_keys, grids, sensor):
    sid, kind = sensor
    set_threshold(client, role_keys, "kind", kind, max=10.0, band=1.0, category="drainage")
    key = role_keys["service"]
    first = post(client, key, values(sid, [(0, 5.0), (1, 11.0), (2, 10.5), (3, 9.5)]))
    assert first.status_code == 200, first.text
    assert first.json()["evaluated"] == 4
    # still bad (9.5 is inside the band) and worse: the same alarm, no new incident
    post(client, key, values(sid, [(4, 12.0), (5, 9.2)]))
    alarms = client.get(f"/v1/alarms?sensor={sid}").json()["alarms"]
    assert [(a["state"], a["bad_readings"], a["worst_value"]) for a in alarms] == [
        ("open", 5, 12.0)
    ]
    incidents = alarm_incidents(app, sid)
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["channel"] == "sensor_alarm" and incident["category"] == "drainage"
    assert incident["grid_code"] == covering_grids(grids, 113.625, 34.745)[0]
    duty_list = app.state.ctx.duty_list  # the data directory's list (the demo's, here)
    routed = duty_list.route("drainage", incident["district_code"], incident["managing_zone"] or "")
    assert incident["office"] == routed.office
    assert incident["attributes"]["alarm"]["id"] == alarms[0]["id"]
    assert alarms[0]["incident_id"] == incident["id"]
    sensor_row = app.state.ctx.store.get("sensors", sid)
    assert sensor_row["alarm"] is True and sensor_row["reading_value"] == 9.2

    post(client, key, values(sid, [(6, 8.9)]))  # back by the band: cleared
    alarms = client.get(f"/v1/alarms?sensor={sid}").json()["alarms"]
    assert [a["state"] for a in alarms] == ["cleared"]
    assert alarms[0]["cleared_at"] == iso(6)
    cleared = alarm_incidents(app, sid)
    assert len(cleared) == 1 and cleared[0]["attributes"]["alarm"]["state"] == "cleared"
    assert app.state.ctx.store.get("sensors", sid)["alarm"] is False

    post(client, key, values(sid, [(7, 10.4), (8, 10.6)]))  # crossing again: a new alarm
    alarms = client.get(f"/v1/alarms?sensor={sid}").json()["alarms"]
    assert [a["state"] for a in alarms] == ["open", "cleared"]
    assert len(alarm_incidents(app, sid)) == 2
    ids = {a["id"] for a in alarms}
    ops = alarm_changes(client, ids)
    assert sorted(op for op, _ in ops) == ["clear", "open", "open"]


def test_the_same_batch_twice_leaves_the_same_state(app, client, role_keys, sensor):
    sid, kind = sensor
    set_threshold(client, role_keys, "sensor", sid, min=0.0, band=0.5)
    batch = values(sid, [(10, 1.0), (11, -1.0), (12, 0.2), (13, 0.7), (14, -2.0)])
    key = role_keys["service"]
    first = post(client, key, batch).json()
    state = (client.get(f"/v1/alarms?sensor={sid}").json(), alarm_incidents(app, sid))
    history = client.get(f"/v1/sensors/{sid}/readings").json()["readings"]
    changes_before = client.get("/v1/changes?latest=true").json()["next"]
    again = post(client, key, batch).json()
    assert again["evaluated"] == 0 and again["stored"] == 0 and first["stored"] == 5
    assert client.get("/v1/changes?latest=true").json()["next"] == changes_before
    assert (client.get(f"/v1/alarms?sensor={sid}").json(), alarm_incidents(app, sid)) == state
    assert client.get(f"/v1/sensors/{sid}/readings").json()["readings"] == history
    assert [a["state"] for a in state[0]["alarms"]] == ["open", "cleared"]  # 2 episodes
    assert len(state[1]) == 2


def test_rate_of_change_and_history_by_time_range(app, client, role_keys, sensor):
    sid, _ = sensor
    set_threshold(client, role_keys, "sensor", sid, rate=2.0)
    post(client, role_keys["service"], values(sid, [(20, 1.0), (21, 2.0), (22, 6.0), (23, 6.5)]))
    alarms = client.get(f"/v1/alarms?sensor={sid}").json()["alarms"]
    assert [(a["reason"], a["state"], a["opened_at"]) for a in alarms] == [
        ("rate", "cleared", iso(22))
    ]
    rows = client.get(
        f"/v1/sensors/{sid}/readings", params={"start": iso(21), "end": iso(22)}
    ).json()["readings"]
    assert [(r["at"], r["value"]) for r in rows] == [(iso(21), 2.0), (iso(22), 6.0)]


def test_offline_sweep_opens_an_alarm_and_a_reading_clears_it(app, client, role_keys, sensor):
    sid, kind = sensor
    set_threshold(client, role_keys, "kind", kind, offline_minutes=5.0, category="other")
    post(client, role_keys["service"], values(sid, [(30, 1.0)]))
    ctx = app.state.ctx
    ctx.alarms.sweep()
    assert ctx.store.get("sensors", sid)["online"] is False
    alarms = client.get(f"/v1/alarms?sensor={sid}&state=open").json()["alarms"]
    assert [a["rule"] for a in alarms] == ["offline"] and alarms[0]["incident_id"]
    ctx.alarms.sweep()  # nothing new
    assert len(alarm_incidents(app, sid)) == 1
    post(client, role_keys["service"], values(sid, [(119, 1.1)]))
    assert ctx.store.get("sensors", sid)["online"] is True
    assert client.get(f"/v1/alarms?sensor={sid}&state=open").json()["alarms"] == []


def test_an_alarm_whose_incident_was_lost_is_repaired_once(app, role_keys, sensor):
    from cityaware.geo.store.readings import ReadingBatch
    from cityaware.geo.store.times import now_ms

    sid, _ = sensor
    ctx = app.state.ctx
    ctx.live_worker.stop()  # its sweep would repair the alarm before we look
    ctx.readings.set_threshold(
        "sensor",
        sid,
        __import__("cityaware.geo.live.alarms", fromlist=["Threshold"]).Threshold(max=1.0),
        now_ms(),
    )
    at = int((START + timedelta(minutes=40)).timestamp() * 1000)
    ctx.readings.write(ReadingBatch([sid], [5.0], [at], [None]), now_ms())  # "crash" here
    assert alarm_incidents(app, sid) == []
    ctx.alarms.sweep()
    ctx.alarms.sweep()
    ctx.live_worker.start()
    assert len(alarm_incidents(app, sid)) == 1


def test_alarm_events_reach_the_event_stream(app, client, role_keys, sensor):
    from cityaware.api.service.event_stream import EventCursor

    sid, _ = sensor
    ctx = app.state.ctx
    set_threshold(client, role_keys, "sensor", sid, max=1.0)
    cursor = EventCursor(ctx.store, None, ctx.live_feed.sse_events)
    post(client, role_keys["service"], values(sid, [(60, 5.0), (61, 0.5)]))
    events = cursor.poll()
    mine = [(e.type, e.data.get("sensor") or e.data.get("id")) for e in events]
    assert ("alarm-open", sid) in mine and ("alarm-clear", sid) in mine
    assert [int(e.id) for e in events] == sorted(int(e.id) for e in events)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("unknown", "unknown sensor"),
        ("future", "in the future"),
        ("nan", "NaN"),
        ("text", "finite number"),
        ("extra", "unknown: colour"),
        ("naive", "UTC offset"),
        ("many", "at most 10000"),
    ],
)
def test_bad_batches_are_400_and_write_nothing(app, client, role_keys, sensor, body, words):
    sid, _ = sensor
    good = values(sid, [(50, 1.0), (51, 2.0)])
    bad = {
        "unknown": {"sensor": "no-such-sensor", "value": 1, "at": iso(52)},
        "future": {
            "sensor": sid,
            "value": 1,
            "at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
        "text": {"sensor": sid, "value": "1.5", "at": iso(52)},
        "extra": {"sensor": sid, "value": 1, "at": iso(52), "colour": "red"},
        "naive": {"sensor": sid, "value": 1, "at": "2026-01-01T00:00:00"},
    }
    headers = {"X-API-Key": role_keys["service"], "Content-Type": "application/json"}
    if body == "nan":
        raw = '{"readings": [{"sensor": "SID", "value": NaN, "at": "AT"}]}'
        raw = raw.replace("SID", sid).replace("AT", iso(52))
        answer = client.post("/v1/readings", content=raw, headers=headers)
    elif body == "many":
        many = [{"sensor": sid, "value": 1.0, "at": iso(m / 1000)} for m in range(10_001)]
        answer = post(client, role_keys["service"], many)
    else:
        answer = post(client, role_keys["service"], [*good, bad[body]])
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["description"]
    assert client.get(f"/v1/sensors/{sid}/readings").json()["readings"] == []
    assert app.state.ctx.store.get("sensors", sid)["reading_at"] is None


def test_readings_need_a_service_key(client, role_keys, sensor):
    sid, _ = sensor
    assert client.post("/v1/readings", json={"readings": values(sid, [(1, 1)])}).status_code == 401
    gis = post(client, role_keys["gis"], values(sid, [(1, 1)]))
    assert gis.status_code == 403


def test_a_mixed_batch_matches_reading_by_reading_evaluation(app, client, role_keys):
    """Many sensors with thresholds of every scope in batches of mixed order: the columnar
    write opens, keeps and clears exactly the alarms that evaluate() finds one sensor at a
    time over the whole series, and keeps each sensor's newest reading."""
    import numpy as np

    from cityaware.geo.live.alarms import SensorState, Threshold, evaluate

    rng = np.random.default_rng(7)
    ctx = app.state.ctx
    tag = uuid.uuid4().hex[:6]
    kind = f"mix-{tag}"
    limits = {}
    for n in range(30):
        sid = f"m{tag}-{n}"
        record = {"id": sid, "lon": 113.625, "lat": 34.745, "device_kind": kind}
        if n % 3 == 2:  # the sensor's own alarm columns (its kind has no threshold)
            record |= {"alarm_low": -2.0, "alarm_high": 2.0, "device_kind": f"{kind}-plain"}
            limits[sid] = Threshold(min=-2.0, max=2.0)
        ctx.store.add("sensors", record)
        if n % 3 == 0:
            set_threshold(client, role_keys, "sensor", sid, max=1.5, band=0.5, rate=3.0)
            limits[sid] = Threshold(max=1.5, band=0.5, rate=3.0)
    set_threshold(client, role_keys, "kind", kind, min=-1.0, band=0.3)
    for n in range(1, 30, 3):
        limits[f"m{tag}-{n}"] = Threshold(min=-1.0, band=0.3)
    series: dict[str, list[tuple[int, float]]] = {sid: [] for sid in limits}
    for batch in range(3):
        readings = []
        for sid in limits:
            for minute in rng.choice(20, size=4, replace=False):
                m = batch * 20 + int(minute)
                value = round(float(rng.normal(0, 1.2)), 2)
                readings.append({"sensor": sid, "value": value, "at": iso(m)})
                series[sid].append((int((START + timedelta(minutes=m)).timestamp() * 1000), value))
        rng.shuffle(readings)
        answer = post(client, role_keys["service"], readings)
        assert answer.status_code == 200, answer.text
    for sid, threshold in limits.items():
        step = evaluate(threshold, SensorState(), sorted(series[sid]))
        expected = [
            (
                "cleared" if e.cleared else "open",
                iso_ms(e.opened.at),
                iso_ms(e.cleared.at) if e.cleared else None,
                e.bad_readings,
            )
            for e in step.episodes
        ]
        alarms = client.get(f"/v1/alarms?sensor={sid}").json()["alarms"]
        got = [(a["state"], a["opened_at"], a["cleared_at"], a["bad_readings"]) for a in alarms]
        assert sorted(got, key=lambda a: a[1]) == expected, sid
        stored = ctx.store.get("sensors", sid)
        newest = max(series[sid])
        assert (stored["reading_value"], stored["alarm"]) == (newest[1], step.open)
        incidents = alarm_incidents(app, sid)
        assert len(incidents) == len(expected)
        assert sorted(a["incident_id"] for a in alarms) == sorted(i["id"] for i in incidents)


def test_a_failing_alarm_sync_marks_the_others_and_leaves_itself_to_repair(app, role_keys):
    """Alarms are synced side by side: one whose incident cannot be created (its sensor is
    far outside the city) raises, the others are marked synced, and it stays unsynced."""
    from cityaware.geo.errors import CityAwareError
    from cityaware.geo.live.alarms import Threshold
    from cityaware.geo.store.readings import ReadingBatch
    from cityaware.geo.store.times import now_ms

    ctx = app.state.ctx
    ctx.live_worker.stop()  # its sweep would sync the alarms before we look
    tag = uuid.uuid4().hex[:6]
    inside = [f"in{tag}-{n}" for n in range(3)]
    outside = f"a-out{tag}"  # first in the batch's order: the others come after its failure
    for sid in inside:
        ctx.store.add("sensors", {"id": sid, "lon": 113.625, "lat": 34.745})
    ctx.store.add("sensors", {"id": outside, "lon": 2.35, "lat": 48.85})
    sensors = [*inside, outside]
    for sid in sensors:
        ctx.readings.set_threshold("sensor", sid, Threshold(max=1.0), now_ms())
    at = int((START + timedelta(minutes=50)).timestamp() * 1000)
    report = ctx.readings.write(ReadingBatch(sensors, [5.0] * 4, [at] * 4, [None] * 4), now_ms())
    assert len(report.alarms) == 4
    try:
        with pytest.raises(CityAwareError):
            ctx.alarms.sync(report.alarms)
        unsynced = {a["sensor_id"] for a in ctx.readings.unsynced(10_000)}
        assert outside in unsynced and not unsynced & set(inside)
        for sid in inside:
            (alarm,) = ctx.readings.alarms(sid)
            (incident,) = alarm_incidents(app, sid)
            assert alarm["incident_id"] == incident["id"] and alarm["synced_at"] is not None
    finally:  # the worker would retry it for ever
        (lost,) = ctx.readings.alarms(outside)
        ctx.readings.mark_synced([(lost["id"], "none", now_ms())])
        ctx.live_worker.start()


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
