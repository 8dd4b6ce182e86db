"""The map wall in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)
against a real uvicorn server with the demo city.

Asserts: no console error and no request leaving the server's origin; layers
render features; a new incident appears live within 2 s; clicking a grid shows
its chain; the page holds fewer than MAX_MARKERS point markers; the stream resumes
after a server restart and catches up. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from cityaware.api.testing import CHROMIUM, ThreadedServer, demo_city

pytestmark = pytest.mark.browser

MAX_MARKERS = 3000  # point markers the browser holds (incidents, cameras, sensors, live)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ADMIN_KEY = "ca_mapWall7Qx2Lr9Vn4Tk8Pz3Hc6Jd1Fb5Gs"
GEOD = Geod(ellps="WGS84")

if not Path(CHROMIUM).exists():  # pragma: no cover - the CI image installs it
    pytest.skip("Debian chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ctx = demo_city(tmp_path_factory.mktemp("wall"), admin_key=ADMIN_KEY)
    ctx.map_layers.refresh_seconds = 0.2
    srv = ThreadedServer(ctx)
    add_incident(srv, 113.62, 34.74)  # the service API builds its indexes on first use
    yield srv
    srv.stop()


@pytest.fixture
def wall(server, browser, request):
    """A page on /map with every request and console error recorded."""
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.requests, page.errors = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    page.close()


def wait_until(page, expression: str, timeout_s: float = 30.0) -> None:
    """Poll ``expression`` through the DevTools protocol, which the page's CSP does not
    cover (Playwright's wait_for_function compiles its predicate in the page when it has
    to poll, and the CSP rightly forbids that eval)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(100)


def open_wall(page, server, view: str) -> None:
    page.goto(f"{server.origin}/map#{view}")
    page.wait_for_selector("body[data-ready='1'][data-live='1']", timeout=20_000)
    page.wait_for_load_state("networkidle", timeout=20_000)


def add_incident(server, lon: float, lat: float) -> str:
    """POST /v1/incidents when the service API serves it, else write through the store."""
    body = {"lon": lon, "lat": lat, "crs": "WGS84", "category": "noise", "title": "wall test"}
    response = httpx.post(
        f"{server.origin}/v1/incidents", json=body, headers={"X-API-Key": ADMIN_KEY}, timeout=60
    )
    if response.status_code in (404, 405):
        return server.ctx.store.add("incidents", {"lon": lon, "lat": lat, "category": "noise"})[
            "id"
        ]
    assert response.status_code in (200, 201), response.text
    answer = response.json()
    return answer.get("id") or answer["incident"]["id"]


def assert_clean(page, server) -> None:
    assert page.errors == []
    foreign = [u for u in page.requests if not u.startswith(server.origin)]
    assert foreign == []


def test_city_view_renders_layers_offline_and_bounded(wall, server):
    open_wall(wall, server, "10/34.75/113.65&layers=grids,incidents,sensors,cameras&window=all")
    wait_until(wall, "CityWall.featureCount() > 0")
    counts = wall.evaluate(
        "Object.fromEntries(Object.entries(CityWall.layers)"
        ".filter(([n, l]) => l.featureCount).map(([n, l]) => [n, l.featureCount()]))"
    )
    assert counts["grids"] > 100 and counts["sensors"] > 0 and counts["cameras"] > 0
    assert wall.evaluate("CityWall.markerCount()") < MAX_MARKERS
    assert any("/tiles/grids/10/" in u for u in wall.requests)
    assert wall.locator("#cw-legend").is_visible()
    assert_clean(wall, server)
    ARTIFACTS.mkdir(exist_ok=True)
    wall.screenshot(path=str(ARTIFACTS / "map-wall.png"))
    if os.environ.get("CITYAWARE_UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(ARTIFACTS / "map-wall.png", Path(__file__).parents[2] / "docs/map-wall.png")


def test_new_incident_appears_live_and_counts_update(wall, server):
    open_wall(wall, server, "14/34.7702/113.7001&layers=grids,incidents&window=24h")
    before = wall.evaluate("CityWall.eventsReceived")
    incident = add_incident(server, 113.7001, 34.7702)
    acknowledged = time.monotonic()  # within 2 s of the write being acknowledged
    wall.wait_for_selector(f"path[data-live-id='{incident}']", timeout=2_000)
    assert time.monotonic() - acknowledged < 2.0
    grid = server.ctx.store.get("incidents", incident)["grid_code"]
    assert wall.evaluate("CityWall.eventsReceived") >= before + 1
    assert wall.locator(f"path[data-live-id='{incident}']").count() == 1
    assert wall.evaluate(f"CityWall.counts['{grid}'].total") >= 1
    assert_clean(wall, server)


def test_clicking_a_grid_shows_its_chain(wall, server):
    grid = server.ctx.registry.units(level="grid").iloc[100]
    point = grid.geometry.representative_point()
    open_wall(wall, server, f"15/{point.y:.6f}/{point.x:.6f}&layers=grids&window=all")
    xy = wall.evaluate(f"CityWall.map.latLngToContainerPoint([{point.y}, {point.x}])")
    box = wall.locator(".folium-map").bounding_box()
    wall.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    title = wall.wait_for_selector(f"#cw-info h3[data-grid='{grid['code']}']", timeout=5_000)
    info = wall.locator("#cw-info").inner_text()
    chain = server.ctx.map_layers.unit(grid["code"])["chain"]
    assert all(unit["name"] in info for unit in chain)
    assert title.is_visible()
    assert_clean(wall, server)


def test_stream_resumes_after_restart_and_catches_up(wall, server):
    open_wall(wall, server, "12/34.75/113.65&layers=grids&window=24h")
    server.stop()
    missed = server.ctx.store.add("incidents", {"lon": 113.66, "lat": 34.76, "category": "noise"})
    server.start()
    shown = f"path[data-live-id='{missed['id']}']"
    wall.wait_for_selector(shown, timeout=15_000)
    wall.wait_for_timeout(1_000)  # a replayed event would draw it again
    assert wall.locator(shown).count() == 1  # caught up once, not duplicated


def test_search_flies_to_the_grid_and_the_view_lives_in_the_url(wall, server):
    open_wall(wall, server, "11/34.70/113.60&layers=grids,heat&window=7d&status=all")
    state = wall.evaluate("CityWall.state")
    assert (state["window"], state["status"]) == ("7d", "all")
    assert wall.evaluate("CityWall.map.hasLayer(CityWall.layers.heat)")
    assert wall.evaluate("CityWall.layers.heat._latlngs.length") > 0
    answer = server.ctx.geocoding.locate_point(113.65, 34.75, "GCJ02")
    wall.fill("#cw-search", "113.65, 34.75 GCJ02")
    wall.press("#cw-search", "Enter")
    wall.wait_for_selector(f"#cw-info h3[data-grid='{answer['grid']['code']}']", timeout=5_000)
    wait_until(wall, "CityWall.map.getZoom() >= 15 && !CityWall.map._animatingZoom")
    wall.wait_for_timeout(1_000)  # the fly animation ends, then moveend writes the hash
    zoom, lat, lon = wall.evaluate("location.hash").lstrip("#").split("&")[0].split("/")
    wgs_lon, wgs_lat = answer["location"]["wgs84"]
    assert int(zoom) >= 15
    assert abs(float(lat) - wgs_lat) < 1e-3 and abs(float(lon) - wgs_lon) < 1e-3
    assert "layers=grids,heat" in wall.evaluate("location.hash")
    assert_clean(wall, server)


def test_kiosk_has_the_map_and_no_controls(wall, server):
    wall.goto(f"{server.origin}/map/kiosk#11/34.75/113.65&layers=grids,sensors&window=all")
    wall.wait_for_selector("body[data-ready='1'][data-live='1']", timeout=20_000)
    wait_until(wall, "CityWall.featureCount() > 0")
    assert wall.locator("#cw-search").count() == 0
    assert wall.locator(".leaflet-control-zoom").count() == 0
    assert wall.locator("#cw-legend").is_visible()
    assert_clean(wall, server)


def test_clicking_an_incident_shows_details_history_and_nearest_cameras(wall, server):
    store = server.ctx.store
    incident = store.query("incidents", None, limit=1, sortby=["-reported_at"]).items[0]
    lon, lat = incident["lon"], incident["lat"]
    open_wall(wall, server, f"17/{lat:.6f}/{lon:.6f}&layers=grids,incidents&window=all&status=all")
    xy = wall.evaluate(f"CityWall.map.latLngToContainerPoint([{lat}, {lon}])")
    box = wall.locator(".folium-map").bounding_box()
    wall.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    wall.wait_for_selector(f"#cw-info h3[data-incident='{incident['id']}']", timeout=5_000)
    info = wall.locator("#cw-info").inner_text()
    assert incident["status"] in info and incident["category"] in info
    for change in store.history("incidents", incident["id"])["status"]:
        assert change["to_status"] in info
    cameras = pd.DataFrame(store.query("cameras", None, limit=100_000).items)
    _, _, metres = GEOD.inv(
        np.full(len(cameras), lon), np.full(len(cameras), lat), cameras["lon"], cameras["lat"]
    )
    nearest = cameras["id"].to_numpy()[np.argsort(metres)[:3]]
    shown = wall.locator("#cw-info li").all_inner_texts()
    assert [text.split()[0] for text in shown[-3:]] == list(nearest)
    assert_clean(wall, server)
