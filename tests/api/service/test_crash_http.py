"""kill -9 of the server during a stream of incident reports: nothing acknowledged is lost."""

from __future__ import annotations

import os
import signal
import threading

import httpx

from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.api.testing import server_process
from cityaware.geo.boundaries.generations import BoundaryRegistry
from tests.api.service.conftest import ADMIN_KEY, EAST, NORTH, SOUTH, WEST, synthetic_units

WRITERS = 3
KILL_AFTER = 60  # acknowledged reports before the kill


def test_acknowledged_reports_survive_kill_9_of_the_server(tmp_path):
    registry = BoundaryRegistry(tmp_path / "boundaries")
    registry.activate(registry.stage(synthetic_units(), source="synthetic"))
    acknowledged: list[str] = []
    enough = threading.Event()

    def report(url: str, writer: int) -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_KEY}, timeout=5) as client:
            for i in range(10_000):
                lon = WEST + (EAST - WEST) * ((i * 7 + writer) % 97) / 97
                lat = SOUTH + (NORTH - SOUTH) * ((i * 13 + writer) % 89) / 89
                body = {"lon": lon, "lat": lat, "crs": "WGS84", "category": "noise"}
                try:
                    answer = client.post("/v1/incidents", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 201:
                    acknowledged.append(answer.json()["id"])
                if len(acknowledged) >= KILL_AFTER:
                    enough.set()

    env = {"CITYAWARE_ADMIN_KEY": ADMIN_KEY}
    with server_process(tmp_path, env) as (process, url):
        writers = [threading.Thread(target=report, args=(url, w)) for w in range(WRITERS)]
        for thread in writers:
            thread.start()
        assert enough.wait(timeout=120), f"only {len(acknowledged)} reports acknowledged"
        os.kill(process.pid, signal.SIGKILL)
        for thread in writers:
            thread.join(timeout=30)
        assert process.wait(timeout=10) == -signal.SIGKILL

    store = AppContext(Settings(data_dir=tmp_path)).store
    stored = {f["id"] for batch in store.iter_features("incidents") for f in batch}
    assert len(acknowledged) >= KILL_AFTER
    assert set(acknowledged) <= stored
    assert len(stored) - len(acknowledged) <= WRITERS  # committed but not yet answered
