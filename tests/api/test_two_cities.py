"""Two cities with district outlines only, end to end over real HTTP (issue 12).

开封市 and 洛阳市 in one generation (tests/two_cities.py): every locate answers the
district (checked against shapely on the source outlines) with ``grid: null``
and a chain up to the city; an address naming a township answers it; incidents
route to their own city's operations centre; the map page fits the data.
The two files are imported as a GIS team would: ``boundaries import`` of the
GeoJSON outlines and the NBS division CSV in one generation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import numpy as np
import pytest
import shapely

from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.api.testing import CHROMIUM, CHROMIUM_ARGS, ThreadedServer
from tests.browser.test_map_wall import wait_until
from tests.two_cities import CITIES, district_outlines, division_list, write_files

ADMIN_KEY = "ca_twoCities4Kf8Lr2Vn7Tq3Pz9Hc6Jd1Wb5Gs"
DEMO_WORDS = ("郑州", "Zhengzhou", "4101")


@pytest.fixture(scope="module")
def outlines():
    return district_outlines()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    files = write_files(tmp_path_factory.mktemp("two-city-files"))
    ctx = AppContext(Settings(data_dir=tmp_path_factory.mktemp("two-cities"), admin_key=ADMIN_KEY))
    ctx.registry.activate(ctx.registry.stage_files(files))
    server = ThreadedServer(ctx)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.origin, timeout=30) as client:
        yield client


def covering(outlines, lon: float, lat: float) -> list[str]:
    """Oracle: the codes of the source outlines covering the point, sorted."""
    return sorted(outlines.loc[outlines.geometry.covers(shapely.Point(lon, lat)), "code"])


def random_points(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = []
    for _, _, (west, south, east, north), _ in CITIES:
        points.append(np.column_stack([rng.uniform(west, east, n), rng.uniform(south, north, n)]))
    return np.vstack(points)


def test_a_point_answers_its_district_with_no_grid_and_a_chain_up_to_the_city(http, outlines):
    city_of = dict(zip(outlines["code"], outlines["parent_code"], strict=True))
    for lon, lat in random_points(15):
        answer = http.get("/v1/locate", params={"lon": lon, "lat": lat, "crs": "WGS84"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        (district,) = covering(outlines, lon, lat)
        assert body["level"] == "district" and body["grid"] is None
        assert [a["code"] for a in body["chain"]] == [district, city_of[district]]
        assert [a["level"] for a in body["chain"]] == ["district", "city"]


def test_a_batch_answers_districts_and_cities_column_by_column(http, outlines):
    points = random_points(200)
    body = http.post("/v1/locate", json={"crs": "WGS84", "points": points.tolist()}).json()
    results = body["results"]
    city_of = dict(zip(outlines["code"], outlines["parent_code"], strict=True))
    for k, (lon, lat) in enumerate(points):
        expected = covering(outlines, lon, lat)
        assert results["district"][k] == expected[0]
        assert results["level"][k] == "district" and results["grid"][k] is None
        assert results["city"][k] == city_of[expected[0]]
        assert results["street"][k] is None and results["community"][k] is None
    assert body["areas"]["410200"]["name"] == "开封市"


def test_an_address_at_township_level_answers_the_township_without_a_grid(http):
    divisions = division_list().set_index("code")
    body = http.get("/v1/locate", params={"address": "开封市龙亭区北书店街道"}).json()
    township = divisions.index[divisions["name"] == "北书店街道"].item()
    district = divisions.loc[township, "parent_code"]
    assert body["level"] == "street" and body["grid"] is None
    assert [a["code"] for a in body["chain"]] == [township, district, "410200"]
    assert body["grid_trusted"] is False and body["grid_reason"]
    district_only = http.get("/v1/locate", params={"address": "洛阳市涧西区"}).json()
    assert district_only["level"] == "district" and district_only["chain"][0]["name"] == "涧西区"


TOWNSHIP_ADDRESS = "开封市龙亭区北书店街道"


def test_the_map_search_answers_the_unit_when_the_grid_is_not_trusted(http, outlines):
    divisions = division_list().set_index("code")
    township = divisions.index[divisions["name"] == "北书店街道"].item()
    district = divisions.loc[township, "parent_code"]
    body = http.get("/map/api/locate", params={"q": TOWNSHIP_ADDRESS}).json()
    assert body["grid_code"] is None and body["status"] == "partial"
    assert body["level"] == "street" and body["unit"]["code"] == township
    names = dict(zip(outlines["code"], outlines["name"], strict=True))
    assert body["chain"] == ["北书店街道", names[district], "开封市"]
    assert body["grid_trusted"] is False and township in body["grid_reason"]
    assert covering(outlines, body["lon"], body["lat"]) == [district]  # flies into it


def test_the_map_search_of_a_point_answers_its_district_with_no_grid(http, outlines):
    lon, lat = next(p for p in random_points(20, seed=5) if len(covering(outlines, *p)) == 1)
    lon, lat = round(lon, 6), round(lat, 6)
    body = http.get("/map/api/locate", params={"q": f"{lon}, {lat} WGS84"}).json()
    expected = covering(outlines, lon, lat)
    assert body["grid_code"] is None and body["level"] == "district"
    assert [body["unit"]["code"]] == expected and body["grid_trusted"] is None
    assert body["chain"][-1] in ("开封市", "洛阳市")
    click = {"lon": lon, "lat": lat, "zoom": 12, "layers": ""}
    hit = http.get("/map/api/at", params=click).json()
    assert hit["kind"] == "grids" and hit["code"] is None and hit["level"] == "district"
    assert hit["unit"] == body["unit"] and hit["chain"] == body["chain"]


def test_another_citys_name_in_front_is_no_prefix(http):
    assert http.get("/v1/locate", params={"address": "郑州市龙亭区"}).status_code == 422
    assert http.get("/v1/locate", params={"address": "开封龙亭区"}).status_code == 200


def test_an_incident_routes_to_its_own_citys_operations_centre(http, outlines):
    headers = {"X-API-Key": ADMIN_KEY}
    for code, name, (west, south, east, north), _ in CITIES:
        lon, lat = (west + east) / 2, (south + north) / 2
        body = {"category": "manhole_cover", "lon": lon, "lat": lat, "crs": "WGS84"}
        answer = http.post("/v1/incidents", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        incident = answer.json()
        assert incident["routing"]["office"] == f"{name}城市运行管理中心"
        assert incident["routing"]["rule"]["default"] is True
        assert not any(word in json.dumps(incident, ensure_ascii=False) for word in DEMO_WORDS)
        assert incident["chain"][-1]["code"] == code


def test_the_city_level_has_its_region_record_and_statistics(http, outlines):
    from pyproj import Geod

    headers = {"X-API-Key": ADMIN_KEY}
    before = {code: http.get(f"/v1/regions/{code}/stats").json()["total"] for code, *_ in CITIES}
    for (_, _, (west, south, east, north), _), n in zip(CITIES, (2, 1), strict=True):
        for k in range(n):
            lon, lat = west + (east - west) * (0.4 + 0.1 * k), (south + north) / 2
            body = {"category": "manhole_cover", "lon": lon, "lat": lat, "crs": "WGS84"}
            assert http.post("/v1/incidents", json=body, headers=headers).status_code == 201
    for (code, name, _, _), n in zip(CITIES, (2, 1), strict=True):
        region = http.get(f"/v1/regions/{code}").json()
        mine = outlines[outlines["parent_code"] == code]
        area = abs(Geod(ellps="GRS80").geometry_area_perimeter(mine.union_all())[0]) / 1e6
        assert region["level"] == "city" and region["name"] == name
        assert region["child_count"] == len(mine)
        assert region["area_km2"] == pytest.approx(area, rel=2e-3)
        stats = http.get(f"/v1/regions/{code}/stats").json()
        assert stats["total"] == before[code] + n
        assert stats["top_grids_by_open"] == []  # a city without grids lists none (not null)


def test_the_map_page_fits_the_generations_extent(http, outlines):
    html = http.get("/map").text
    config = json.loads(re.search(r"CityWall\.start\([^,]+, (\{.*\})\);", html)[1])
    west, south, east, north = outlines.total_bounds
    assert sum(config["bounds"], []) == pytest.approx([south, west, north, east])
    assert config["centre"] is None  # no view in the profile: the page fits the bounds
    lon, lat = (float(v) for v in config["placeholder"].split()[0].split(","))
    assert west < lon < east and south < lat < north
    assert not any(word in html for word in DEMO_WORDS)


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
def test_the_map_wall_opens_on_the_data_in_chromium(server, outlines):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.origin}/map")
        page.wait_for_selector("body[data-ready='1']", timeout=20_000)
        view = page.evaluate(
            "() => { const b = CityWall.map.getBounds(); return [b.getWest(), b.getSouth(),"
            " b.getEast(), b.getNorth(), CityWall.map.getZoom()]; }"
        )
        placeholder = page.get_attribute("#cw-search", "placeholder")
        page.fill("#cw-search", TOWNSHIP_ADDRESS)
        page.press("#cw-search", "Enter")
        wait_until(page, "() => !!document.querySelector('#cw-info h3[data-unit]')")
        heading = page.get_attribute("#cw-info h3", "data-level")
        info = page.inner_text("#cw-info")
        notice = page.inner_text("#cw-notice")
        browser.close()
    west, south, east, north = outlines.total_bounds
    assert not errors
    assert view[0] <= west and view[1] <= south and view[2] >= east and view[3] >= north
    assert (view[2] - view[0]) < 4 * (east - west)  # fitted, not the whole country
    assert placeholder and not any(word in placeholder for word in DEMO_WORDS)
    assert heading == "street" and "北书店街道" in info and "Grid not trusted" in info
    assert "开封市" in info and notice == "street 北书店街道"  # not "outside every grid"
