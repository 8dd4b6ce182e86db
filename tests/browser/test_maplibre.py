"""MapLibre GL JS (vendored, layers/assets/maplibre-gl) in a real headless Chromium, on a page
of ANOTHER origin (a second local HTTP server), opens the server's wall style, whose
sources are the collections' TileJSON documents, and renders every layer.

Reads are locked (a key is sent by ``transformRequest``), so every style, TileJSON and
tile request is a CORS preflight plus a keyed GET from the other origin. WebGL comes
from SwiftShader (software), hence the extra Chromium flags.
"""

from __future__ import annotations

import functools
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.api.testing import CHROMIUM, CHROMIUM_ARGS, ThreadedServer, demo_city
from cityaware.layers.page import ASSETS_DIR
from cityaware.layers.service import POINT_LAYERS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN_KEY = "ca_mapLibre7Qx2Lr9Vn4Tk8Pz3Hc6Jd1Fb5Gs"
WEBGL_ARGS = [a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + [
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>another origin</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/maplibre-gl/maplibre-gl.css">
<style>html, body, #map { margin: 0; width: 100%; height: 100%; }</style></head>
<body><div id="map"></div>
<script type="module">
import * as maplibregl from "/maplibre-gl/maplibre-gl.mjs";
const args = new URLSearchParams(location.hash.slice(1));
const api = args.get("api"), key = args.get("key");
const map = new maplibregl.Map({
  container: "map",
  style: api + "/styles/wall/style.json?window=all&status=all",
  center: [Number(args.get("lon")), Number(args.get("lat"))], zoom: 11,
  attributionControl: false,
  transformRequest: (url) => url.startsWith(api) ? {url, headers: {"X-API-Key": key}} : {url},
});
map.on("error", (e) => console.error("maplibre: " + (e.error ? e.error.message : e)));
map.once("idle", () => { window.idle = true; });
window.show = (lon, lat, zoom) => new Promise((done) => {
  map.once("idle", () => done(true));
  map.jumpTo({center: [lon, lat], zoom: zoom});
});
window.rendered = () => Object.fromEntries(map.getStyle().layers.map(
  (l) => [l.id, map.queryRenderedFeatures({layers: [l.id]}).length]));
</script></body></html>
"""

if not Path(CHROMIUM).exists():  # pragma: no cover - the CI image installs it
    pytest.skip("Debian chromium is not installed", allow_module_level=True)


class _Files(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory):
    """A second HTTP server (another port: another origin) with the page and MapLibre."""
    root = tmp_path_factory.mktemp("other-origin")
    (root / "index.html").write_text(PAGE)
    (root / "maplibre-gl").symlink_to(ASSETS_DIR / "maplibre-gl")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Files, directory=root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory, page_origin):
    data_dir = tmp_path_factory.mktemp("maplibre-city")
    demo_city(data_dir, cameras=200, sensors=200, days=1, per_day=200, admin_key=ADMIN_KEY)
    settings = Settings(
        data_dir=data_dir, admin_key=ADMIN_KEY, public_read=False, cors_origins=(page_origin,)
    )
    srv = ThreadedServer(AppContext(settings))
    yield srv
    srv.stop()


@pytest.fixture
def page(server, page_origin, request):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=WEBGL_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.errors, page.requests, page.refused = [], [], []
        page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("request", lambda r: page.requests.append(r.url))
        page.on("requestfailed", lambda r: page.refused.append(r.url))
        page.on("response", lambda r: r.status >= 400 and page.refused.append(r.url))
        yield page
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
        browser.close()


def wait_until(page, expression: str, timeout_s: float = 60.0) -> None:
    """Poll ``expression`` with page.evaluate (no in-page eval, as in the wall's tests)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(100)


def first_point(server, kind: str) -> tuple[float, float]:
    record = next(iter(server.ctx.store.iter_features(kind)))[0]
    return record["lon"], record["lat"]


def test_maplibre_on_another_origin_renders_every_layer(page, server, page_origin):
    units = server.ctx.registry.units(level="grid")
    west, south, east, north = units.total_bounds
    centre = ((west + east) / 2, (south + north) / 2)
    page.goto(
        f"{page_origin}/index.html#api={server.origin}&key={ADMIN_KEY}"
        f"&lon={centre[0]}&lat={centre[1]}"
    )
    wait_until(page, "window.idle === true")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "maplibre-city.png"))
    rendered = page.evaluate("window.rendered()")
    seen = {name for name, n in rendered.items() if n > 0}
    # the city view: outlines, grids and a cluster layer per point kind
    assert {"districts", "streets", "grids"} <= seen, rendered
    assert {f"{kind}-clusters" for kind in POINT_LAYERS} <= seen, rendered
    for kind in POINT_LAYERS:  # zoomed in on one of its points: the points themselves
        lon, lat = first_point(server, kind)
        page.evaluate(f"window.show({lon}, {lat}, 17)")
        rendered = page.evaluate("window.rendered()")
        seen |= {name for name, n in rendered.items() if n > 0}
        assert rendered[f"{kind}-points"] > 0, (kind, rendered)
    style_layers = set(rendered) - {"background"}
    assert style_layers <= seen, style_layers - seen
    opened = [u.split("/collections/")[1] for u in page.requests if "/tilejson.json" in u]
    tilejsons = {u.split("/")[0] for u in opened}
    assert tilejsons == {*POINT_LAYERS, "districts", "streets", "communities", "grids"}
    assert page.errors == [] and page.refused == [], (page.errors, page.refused)
    assert all(u.startswith((server.origin, page_origin, "blob:")) for u in page.requests)
