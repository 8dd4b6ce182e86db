"""Built-in live rules: worker outside their own grid on duty, device offline, closed area.

A server of its own (no background worker: the tests drive the clock), the synthetic
hierarchy (each grid's ``worker`` attribute names a worker object ``w<i>``) and the demo
city's profile (its ``[city] timezone``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Geod

from cityaware.api.app import create_app
from cityaware.api.commands.demo import install_demo_city_files
from cityaware.api.live_settings import LiveSettings
from cityaware.api.settings import Settings
from cityaware.geo.errors import InvalidInput
from cityaware.geo.live.rules import parse_rules
from tests.api.service.conftest import ADMIN_KEY
from tests.units import staged

GEOD = Geod(ellps="WGS84")
KEY = {"X-API-Key": ADMIN_KEY}
RULES = """
[[rule]]
id = "off-grid"
type = "outside_own_grid"
kinds = ["worker"]
duty = "08:00-18:00"
days = [1, 2, 3, 4, 5]
grid_attribute = "worker"
min_distance_m = 100

[[rule]]
id = "offline"
type = "offline"
kinds = ["sensors", "cameras"]
after_minutes = 10

[[rule]]
id = "closed"
type = "closed_area"
kinds = ["vehicle"]
regions = ["CLOSED"]
min_distance_m = 50
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory, units):
    data_dir = tmp_path_factory.mktemp("rules-data")
    install_demo_city_files(data_dir)
    staged(data_dir, units)
    grids = units[units["level"] == "grid"]
    pairs = zip(grids["code"], grids["attributes"], strict=True)
    owned = {json.loads(a)["worker"]: c for c, a in pairs}
    own = sorted(owned)[0]
    closed = sorted(c for c in grids["code"] if c != owned[own])[-1]
    (data_dir / "rules.toml").write_text(RULES.replace("CLOSED", closed), encoding="utf-8")
    live = LiveSettings(worker_interval_s=0)  # no background rounds: the tests set the clock
    app = create_app(Settings(data_dir=data_dir, admin_key=ADMIN_KEY, live=live))
    with TestClient(app) as client:
        ctx = app.state.ctx
        tz = ZoneInfo(ctx.profiles.get(ctx.registry.active()).timezone)
        shapes = dict(zip(grids["code"], grids.geometry, strict=True))
        yield client, ctx, tz, own, shapes[owned[own]], shapes[closed]
    ctx.store.close()


def local_ms(tz: ZoneInfo, day: int, hour: int, minute: int = 0) -> int:
    """Epoch ms of a local time in late November 2026 (24th: a Tuesday; in the past)."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=tz).timestamp() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def east_of(polygon: shapely.Geometry, metres: float) -> tuple[float, float]:
    """A point ``metres`` east of the polygon's east edge at its middle latitude."""
    west, south, east, north = polygon.bounds
    lon, lat, _ = GEOD.fwd(east, (south + north) / 2, 90, metres)
    return lon, lat


def move(client, kind: str, oid: str, lonlat: tuple[float, float], at: int) -> None:
    position = {"id": oid, "kind": kind, "lon": lonlat[0], "lat": lonlat[1], "crs": "WGS84"}
    answer = client.post(
        "/v1/positions", json={"positions": [{**position, "at": iso(at)}]}, headers=KEY
    )
    assert answer.status_code == 200, answer.text


def ops(events, rule: str) -> list[tuple[str, str]]:
    return [(e["op"], e["subject_id"]) for e in events if e["rule_id"] == rule]


def test_worker_outside_own_grid_on_duty_with_hysteresis(setup):
    client, ctx, tz, worker, grid, _ = setup
    rules = ctx.live_rules
    centre = grid.centroid
    t = local_ms(tz, 24, 10)  # Tuesday 10:00 local: on duty (in UTC it is not, in Asia)
    move(client, "worker", worker, (centre.x, centre.y), t)
    assert ops(rules.evaluate(t), "off-grid") == []
    jitter = east_of(grid, 30.0)  # 30 m past the edge: under min_distance_m (100 m)
    assert not shapely.intersects_xy(grid, *jitter)  # oracle: outside the grid polygon
    move(client, "worker", worker, jitter, t + 60_000)
    assert ops(rules.evaluate(t + 60_000), "off-grid") == []
    move(client, "worker", worker, east_of(grid, 500.0), t + 120_000)
    opened = rules.evaluate(t + 120_000)
    assert ops(opened, "off-grid") == [("open", worker)]
    assert ops(rules.evaluate(t + 180_000), "off-grid") == []  # still outside: no new event
    evening = local_ms(tz, 24, 19)  # off duty: the rule clears for the worker
    assert ops(rules.evaluate(evening), "off-grid") == [("clear", worker)]
    morning = local_ms(tz, 25, 9)  # Wednesday on duty again, still outside: re-opens
    assert ops(rules.evaluate(morning), "off-grid") == [("open", worker)]
    saturday = local_ms(tz, 28, 10)  # not a duty day
    assert ops(rules.evaluate(saturday), "off-grid") == [("clear", worker)]
    history = client.get("/v1/rules/events?rule=off-grid", headers=KEY).json()["events"]
    assert [e["op"] for e in history] == ["clear", "open", "clear", "open"]  # newest first


def test_rule_events_are_in_the_change_feed_and_the_event_stream(setup):
    client, ctx, tz, worker, grid, _ = setup
    t = local_ms(tz, 26, 11)
    move(client, "worker", worker, east_of(grid, 800.0), t)
    head = client.get("/v1/changes?latest=true").json()["next"]
    events = ctx.live_rules.evaluate(t)
    mine = [e for e in events if e["rule_id"] == "off-grid"]
    assert mine, events
    changes = client.get(f"/v1/changes?after={head}").json()["changes"]
    assert {(c["kind"], c["op"], c["id"]) for c in changes} >= {
        ("rule_events", e["op"], e["id"]) for e in mine
    }
    sse = ctx.live_feed.sse_events(head, head + len(changes))
    assert {(e.type, e.data["id"]) for e in sse} >= {(f"rule-{e['op']}", e["id"]) for e in mine}
    assert client.get(f"/v1/changes?after={head}").json()["changes"] == changes
    assert ctx.live_rules.evaluate(t) == []  # the same moment again: nothing new


def test_device_offline_after_silence_and_back_with_a_reading(setup):
    client, ctx, tz, *_ = setup
    t = local_ms(tz, 27, 8)
    ctx.store.add("sensors", {"id": "rs-1", "lon": 113.605, "lat": 34.75, "device_kind": "rk"})
    ctx.store.add("cameras", {"id": "rc-1", "lon": 113.605, "lat": 34.75, "online": False})
    reading = {"readings": [{"sensor": "rs-1", "value": 1.0, "at": iso(t)}]}
    assert client.post("/v1/readings", json=reading, headers=KEY).status_code == 200
    first = ops(ctx.live_rules.evaluate(t + 5 * 60_000), "offline")
    assert ("open", "rc-1") in first and ("open", "rs-1") not in first  # 5 min: not yet
    assert ops(ctx.live_rules.evaluate(t + 11 * 60_000), "offline") == [("open", "rs-1")]
    later = {"readings": [{"sensor": "rs-1", "value": 1.2, "at": iso(t + 12 * 60_000)}]}
    assert client.post("/v1/readings", json=later, headers=KEY).status_code == 200
    assert ops(ctx.live_rules.evaluate(t + 12 * 60_000), "offline") == [("clear", "rs-1")]
    assert "cameras:rc-1" in ctx.live_rules.store.open_subjects("offline")


def test_object_entering_a_closed_area(setup):
    client, ctx, tz, _, _, closed = setup
    t = local_ms(tz, 27, 15)
    outside = east_of(closed, 2000.0) if closed.bounds[2] < 113.63 else east_of(closed, -2000.0)
    move(client, "vehicle", "v1", outside, t)
    assert ops(ctx.live_rules.evaluate(t), "closed") == []
    centre = closed.centroid
    move(client, "vehicle", "v1", (centre.x, centre.y), t + 60_000)
    assert ops(ctx.live_rules.evaluate(t + 60_000), "closed") == [("open", "v1")]
    move(client, "vehicle", "v1", outside, t + 120_000)
    assert ops(ctx.live_rules.evaluate(t + 120_000), "closed") == [("clear", "v1")]
    listed = client.get("/v1/rules", headers=KEY).json()["rules"]
    assert [r["id"] for r in listed] == ["off-grid", "offline", "closed"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[rule]]\nid = "x"\ntype = "nope"', "type must be one of"),
        ('[[rule]]\nid = "x"\ntype = "closed_area"', "needs regions"),
        ('[[rule]]\nid = "x"\ntype = "offline"\nduty = "8-"', "duty must be"),
        ('[[rule]]\nid = "x"\ntype = "offline"\ncolour = 1', "unknown keys colour"),
        ('[[rule]]\nid = "x"\ntype = "offline"\n[[rule]]\nid = "x"\ntype = "offline"', "twice"),
    ],
)
def test_bad_rules_say_what_is_wrong(text, words):
    with pytest.raises(InvalidInput, match=words):
        parse_rules(text)


def test_duty_hours_follow_the_city_clock(setup):
    _, ctx, tz, *_ = setup
    rule = ctx.live_rules.rules()[0]
    ten = local_ms(tz, 24, 10)
    utc_hour = datetime.fromtimestamp(ten / 1000, UTC).hour
    assert rule.on_duty(ten, tz)
    assert rule.on_duty(ten, ZoneInfo("UTC")) == (8 <= utc_hour < 18)
    assert not rule.on_duty(ten + timedelta(hours=9) // timedelta(milliseconds=1), tz)
