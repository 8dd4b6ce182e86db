"""Writes far outside the city are refused (422, nothing written); extents come from the data."""

from __future__ import annotations

import geopandas as gpd
import pytest
from pyproj import Geod

from cityaware.api.service.incidents import IncidentIn
from cityaware.geo.boundaries.extent import DEFAULT_MARGIN_M, OutsideCity

GEOD = Geod(ellps="WGS84")
BEIJING = (116.4, 39.9)


def post(client, key, lon, lat):
    body = {"category": "noise", "lon": lon, "lat": lat, "crs": "WGS84"}
    return client.post("/v1/incidents", json=body, headers={"X-API-Key": key})


def written(store):
    """(stored incidents, newest change seq): both must stay put on a refused write."""
    seq, page = 0, store.changes(after=0, limit=10_000)
    while page.changes:
        seq, page = page.next, store.changes(after=page.next, limit=10_000)
    return store.count("incidents"), seq


def east_of_the_city(units, metres):
    """A point ``metres`` due east of the city's east edge, at its middle latitude."""
    west, south, east, north = units.total_bounds
    lon, lat, _ = GEOD.fwd(east, (south + north) / 2, 90, metres)
    return lon, lat


def test_a_point_at_beijing_is_refused_with_the_extent_and_nothing_is_written(
    client, role_keys, app, units
):
    store = app.state.ctx.store
    before = written(store)
    answer = post(client, role_keys["service"], *BEIJING)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["status"] == 422 and body["code"] == "OutsideCityExtent"
    assert "outside the city's extent" in body["description"]
    bounds = [round(float(v), 6) for v in units.total_bounds]
    assert str(bounds) in body["description"]
    assert written(store) == before


def test_a_point_just_inside_the_margin_is_kept_outside_every_grid(client, role_keys, units):
    answer = post(client, role_keys["service"], *east_of_the_city(units, DEFAULT_MARGIN_M - 500))
    assert answer.status_code == 201, answer.text
    assert answer.json()["outside"] is True and answer.json()["grid"] is None


def test_a_point_just_beyond_the_margin_is_refused(client, role_keys, app, units):
    before = written(app.state.ctx.store)
    answer = post(client, role_keys["service"], *east_of_the_city(units, DEFAULT_MARGIN_M + 500))
    assert answer.status_code == 422, answer.text
    assert written(app.state.ctx.store) == before


def test_the_incidents_service_refuses_it_for_every_caller(app):
    """Open311's POST goes through the same service: it gets the domain error."""
    incident = IncidentIn(category="noise", lon=BEIJING[0], lat=BEIJING[1], crs="WGS84")
    with pytest.raises(OutsideCity, match="outside the city's extent"):
        app.state.ctx.incidents.create(incident, None)


def test_collection_extents_are_the_bounds_of_the_stored_rows(client, role_keys, app, units):
    post(client, role_keys["service"], 113.61, 34.75)  # at least one incident
    rows = [r for batch in app.state.ctx.store.iter_features("incidents") for r in batch]
    points = gpd.GeoSeries(gpd.points_from_xy([r["lon"] for r in rows], [r["lat"] for r in rows]))
    incidents = client.get("/collections/incidents").json()["extent"]["spatial"]["bbox"][0]
    assert incidents == pytest.approx(list(points.total_bounds), abs=1e-9)
    districts = client.get("/collections/districts").json()["extent"]["spatial"]["bbox"][0]
    assert districts == pytest.approx(list(units.query("level == 'district'").total_bounds))
