"""Items: paging (features-1 core, geojson, html), CRS (features-2) and CQL2 (features-3, cql2).

Every expected answer comes from an independent oracle: pandas over the
store's own records, shapely over the staged hierarchy, pyproj for CRS.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from cityaware.api.ogc.html import render_page
from cityaware.geo.boundaries.generations import BoundaryRegistry
from tests.api.ogc.conftest import hierarchy

ITEMS = "/collections/incidents/items"


def ids(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {f["id"] for f in response.json()["features"]}


def test_paging_follows_next_links_typed_geojson(client, records):
    seen, url, pages = [], ITEMS + "?limit=7", 0
    while url:
        response = client.get(url)
        assert response.headers["content-type"] == "application/geo+json"
        body = response.json()
        assert body["numberMatched"] == len(records) and isinstance(body["numberMatched"], int)
        assert body["numberReturned"] == len(body["features"])
        seen += [f["id"] for f in body["features"]]
        links = {link["rel"]: link for link in body["links"]}
        assert "prev" not in links  # keyset pages go forward only
        url = links["next"]["href"] if "next" in links else None
        if url:
            assert links["next"]["type"] == "application/geo+json"
            assert "cursor=" in url and "offset=" not in url
        pages += 1
    assert pages == 9
    assert sorted(seen) == sorted(records.index)
    by_offset = client.get(ITEMS + "?limit=7&offset=14").json()
    links = {link["rel"]: link["href"] for link in by_offset["links"]}
    assert "offset=7" in links["prev"] and "cursor=" in links["next"]
    following = client.get(links["next"]).json()["features"]
    assert [f["id"] for f in following] == seen[21:28]  # the cursor goes on after offset 14


def test_bbox_in_crs84_matches_shapely(client):
    units = hierarchy().query("level == 'grid'")
    box = (113.61, 34.71, 113.64, 34.76)
    expected = set(units[units.intersects(shapely.box(*box))]["code"])
    assert ids(client.get("/collections/grids/items", params={"bbox": "113.61,34.71,113.64,34.76"}))
    got = ids(client.get("/collections/grids/items", params={"bbox": ",".join(map(str, box))}))
    assert got == expected and 0 < len(got) < len(units)


def test_bbox_crs_epsg4326_is_lat_lon(client, records):
    lonlat = ids(client.get(ITEMS, params={"bbox": "113.6,34.7,113.65,34.75", "limit": 100}))
    latlon = ids(
        client.get(
            ITEMS,
            params={"bbox": "34.7,113.6,34.75,113.65", "bbox-crs": "EPSG:4326", "limit": 100},
        )
    )
    inside = records[records.lon.between(113.6, 113.65) & records.lat.between(34.7, 34.75)]
    assert lonlat == latlon == set(inside.index)
    wrong_order = client.get(
        ITEMS, params={"bbox": "113.6,34.7,113.65,34.75", "bbox-crs": "EPSG:4326"}
    )
    assert wrong_order.status_code == 400
    assert "lat,lon" in wrong_order.json()["description"]


def test_output_crs_axis_order_and_content_crs(client, records):
    first = records.iloc[0]
    url = f"{ITEMS}/{first['id']}"
    crs84 = client.get(url)
    assert crs84.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    assert crs84.json()["geometry"]["coordinates"] == pytest.approx([first.lon, first.lat])
    latlon = client.get(url, params={"crs": "http://www.opengis.net/def/crs/EPSG/0/4326"})
    assert latlon.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    assert latlon.json()["geometry"]["coordinates"] == pytest.approx([first.lat, first.lon])
    cgcs = client.get(url, params={"crs": "EPSG:4490"}).json()["geometry"]["coordinates"]
    assert cgcs == pytest.approx([first.lat, first.lon], abs=1e-6)
    page = client.get(ITEMS, params={"crs": "EPSG:4547", "limit": 100})
    assert page.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4547>"
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)
    for feature in page.json()["features"]:
        row = records.loc[feature["id"]]
        east, north = to_gk.transform(row.lon, row.lat)
        assert feature["geometry"]["coordinates"] == pytest.approx([north, east], abs=0.01)


def test_unsupported_crs_is_a_400(client):
    for params in ({"crs": "EPSG:3857"}, {"bbox-crs": "EPSG:9999", "bbox": "1,2,3,4"}):
        response = client.get(ITEMS, params=params)
        assert response.status_code == 400
        assert "not supported" in response.json()["description"]


def test_datetime_interval_and_instant(client, records):
    got = ids(client.get(ITEMS, params={"datetime": "2026-01-20T00:00:00Z/..", "limit": 100}))
    expected = records[records.reported >= pd.Timestamp("2026-01-20T00:00:00Z")]
    assert got == set(expected.index)
    day = ids(client.get(ITEMS, params={"datetime": "2026-01-15", "limit": 100}))
    on_day = records[records.reported.dt.strftime("%Y-%m-%d") == "2026-01-15"]
    assert day == set(on_day.index)


def test_properties_and_sortby(client, records):
    body = client.get(
        ITEMS, params={"properties": "category,status", "sortby": "-reported_at", "limit": 100}
    ).json()
    assert all(set(f["properties"]) == {"category", "status"} for f in body["features"])
    expected = records.sort_values("reported", ascending=False, kind="stable").index.tolist()
    assert [f["id"] for f in body["features"]] == expected
    names = client.get("/collections/grids/items", params={"sortby": "-name"}).json()
    got = [f["properties"]["name"] for f in names["features"]]
    assert got == sorted(got, reverse=True)


TRIANGLE = "POLYGON((113.6 34.7, 113.66 34.7, 113.66 34.78, 113.6 34.7))"
JAN_10 = pd.Timestamp("2026-01-10T00:00:00Z")
CQL2_CASES = [
    ("category = 'noise'", lambda r: r.category == "noise"),
    (
        "category <> 'noise' AND NOT status = 'closed'",
        lambda r: (r.category != "noise") & (r.status != "closed"),
    ),
    (
        "status = 'closed' OR channel = 'web'",
        lambda r: (r.status == "closed") | (r.channel == "web"),
    ),
    ("reported_at < TIMESTAMP('2026-01-10T00:00:00Z')", lambda r: r.reported < JAN_10),
    ("office IS NULL AND title IS NOT NULL", lambda r: r.office.isna() & r.title.notna()),
    ("title LIKE 'case 1%'", lambda r: r.title.str.startswith("case 1")),
    ("category IN ('noise','sanitation')", lambda r: r.category.isin(["noise", "sanitation"])),
    (
        f"S_INTERSECTS(geometry, {TRIANGLE})",
        lambda r: shapely.intersects_xy(shapely.from_wkt(TRIANGLE), r.lon, r.lat),
    ),
    (
        "S_INTERSECTS(geometry, BBOX(113.6, 34.7, 113.65, 34.75))",
        lambda r: r.lon.between(113.6, 113.65) & r.lat.between(34.7, 34.75),
    ),
]


@pytest.mark.parametrize(("text", "oracle"), CQL2_CASES, ids=[c[0][:40] for c in CQL2_CASES])
def test_cql2_text_on_the_store_matches_pandas(client, records, text, oracle):
    expected = set(records[np.asarray(oracle(records), dtype=bool)].index)
    assert 0 < len(expected) < len(records)
    response = client.get(ITEMS, params={"filter": text, "limit": 100})
    assert ids(response) == expected
    assert response.json()["numberMatched"] == len(expected)


def test_cql2_between_on_numbers(client, ctx):
    sensors = [r for batch in ctx.store.iter_features("sensors") for r in batch]
    expected = {r["id"] for r in sensors if 2.5 <= r["reading_value"] <= 6}
    got = ids(
        client.get(
            "/collections/sensors/items", params={"filter": "reading_value BETWEEN 2.5 AND 6"}
        )
    )
    assert got == expected and len(got) == 4


def test_cql2_json_matches_cql2_text(client):
    tree = {"op": "and", "args": [
        {"op": "=", "args": [{"property": "category"}, "noise"]},
        {"op": "in", "args": [{"property": "status"}, ["closed", "resolved"]]},
    ]}  # fmt: skip
    as_json = client.get(ITEMS, params={"filter": json.dumps(tree), "filter-lang": "cql2-json"})
    as_text = client.get(
        ITEMS, params={"filter": "category = 'noise' AND status IN ('closed','resolved')"}
    )
    assert as_json.json()["numberMatched"] == as_text.json()["numberMatched"] > 0


def test_cql2_on_boundaries_matches_shapely_and_pandas(client):
    units = hierarchy().query("level == 'grid'")
    probe = shapely.Point(113.63, 34.77)
    text = "S_INTERSECTS(geometry, POINT(113.63 34.77)) OR name LIKE '网格2%'"
    expected = set(units[units.intersects(probe) | units.name.str.startswith("网格2")]["code"])
    assert ids(client.get("/collections/grids/items", params={"filter": text})) == expected
    zone = ids(
        client.get("/collections/streets/items", params={"filter": "managing_zone = '410171'"})
    )
    assert zone == {"410105002"}


BAD_REQUESTS = [
    ({"bbox": "1,2,3"}, "bbox"),
    ({"bbox": "a,b,c,d"}, "bbox"),
    ({"bbox": "113.7,34.7,113.6,34.8"}, "bbox"),
    ({"filter": "category = "}, "filter"),
    ({"filter": "nosuchfield = 1"}, "queryable"),
    ({"filter": "category = 'x'", "filter-lang": "sql"}, "filter-lang"),
    ({"limit": "10001"}, "limit"),
    ({"limit": "0"}, "limit"),
    ({"offset": "-1"}, "offset"),
    ({"datetime": "yesterday"}, "datetime"),
    ({"datetime": "2026-02-01/2026-01-01"}, "datetime"),
    ({"properties": "category,nope"}, "nope"),
    ({"sortby": "nope"}, "nope"),
    ({"f": "xml"}, "f="),
]


@pytest.mark.parametrize(("params", "word"), BAD_REQUESTS, ids=[str(p) for p, _ in BAD_REQUESTS])
def test_invalid_parameters_are_400_with_a_json_body(client, params, word):
    response = client.get(ITEMS, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and body["code"] == "InvalidParameterValue"
    assert word in body["description"]


def test_html_items_page_links_each_item(client):
    response = client.get("/collections/grids/items", headers={"Accept": "text/html"})
    assert response.headers["content-type"].startswith("text/html")
    for code in hierarchy().query("level == 'grid'")["code"]:
        assert f"/collections/grids/items/{code}?f=html" in response.text
    item = client.get("/collections/grids/items/41010500100101?f=html")
    assert "worker 41010500100101" in item.text
    for page in (response, item):  # a Leaflet map of the features, from /static
        assert "/static/leaflet/leaflet.js" in page.text
        embedded = page.text.split('id="features">', 1)[1].split("</script>", 1)[0]
        assert "41010500100101" in {f["id"] for f in _features(json.loads(embedded))}


def _features(geojson: dict) -> list[dict]:
    return geojson["features"] if geojson["type"] == "FeatureCollection" else [geojson]


def test_embedded_geojson_cannot_close_its_script_element():
    hostile = b'{"type":"Feature","id":"x","geometry":null,"properties":{"t":"</script><b>"}}'
    html = render_page("http://x", "t", geojson=hostile).body.decode()
    embedded = html.split('id="features">', 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded)["properties"]["t"] == "</script><b>"


def test_generation_parameter_serves_another_generation(client, data_dir):
    registry = BoundaryRegistry(data_dir / "boundaries")
    renamed = hierarchy()
    renamed.loc[renamed.code == "410105", "name"] = "新金水区"
    staged = registry.stage(renamed, source="renamed")
    active = client.get("/collections/districts/items").json()["features"][0]
    other = client.get("/collections/districts/items", params={"generation": staged}).json()
    assert active["properties"]["name"] == "金水区"
    assert other["features"][0]["properties"]["name"] == "新金水区"
    assert client.get("/collections/districts/items?generation=g9999").status_code == 404


def test_filter_crs_other_than_crs84_is_refused(client):
    ok = client.get(ITEMS, params={"filter": "category = 'noise'", "filter-crs": "OGC:CRS84"})
    assert ok.status_code == 200
    refused = client.get(ITEMS, params={"filter": "category = 'noise'", "filter-crs": "EPSG:4326"})
    assert refused.status_code == 400 and "filter-crs" in refused.json()["description"]


def test_queryables_as_query_parameters(client, records):
    by_params = client.get(ITEMS, params={"category": "noise", "status": "closed", "limit": 100})
    expected = records[(records.category == "noise") & (records.status == "closed")]
    assert ids(by_params) == set(expected.index) and len(expected) > 0
    mixed = client.get(ITEMS, params={"channel": "web", "filter": "category = 'noise'"})
    both = records[(records.channel == "web") & (records.category == "noise")]
    assert mixed.json()["numberMatched"] == len(both)
    sensors = client.get("/collections/sensors/items", params={"reading_value": "3"}).json()
    assert [f["properties"]["name"] for f in sensors["features"]] == ["s3"]
    bad = client.get("/collections/sensors/items", params={"reading_value": "three"})
    assert bad.status_code == 400 and "reading_value" in bad.json()["description"]
    grids = client.get("/collections/grids/items", params={"parent_code": "410105002001"}).json()
    assert {f["id"] for f in grids["features"]} == {"41010500200101", "41010500200102"}
