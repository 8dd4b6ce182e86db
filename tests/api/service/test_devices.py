"""OGC API - Features Part 4 on cameras and sensors: round trips with grids, bad input."""

from __future__ import annotations

import uuid

import pytest
from pyproj import Transformer

from tests.api.service.conftest import covering_grids

EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4547 = "http://www.opengis.net/def/crs/EPSG/0/4547"


def feature(lon, lat, **properties):
    geometry = {"type": "Point", "coordinates": [lon, lat]}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def headers(key, crs=None):
    out = {"X-API-Key": key}
    if crs:
        out["Content-Crs"] = f"<{crs}>"
    return out


def count(client, kind):
    return client.get(f"/collections/{kind}/items?limit=1").json()["numberMatched"]


def check_grid(body, grids, lon, lat):
    """The item's grid chain is the one shapely finds for the point."""
    props = body["properties"]
    expected = covering_grids(grids, lon, lat)
    assert props["grid_code"] == expected[0]
    assert props["community_code"] == expected[0][:12]
    assert props["district_code"] == "410105"
    assert body["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-7)


@pytest.mark.parametrize("kind", ["cameras", "sensors"])
def test_create_replace_update_delete_round_trip(client, role_keys, grids, kind):
    key = role_keys["service"]
    fid = f"p4-{uuid.uuid4().hex[:8]}"
    body = feature(113.605, 34.745, name="gate", device_kind="water_level") | {"id": fid}
    created = client.post(f"/collections/{kind}/items", json=body, headers=headers(key))
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(f"/collections/{kind}/items/{fid}")
    check_grid(created.json(), grids, 113.605, 34.745)
    fetched = client.get(created.headers["Location"]).json()
    check_grid(fetched, grids, 113.605, 34.745)
    assert fetched["properties"]["name"] == "gate"

    # PUT in EPSG:4326 (lat/lon axis order): every property replaced, the grid re-assigned
    lon, lat = 113.635, 34.775
    put = client.put(
        f"/collections/{kind}/items/{fid}",
        json=feature(lat, lon, name="moved"),
        headers=headers(key, EPSG4326),
    )
    assert put.status_code == 200, put.text
    check_grid(put.json(), grids, lon, lat)
    assert put.json()["properties"]["device_kind"] is None

    # PATCH only the name: position and grid stay
    patched = client.patch(
        f"/collections/{kind}/items/{fid}",
        json={"type": "Feature", "properties": {"name": "renamed", "online": False}},
        headers=headers(key),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["properties"]["name"] == "renamed"
    assert patched.json()["properties"]["online"] is False
    check_grid(patched.json(), grids, lon, lat)

    # PATCH the position in Gauss-Krüger metres (EPSG:4547: northing, easting)
    east, north = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True).transform(
        113.615, 34.765
    )
    moved = client.patch(
        f"/collections/{kind}/items/{fid}",
        json={"type": "Feature", "geometry": {"type": "Point", "coordinates": [north, east]}},
        headers=headers(key, EPSG4547),
    )
    assert moved.status_code == 200, moved.text
    check_grid(moved.json(), grids, 113.615, 34.765)

    assert (
        client.delete(f"/collections/{kind}/items/{fid}", headers=headers(key)).status_code == 204
    )
    assert client.get(f"/collections/{kind}/items/{fid}").status_code == 404
    assert (
        client.delete(f"/collections/{kind}/items/{fid}", headers=headers(key)).status_code == 404
    )


def test_writes_need_a_service_key_and_reads_follow_the_read_policy(client, role_keys):
    body = feature(113.605, 34.745)
    assert client.post("/collections/cameras/items", json=body).status_code == 401
    gis = client.post("/collections/cameras/items", json=body, headers=headers(role_keys["gis"]))
    assert gis.status_code == 403
    assert client.get("/collections/cameras/items?limit=1").status_code == 200


@pytest.mark.parametrize(
    ("body", "crs", "status", "words"),
    [
        (
            feature(113.605, 34.745),
            "http://www.opengis.net/def/crs/EPSG/0/3857",
            400,
            "Content-Crs",
        ),
        (feature(113.700, 34.745), None, 422, "outside every grid"),
        (
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
            },
            None,
            400,
            "Point",
        ),
        (feature(113.605, 34.745, colour="red"), None, 400, "colour"),
        (feature(113.605, 34.745, alarm=True), None, 400, "alarm"),
        (feature(113.605, 34.745, grid_code="x"), None, 400, "grid_code"),
        ({"type": "FeatureCollection", "features": []}, None, 400, "Feature"),
        (feature(34.745, 113.605), EPSG4326 + "x", 400, "Content-Crs"),
    ],
)
def test_bad_input_is_a_4xx_and_writes_nothing(client, role_keys, body, crs, status, words):
    before = count(client, "sensors")
    answer = client.post(
        "/collections/sensors/items", json=body, headers=headers(role_keys["ops"], crs)
    )
    assert answer.status_code == status, answer.text
    assert words in answer.json()["description"]
    assert count(client, "sensors") == before


def test_other_collections_are_not_writable_and_options_lists_methods(client, role_keys):
    answer = client.post(
        "/collections/grids/items",
        json=feature(113.605, 34.745),
        headers=headers(role_keys["admin"]),
    )
    assert answer.status_code == 404
    assert "POST" in client.options("/collections/cameras/items").headers["Allow"]
    assert "DELETE" in client.options("/collections/sensors/items/x").headers["Allow"]
    assert "POST" not in client.options("/collections/grids/items").headers["Allow"]


def test_conformance_declares_part_4(client):
    classes = client.get("/conformance").json()["conformsTo"]
    part4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/"
    assert part4 + "create-replace-delete" in classes and part4 + "update" in classes
