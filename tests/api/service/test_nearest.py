"""Nearest devices served from each process's live index: two app contexts on one database
(one SQLite file, or one PostGIS schema) answer alike right after a write in either, and
both match a brute-force geodesic search over every stored device (pyproj Geod)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod

from cityaware.api.app import create_app
from cityaware.api.context import AppContext
from cityaware.api.service.nearest import nearest_devices
from cityaware.api.settings import Settings
from cityaware.geo.errors import InvalidInput
from tests.api.ogc.conftest import EAST, NORTH, SOUTH, WEST, staged
from tests.postgis import schema_url

GEOD = Geod(ellps="WGS84")


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def two_servers(request, tmp_path) -> Iterator[tuple[AppContext, AppContext]]:
    """Two app contexts (as two server processes would hold) on the same database."""
    with schema_url("near") if request.param == "postgis" else nullcontext("") as url:
        yield from _two_contexts(staged(tmp_path), url)


def _two_contexts(data_dir: Path, url: str) -> Iterator[tuple[AppContext, AppContext]]:
    contexts = [AppContext(Settings(data_dir=data_dir, database_url=url)) for _ in range(2)]
    rng = np.random.default_rng(7)
    for kind, n in (("cameras", 80), ("sensors", 50)):
        devices = pd.DataFrame(
            {
                "lon": rng.uniform(WEST, EAST, n),
                "lat": rng.uniform(SOUTH, NORTH, n),
                "online": rng.random(n) < 0.5,
                "device_kind": rng.choice(["ptz", "dome"], n),
            }
        )
        contexts[0].store.bulk_import(kind, devices, crs="EPSG:4326")
    yield contexts[0], contexts[1]
    for context in contexts:
        context.store.close()


def oracle(store, kinds, lon, lat, online=None, device_kind=None) -> list[tuple[float, str]]:
    """(metres, id) of every stored device of ``kinds`` passing the filters, nearest first."""
    rows = [
        r
        for kind in kinds
        for batch in store.iter_features(kind)
        for r in batch
        if (online is None or r["online"] is online)
        and (device_kind is None or r["device_kind"] == device_kind)
    ]
    _, _, metres = GEOD.inv(
        [lon] * len(rows), [lat] * len(rows), [r["lon"] for r in rows], [r["lat"] for r in rows]
    )
    return sorted(zip(metres, (r["id"] for r in rows), strict=True))


QUERIES = [
    dict(kinds=("cameras", "sensors"), k=6),
    dict(kinds=("cameras",), k=4, online=True),
    dict(kinds=("sensors",), k=3, online=False, device_kind="dome"),
    dict(kinds=("cameras", "sensors"), radius_m=1200.0),
    dict(kinds=("cameras",), radius_m=2500.0, device_kind="ptz"),
]


def assert_answers_match_the_oracle(context: AppContext, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for query in QUERIES:
        lon, lat = rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)
        kinds = query["kinds"]
        filters = {n: query.get(n) for n in ("online", "device_kind")}
        found = nearest_devices(
            context.live_devices, lon, lat, kinds, query.get("k", 5), query.get("radius_m"),
            **filters,
        )  # fmt: skip
        want = oracle(context.store, kinds, lon, lat, **filters)
        if "radius_m" in query:
            want = [(d, i) for d, i in want if d <= query["radius_m"]]
        else:
            want = want[: query["k"]]
        assert [f["id"] for f in found] == [i for _, i in want], query
        assert [f["distance_m"] for f in found] == pytest.approx([d for d, _ in want], abs=0.01)
        for feature in found:
            record = context.store.get(feature["kind"], feature["id"])
            assert (feature["lon"], feature["lat"]) == (record["lon"], record["lat"])
            assert feature["online"] == record["online"]
            assert feature["grid_code"] == record["grid_code"]


def test_two_servers_answer_alike_after_writes_in_either(two_servers):
    first, second = two_servers
    assert_answers_match_the_oracle(first, seed=1)
    assert_answers_match_the_oracle(second, seed=1)
    centre = (WEST + 0.011, SOUTH + 0.013)
    first.store.add("cameras", {"id": "fresh", "lon": centre[0], "lat": centre[1]})
    moved = first.store.query("sensors", limit=1).items[0]["id"]
    second.store.update("sensors", moved, {"lon": centre[0] + 1e-4, "lat": centre[1]})
    gone = second.store.query("cameras", limit=1).items[0]["id"]
    first.store.delete("cameras", gone)
    answers = [nearest_devices(c.live_devices, *centre, k=3) for c in (first, second)]
    assert answers[0] == answers[1]
    assert [d["id"] for d in answers[0][:2]] == ["fresh", moved]
    assert_answers_match_the_oracle(first, seed=2)
    assert_answers_match_the_oracle(second, seed=2)
    assert all(gone not in [d["id"] for d in a] for a in answers)


def test_http_nearest_and_too_many_within_a_radius(two_servers, monkeypatch):
    first, second = two_servers
    with TestClient(create_app(ctx=second)) as client:
        lon, lat = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
        params = {"lon": lon, "lat": lat, "crs": "WGS84", "kind": "cameras", "online": "true"}
        body = client.get("/v1/nearest", params=params | {"k": 5}).json()
        want = oracle(first.store, ("cameras",), lon, lat, online=True)[:5]
        assert [f["id"] for f in body["features"]] == [i for _, i in want]
        monkeypatch.setattr("cityaware.api.service.nearest.MAX_WITHIN", 3)
        refused = client.get("/v1/nearest", params=params | {"radius_m": 20_000})
        assert refused.status_code == 400 and "smaller radius_m" in refused.text
    with pytest.raises(InvalidInput):
        nearest_devices(first.live_devices, lon, lat, ("sensors",), radius_m=50_000.0)


def test_a_store_without_devices_answers_nothing(tmp_path: Path):
    """A store with no devices answers with nothing (and builds an empty index)."""
    context = AppContext(Settings(data_dir=staged(tmp_path)))
    assert nearest_devices(context.live_devices, WEST, SOUTH) == []
