"""Matters (解决一批事): close cases of one category are one matter; a far one or another
category is not; moving the matter moves every case or none. Distances: pyproj's geodesic."""

from __future__ import annotations

import pytest
from pyproj import Geod

from tests.api.hotline.conftest import ADMIN, post

pytestmark = pytest.mark.slow
H = {"X-API-Key": ADMIN}
GEOD = Geod(ellps="WGS84")
LON, LAT = 113.6302, 34.7468


def _at(client, category, east_m):
    lon, lat, _ = GEOD.fwd(LON, LAT, 90.0, east_m)
    body = post(client, {"category": category, "lon": lon, "lat": lat, "crs": "WGS84"}).json()
    return body


def test_near_cases_of_one_category_are_one_matter(client):
    first = _at(client, "greenery", 0.0)
    near = _at(client, "greenery", 60.0)
    far = _at(client, "greenery", 400.0)
    other = _at(client, "noise", 30.0)
    matter = first["hotline"]["matter"]
    assert near["hotline"]["matter"] == matter
    assert far["hotline"]["matter"] == far["id"] != matter
    assert other["hotline"]["matter"] == other["id"]
    found = client.get("/v1/matters?category=园林绿化").json()["matters"]
    mine = [m for m in found if m["id"] == matter]
    assert mine and mine[0]["count"] == 2 and set(mine[0]["cases"]) == {first["id"], near["id"]}
    assert all(m["count"] >= 2 for m in found)
    grid = first["grid"]["code"]
    by_grid = client.get(f"/v1/matters?grid={grid}&min_count=1").json()["matters"]
    assert matter in [m["id"] for m in by_grid]


def test_moving_a_matter_moves_all_its_cases_or_none(client):
    a = _at(client, "construction", 0.0)
    b = _at(client, "construction", 40.0)
    matter = a["hotline"]["matter"]
    assert b["hotline"]["matter"] == matter
    illegal = client.patch(f"/v1/matters/{matter}", json={"status": "closed"}, headers=H)
    assert illegal.status_code == 409
    statuses = {client.get(f"/v1/incidents/{c['id']}").json()["status"] for c in (a, b)}
    assert statuses == {"received"}
    moved = client.patch(f"/v1/matters/{matter}", json={"status": "dispatched", "note": "一并"},
                         headers=H)  # fmt: skip
    assert moved.status_code == 200, moved.text
    for case in (a, b):
        view = client.get(f"/v1/incidents/{case['id']}").json()
        assert view["status"] == "dispatched" and "一并" in view["history"][-1]["note"]
    assert client.get("/v1/matters/nope").status_code == 404
