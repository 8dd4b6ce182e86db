"""The live city on a real PostGIS store: readings and alarms, positions and fences, hooks.

Runs when ``CITYAWARE_TEST_DATABASE_URL`` is set (scripts/test.sh starts a throwaway
cluster); the module gets its own schema.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.live_settings import LiveSettings
from cityaware.api.settings import Settings
from tests.api.service.conftest import ADMIN_KEY, covering_grids
from tests.api.service.test_hooks import Receiver, hook_counters, hop_positions, staged

pytestmark = pytest.mark.postgis
URL_VARIABLE = "CITYAWARE_TEST_DATABASE_URL"
KEY = {"X-API-Key": ADMIN_KEY}
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def iso(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    base = os.environ.get(URL_VARIABLE, "")
    if not base:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{URL_VARIABLE} is not set but CI=true")
        pytest.skip(f"{URL_VARIABLE} not set")
    base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"live_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options={quote(f'-csearch_path={schema},public')}"
    data_dir = tmp_path_factory.mktemp("live-pg")
    staged(data_dir)
    live = LiveSettings(hook_backoff_s=0.05, hook_max_attempts=3, worker_interval_s=0.05)
    settings = Settings(data_dir=data_dir, database_url=url, admin_key=ADMIN_KEY, live=live)
    app = create_app(settings)
    with TestClient(app) as test_client:
        assert app.state.ctx.store.backend_name == "postgis"
        yield test_client
    app.state.ctx.store.close()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def test_readings_open_one_alarm_incident_and_replay_cleanly(client):
    sensor = {
        "type": "Feature",
        "id": "pg-s1",
        "properties": {"device_kind": "gauge"},
        "geometry": {"type": "Point", "coordinates": [113.625, 34.745]},
    }
    assert client.post("/collections/sensors/items", json=sensor, headers=KEY).status_code == 201
    assert (
        client.put(
            "/v1/thresholds/kind/gauge", json={"max": 10, "band": 1}, headers=KEY
        ).status_code
        == 200
    )
    batch = {
        "readings": [
            {"sensor": "pg-s1", "value": v, "at": iso(m)}
            for m, v in [(0, 5), (1, 11), (2, 9.5), (3, 8.5)]
        ]
    }
    first = client.post("/v1/readings", json=batch, headers=KEY).json()
    again = client.post("/v1/readings", json=batch, headers=KEY).json()
    assert (first["stored"], again["stored"], again["evaluated"]) == (4, 0, 0)
    alarms = client.get("/v1/alarms?sensor=pg-s1").json()["alarms"]
    assert [(a["state"], a["bad_readings"]) for a in alarms] == [("cleared", 2)]
    item = client.get("/collections/sensors/items/pg-s1").json()["properties"]
    assert (item["reading_value"], item["online"], item["alarm"]) == (8.5, True, False)
    assert alarms[0]["incident_id"]
    incident = client.get(f"/v1/incidents/{alarms[0]['incident_id']}").json()
    assert incident["channel"] == "sensor_alarm"
    unknown = {"readings": [{"sensor": "nope", "value": 1, "at": iso(5)}]}
    assert client.post("/v1/readings", json=unknown, headers=KEY).status_code == 400


def test_positions_fences_and_a_hook_on_postgis(client):
    receiver = Receiver(fail=lambda seq, attempt: attempt == 1)
    try:
        hook = client.post(
            "/v1/hooks", json={"url": receiver.url, "events": ["fence.*"]}, headers=KEY
        ).json()
        grid = covering_grids_of(113.615, 34.75)
        fence = client.post(
            "/v1/fences", json={"region": grid, "min_distance_m": 0}, headers=KEY
        ).json()
        report = client.post(
            "/v1/positions", json={"positions": hop_positions("pg-w", 4)}, headers=KEY
        ).json()
        assert [e["detect"] for e in report["events"]] == ["enter", "exit"]
        receiver.wait_for(lambda: len(receiver.acknowledged()) == 2)
        assert [e["data"]["fence"] for _, e, _, _ in receiver.received[-2:]] == [fence["id"]] * 2
        assert hook_counters(client, hook["id"], (2, 2)) == (2, 2)
        track = client.get("/v1/objects/worker/pg-w/track").json()["features"][0]
        assert len(track["geometry"]["coordinates"]) == 4
    finally:
        receiver.close()


def covering_grids_of(lon: float, lat: float) -> str:
    from tests.api.service.conftest import synthetic_units

    units = synthetic_units()
    return covering_grids(units[units["level"] == "grid"], lon, lat)[0]
