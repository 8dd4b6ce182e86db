"""The kiosk (``/map/kiosk?layout=...``) in a real headless Chromium against the demo city.

Every layout: no console error, no request off the origin, the vendored CJK font
loaded (``document.fonts``), the KPI tiles equal to the pandas recount of the store's
raw rows (:func:`tests.dashboard_city.expected`), a bounded number of markers; a
POSTed case appears in the list and on the map; a click honours the filters; the
ranking zooms; emergency mode on and off; replay of an hour; the stream reconnects
after a server restart. Screenshots of each layout go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from cityaware.api.testing import CHROMIUM, ThreadedServer, demo_city
from cityaware.geo.hotline.deadlines import HOUR_MS
from cityaware.geo.store.times import now_ms
from cityaware.layers.kiosk import LAYOUTS as KIOSK_LAYOUTS
from tests.browser.test_map_wall import assert_clean, wait_until
from tests.dashboard_city import expected, live_writes, open_alarm, raw_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN = "ca_kioskWall5Rt8Yw2Qe6Uo1Pa9Sd3Fg7Hj4"
H = {"X-API-Key": ADMIN}
MAX_MARKERS = 3000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DOCS = Path(__file__).resolve().parents[2] / "docs"
GEOD = Geod(ellps="WGS84")
LAYOUTS = {"overview": "", "district": "&region=410105", "alarms": "", "hotline": ""}
LAYOUT_KPIS = {name: layout.kpis for name, layout in KIOSK_LAYOUTS.items()}
LEVELS = {"overview": ("", "city"), "district": ("410105", "district"),
          "alarms": ("", "city"), "hotline": ("", "city")}  # fmt: skip

if not Path(CHROMIUM).exists():  # pragma: no cover - the CI image installs it
    pytest.skip("Debian chromium is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ctx = demo_city(tmp_path_factory.mktemp("kiosk"), cameras=800, sensors=1200, days=8,
                    per_day=250, admin_key=ADMIN)  # fmt: skip
    ctx.map_layers.refresh_seconds = 0.2
    srv = ThreadedServer(ctx)

    def post(path, body):
        return httpx.post(srv.origin + path, json=body, headers=H, timeout=60)

    def request(method, path, body):
        return httpx.request(method, srv.origin + path, json=body, headers=H, timeout=60)

    srv.post = post
    live_writes(post, request)
    open_alarm(post, request, ctx.store.query("sensors", None, limit=1).items[0])
    yield srv
    srv.stop()


def new_page(browser, width=1920, height=1080, scale=1.0):
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=scale)
    page.requests, page.errors = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and page.errors.append(f"{r.status} {r.url}"))
    return page


@pytest.fixture
def kiosk(server, browser):
    page = new_page(browser)
    yield page
    page.close()


def open_kiosk(page, server, query: str, view: str = "") -> None:
    page.goto(f"{server.origin}/map/kiosk?{query}{'#' + view if view else ''}")
    page.wait_for_selector("body[data-ready='1'][data-live='1'][data-board]", timeout=30_000)
    page.wait_for_load_state("networkidle", timeout=30_000)


def font_loaded(page) -> bool:
    return page.evaluate(
        "document.fonts.check(\"16px 'Noto Sans SC'\", '郑州市') && [...document.fonts]"
        ".some(f => f.family.includes('Noto Sans SC') && f.status === 'loaded')"
    )


def shown_kpis(page) -> dict:
    return page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('[data-kpi]')]"
        ".map(t => [t.dataset.kpi, t.dataset.value === '' ? null : Number(t.dataset.value)]))"
    )


def tiles_match(server, page, layout: str) -> bool:
    """The layout's KPI tiles, in its order, show the raw-row recount of the store."""
    shown, want = shown_kpis(page), recount(server, page, layout)["kpi"]
    return list(shown) == list(LAYOUT_KPIS[layout]) and shown == {k: want[k] for k in shown}


def recount(server, page, layout: str) -> dict:
    region, level = LEVELS[layout]
    figures = page.evaluate("CityKiosk.figures")
    now = int(pd.Timestamp(figures["at"]).value // 1_000_000)
    ctx = server.ctx
    tz = ctx.profiles.get(ctx.registry.active()).timezone
    path = str(ctx.store.backend.engine.url.database)
    return expected(path, region, level, figures["window"], now, tz)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_is_clean_has_its_font_and_the_store_figures(server, browser, layout):
    page = new_page(browser)
    open_kiosk(page, server, f"layout={layout}{LAYOUTS[layout]}")
    wait_until(page, "CityWall.featureCount() > 0")
    assert font_loaded(page)
    assert tiles_match(server, page, layout)
    assert page.evaluate("CityWall.markerCount()") < MAX_MARKERS
    assert page.locator(".kb-header #kb-city").inner_text() == "郑州市"
    assert page.locator("#kb-time").inner_text().count(":") == 2
    if layout != "alarms":  # the charts were drawn
        assert page.evaluate(
            "!!echarts.getInstanceByDom(document.querySelector('#kb-trend .kb-body'))"
        )
    assert_clean(page, server)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"kiosk-{layout}.png"))
    page.close()


def test_the_overview_at_4k_and_the_readme_screenshot(server, browser):
    page = new_page(browser, 3840, 2160)
    open_kiosk(page, server, "layout=overview")
    wait_until(page, "CityWall.featureCount() > 0")
    header = page.locator(".kb-header").bounding_box()
    assert 0.06 * 2160 <= header["height"] <= 0.07 * 2160  # sizes follow the viewport
    page.screenshot(path=str(ARTIFACTS / "kiosk-overview-4k.png"))
    assert_clean(page, server)
    page.close()
    small = new_page(browser, 1920, 1080, scale=0.5)
    open_kiosk(small, server, "layout=overview")
    wait_until(small, "CityWall.featureCount() > 0")
    small.wait_for_timeout(500)
    small.screenshot(path=str(ARTIFACTS / "kiosk-overview-small.png"))
    if os.environ.get("CITYAWARE_UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(ARTIFACTS / "kiosk-overview-small.png", DOCS / "kiosk-overview.png")
    small.close()


def test_a_posted_case_appears_in_the_list_and_on_the_map_and_the_tiles_move(kiosk, server):
    open_kiosk(kiosk, server, "layout=overview")
    before = kiosk.evaluate("CityKiosk.figures.kpi.intake_today")
    answer = server.post("/v1/incidents", {"lon": 113.6601, "lat": 34.7701, "crs": "WGS84",
                                           "category": "noise", "title": "看板实时"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    case = answer.json()["id"]
    kiosk.wait_for_selector(f"#kb-list li[data-id='{case}']", timeout=10_000)
    kiosk.wait_for_selector(f"path[data-live-id='{case}']", state="attached", timeout=10_000)
    wait_until(kiosk, f"CityKiosk.figures.kpi.intake_today === {before + 1}", 20)
    assert tiles_match(server, kiosk, "overview")
    kiosk.locator(f"#kb-list li[data-id='{case}']").click()  # click to fly there
    kiosk.wait_for_selector(f"#cw-info h3[data-incident='{case}']", timeout=15_000)
    wait_until(kiosk, "CityWall.map.getZoom() >= 16 && !CityWall.map._animatingZoom")
    assert kiosk.evaluate("CityWall.map.getBounds().contains([34.7701, 113.6601])")
    assert_clean(kiosk, server)


def test_a_burst_of_cases_is_listed_from_the_events_and_the_figures_catch_up(kiosk, server):
    """Rows come from the events themselves; the figures (re-read at most every few
    seconds) still end counting every case of the burst."""
    open_kiosk(kiosk, server, "layout=overview")
    before = kiosk.evaluate("CityKiosk.figures.kpi.intake_today")
    cases = []
    for i in range(5):
        answer = server.post("/v1/incidents", {"lon": 113.6601 + i / 1000, "lat": 34.7701,
                                               "crs": "WGS84", "category": "noise"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        cases.append(answer.json()["id"])
    for case in cases:
        wait_until(kiosk, f"!!document.querySelector('#kb-list li[data-id=\"{case}\"]')", 30)
    rows = kiosk.evaluate(
        "Array.from(document.querySelectorAll('#kb-list li')).map(li => li.dataset.id)"
    )
    assert rows[:5] == cases[::-1]  # the newest on top, in commit order
    wait_until(kiosk, f"CityKiosk.figures.kpi.intake_today === {before + len(cases)}", 30)
    assert_clean(kiosk, server)


def _lonely_case(server, status_open: bool) -> pd.Series:
    """A stored case with no other case within 40 m (a click at it can hit only it)."""
    features, _ = raw_rows(str(server.ctx.store.backend.engine.url.database))
    cases = features[features["kind"] == "incidents"].reset_index(drop=True)
    is_open = cases["status"].isin(["received", "dispatched", "in_progress"])
    for i in np.flatnonzero(is_open.to_numpy() == status_open):
        row = cases.iloc[i]
        _, _, metres = GEOD.inv(np.full(len(cases), row["lon"]), np.full(len(cases), row["lat"]),
                                cases["lon"].to_numpy(), cases["lat"].to_numpy())  # fmt: skip
        if (metres < 40).sum() == 1:
            return row
    raise AssertionError("no lonely case")


@pytest.mark.parametrize("status", ["open", "all"])
def test_a_click_honours_the_filters(kiosk, server, status):
    case = _lonely_case(server, status_open=False)  # a resolved or closed case
    lat, lon = case["lat"], case["lon"]
    view = f"17/{lat:.6f}/{lon:.6f}&layers=grids,incidents&window=all&status={status}"
    open_kiosk(kiosk, server, "layout=hotline", view)
    xy = kiosk.evaluate(f"CityWall.map.latLngToContainerPoint([{lat}, {lon}])")
    box = kiosk.locator(".folium-map").bounding_box()
    kiosk.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    if status == "all":  # shown, so hit: its popup with status and category
        kiosk.wait_for_selector(f"#cw-info h3[data-incident='{case['id']}']", timeout=15_000)
        assert case["status"] in kiosk.locator("#cw-info").inner_text()
    else:  # hidden by status=open: the click falls through to its grid
        kiosk.wait_for_selector(f"#cw-info h3[data-grid='{case['grid_code']}']", timeout=15_000)
        assert kiosk.locator("#cw-info h3[data-incident]").count() == 0
    assert_clean(kiosk, server)


def test_a_redraw_at_a_fractional_zoom_asks_for_whole_zoom_tiles(kiosk, server):
    """The kiosk snaps to quarter zooms; a restyle (counts after tiles) and a filter change
    redraw the grids, and every tile asked for has a whole zoom (Leaflet's own redraw used
    the map's 9.75: 400s in the console, the CI's flake)."""
    open_kiosk(kiosk, server, "layout=hotline", "9.75/34.75/113.65")
    wait_until(kiosk, "CityWall.featureCount() > 0")
    assert kiosk.evaluate("CityWall.map.getZoom()") == 9.75
    before = len(kiosk.requests)
    kiosk.evaluate("CityWall.loadCounts(false); CityWall.setFilters({status: 'all'})")
    wait_until(kiosk, "CityWall.featureCount() > 0")
    kiosk.wait_for_load_state("networkidle", timeout=30_000)
    tiles = [u.split("/tiles/")[1] for u in kiosk.requests[before:] if "/tiles/" in u]
    assert tiles and all(t.split("/")[1].isdigit() for t in tiles), tiles[:5]
    assert_clean(kiosk, server)


def test_a_map_without_size_asks_for_nothing_built_from_its_view(kiosk, server):
    """A map laid out at no size has an empty view: no heat request (its bbox would be empty),
    and the URL keeps the last real view."""
    open_kiosk(kiosk, server, "layout=hotline")
    hash_before = kiosk.evaluate("location.hash")
    before = len(kiosk.requests)
    kiosk.evaluate(
        "const c = CityWall.map.getContainer(); c.style.setProperty('width', '0', 'important');"
        "c.style.setProperty('height', '0', 'important'); CityWall.map.invalidateSize();"
        "CityWall.map.setView([34.7, 113.6], 12); CityWall.refreshHeat()"
    )
    kiosk.wait_for_load_state("networkidle", timeout=30_000)
    assert [u for u in kiosk.requests[before:] if "/heat" in u] == []
    assert kiosk.evaluate("location.hash") == hash_before
    assert_clean(kiosk, server)


def test_a_ranking_click_zooms_to_the_unit(kiosk, server):
    open_kiosk(kiosk, server, "layout=overview")
    first = kiosk.evaluate("CityKiosk.figures.ranking.units[0]")
    kiosk.locator("#kb-ranking tr[data-code]").first.click()
    west, south, east, north = first["bbox"]
    wait_until(kiosk, f"CityWall.map.getBounds().contains([[{south}, {west}], [{north}, {east}]])"
                      " && CityWall.map.getZoom() >= 10")  # fmt: skip
    assert_clean(kiosk, server)


def test_emergency_mode_on_and_off(kiosk, server):
    open_kiosk(kiosk, server, "layout=alarms")
    store = server.ctx.store
    case = store.query("incidents", None, limit=1, sortby=["-reported_at"]).items[0]
    normal = kiosk.evaluate("[CityWall.map.getZoom(), CityWall.map.getCenter()]")
    on = server.post("/v1/dashboard/emergency", {"incident": case["id"]})
    assert on.status_code == 200, on.text
    kiosk.wait_for_selector(f"body[data-emergency='{case['id']}']", timeout=15_000)
    panel = kiosk.locator("#kb-incident")
    assert panel.is_visible() and kiosk.locator("#kb-live").is_hidden()
    history = [h["to_status"] for h in store.history("incidents", case["id"])["status"]]
    assert [h["to_status"] for h in kiosk.evaluate("CityKiosk.emergency.timeline")] == history
    assert panel.locator("ul").first.locator("li").count() == len(history)
    cameras = pd.DataFrame(store.query("cameras", None, limit=100_000).items)
    cameras = cameras[cameras["online"]]
    _, _, metres = GEOD.inv(np.full(len(cameras), case["lon"]), np.full(len(cameras), case["lat"]),
                            cameras["lon"], cameras["lat"])  # fmt: skip
    nearest = list(cameras["id"].to_numpy()[np.argsort(metres, kind="stable")[:5]])
    assert [c["id"] for c in kiosk.evaluate("CityKiosk.emergency.cameras")] == nearest
    grids = server.ctx.registry.units(level="grid")
    own = grids[grids["code"] == case["grid_code"]].geometry.iloc[0]
    touching = set(grids.loc[grids.intersects(own), "code"])
    shown = kiosk.evaluate("CityKiosk.emergency.grids.features.map(f => f.properties.code)")
    assert set(shown) == touching and len(touching) > 1
    assert kiosk.evaluate(f"CityWall.map.getBounds().contains([{case['lat']}, {case['lon']}])")
    assert f"emergency={case['id']}" in kiosk.evaluate("location.search")
    off = httpx.delete(f"{server.origin}/v1/dashboard/emergency", headers=H, timeout=30)
    assert off.status_code == 200 and off.json() == {"active": False}
    kiosk.wait_for_selector("body[data-emergency='']", timeout=15_000)
    assert kiosk.locator("#kb-live").is_visible() and panel.is_hidden()
    assert kiosk.evaluate("[CityWall.map.getZoom(), CityWall.map.getCenter()]") == normal
    assert "emergency" not in kiosk.evaluate("location.search")
    assert_clean(kiosk, server)


def test_replay_plays_back_an_hour(kiosk, server):
    ctx = server.ctx
    tz = ctx.profiles.get(ctx.registry.active()).timezone
    features, _ = raw_rows(str(ctx.store.backend.engine.url.database))
    cases = features[features["kind"] == "incidents"]
    local = pd.to_datetime(cases["reported_at"], unit="ms", utc=True).dt.tz_convert(tz)
    hour = (pd.Timestamp.now(tz=tz) - pd.Timedelta(days=2)).strftime("%Y-%m-%dT%H")
    want = int((local.dt.strftime("%Y-%m-%dT%H") == hour).sum())
    assert want > 0
    open_kiosk(kiosk, server, f"layout=hotline&replay={hour}&speed=3600")
    wait_until(kiosk, "document.body.dataset.replay === 'done'", 20)
    assert kiosk.evaluate("CityKioskReplay.shown") == want
    assert kiosk.evaluate("CityWall.markerCount()") < MAX_MARKERS
    assert_clean(kiosk, server)


def _post_case(server, lon: float, lat: float) -> dict:
    body = {"lon": lon, "lat": lat, "crs": "WGS84", "category": "sanitation", "title": "督办测试"}
    answer = server.post("/v1/incidents", body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _ms(text: str) -> int:
    return int(pd.Timestamp(text).value // 1_000_000)


def test_the_hotline_wall_counts_escalations_and_lists_supervision_events(kiosk, server):
    open_kiosk(kiosk, server, "layout=hotline")
    store, now = server.ctx.store, now_ms()
    assert server.post("/v1/supervision/scan", {}).status_code == 200  # the backlog of today
    late = _post_case(server, 113.6605, 34.7705)["id"]  # its deadlines passed an hour ago
    attributes = store.get("incidents", late)["attributes"]
    due = {"start_at": now - 50 * HOUR_MS, "respond_at": now - 48 * HOUR_MS,
           "resolve_at": now - HOUR_MS}  # fmt: skip
    store.update(
        "incidents",
        late,
        {"attributes": {**attributes, "hotline": {**attributes["hotline"], "due": due}}},
    )
    answer = server.post(f"/v1/incidents/{late}/escalate", {"note": "督办"})
    assert answer.status_code == 200, answer.text
    wait_until(
        kiosk,
        "CityKiosk.figures.kpi.escalated >= 1 && document.querySelector("
        "'[data-kpi=escalated]').dataset.value === String(CityKiosk.figures.kpi.escalated)",
    )
    assert tiles_match(server, kiosk, "hotline")
    kiosk.wait_for_selector(f"#kb-supervision li[data-id='{late}'][data-op='escalated']",
                            timeout=15_000)  # fmt: skip
    # the scan's clock: the moment a fresh case's response deadline comes near
    fresh = _post_case(server, 113.6610, 34.7710)
    block = fresh["hotline"]["due"]
    start, respond = _ms(block["start_at"]), _ms(block["respond_at"])
    at = pd.Timestamp(respond - (respond - start) // 10, unit="ms", tz="UTC").isoformat()
    raised = httpx.post(f"{server.origin}/v1/supervision/scan", params={"at": at}, headers=H,
                        timeout=60)  # fmt: skip
    assert ("respond", "near") in {
        (e["deadline"], e["state"]) for e in raised.json()["events"] if e["id"] == fresh["id"]
    }
    row = f"#kb-supervision li[data-id='{fresh['id']}'][data-op='deadline_near']"
    kiosk.wait_for_selector(row, timeout=15_000)
    assert "临近时限" in kiosk.locator(row).inner_text()
    kiosk.locator(row).click()  # click to fly to the case
    kiosk.wait_for_selector(f"#cw-info h3[data-incident='{fresh['id']}']", timeout=15_000)
    wait_until(kiosk, "CityWall.map.getZoom() >= 16 && !CityWall.map._animatingZoom")
    assert kiosk.evaluate("CityWall.map.getBounds().contains([34.7710, 113.6610])")
    assert_clean(kiosk, server)
    ARTIFACTS.mkdir(exist_ok=True)
    kiosk.screenshot(path=str(ARTIFACTS / "kiosk-hotline-supervision.png"))


def test_the_kiosk_reconnects_after_a_restart_and_catches_up(kiosk, server):
    open_kiosk(kiosk, server, "layout=overview")
    server.stop()
    missed = server.ctx.store.add("incidents", {"lon": 113.66, "lat": 34.76, "category": "noise"})
    server.start()
    shown = f"#kb-list li[data-id='{missed['id']}']"
    kiosk.wait_for_selector(shown, timeout=15_000)
    kiosk.wait_for_timeout(1_000)  # a replayed event would list it twice
    assert kiosk.locator(shown).count() == 1
