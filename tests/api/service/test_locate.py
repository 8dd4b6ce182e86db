"""GET/POST /v1/locate through HTTP, checked against shapely, pyproj and prcoords."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import prcoords
import pytest
import shapely
from pyproj import Transformer

from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.crs import from_lonlat
from tests.api.service.conftest import EAST, covering_grids

AREA_KEYS = {"code", "name", "level", "type_name", "code_system", "parent_code"}
CRS_NAMES = [
    "WGS84",
    "EPSG:4326",
    "CGCS2000",
    "EPSG:4490",
    "GCJ02",
    "GCJ-02",
    "BD09",
    "BD-09",
    "EPSG:4547",
    "EPSG:4526",
    "EPSG:3857",
]


def interior_points(grids):
    """One point well inside each grid (shapely's representative point)."""
    return [
        (code, geom.representative_point())
        for code, geom in zip(grids.code, grids.geometry, strict=True)
    ]


@pytest.mark.parametrize("crs", CRS_NAMES)
def test_every_crs_finds_the_grid_that_covers_the_point(client, grids, crs):
    for code, point in interior_points(grids):
        x, y = from_lonlat(point.x, point.y, crs)
        answer = client.get("/v1/locate", params={"lon": float(x), "lat": float(y), "crs": crs})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["grid"]["code"] == code == covering_grids(grids, point.x, point.y)[0]
        assert body["status"] == "inside" and body["on_boundary"] is False
        assert body["location"]["wgs84"] == pytest.approx([point.x, point.y], abs=1e-7)


@pytest.mark.parametrize(
    ("crs", "convert"),
    [("GCJ02", prcoords.wgs_gcj), ("BD09", prcoords.wgs_bd)],
)
def test_chinese_offsets_agree_with_prcoords(client, grids, crs, convert):
    for code, point in interior_points(grids):
        shifted = convert(prcoords.Coords(point.y, point.x))
        body = client.get(
            "/v1/locate", params={"lon": shifted.lon, "lat": shifted.lat, "crs": crs}
        ).json()
        assert body["grid"]["code"] == code
        assert body["location"]["wgs84"] == pytest.approx([point.x, point.y], abs=2e-5)
        gcj = prcoords.wgs_gcj(prcoords.Coords(point.y, point.x))
        assert body["location"]["gcj02"] == pytest.approx([gcj.lon, gcj.lat], abs=1e-6)


def stored_units(staged_dir):
    """The units as staged (the import derives the city level above the district)."""
    return BoundaryRegistry(staged_dir / "boundaries").units()


def test_answer_has_the_uniform_area_shape_and_the_chain(client, grids, staged_dir):
    code, point = interior_points(grids)[-1]  # east street: managed by zone 410172
    body = client.get("/v1/locate", params={"lon": point.x, "lat": point.y, "crs": "WGS84"}).json()
    records = stored_units(staged_dir).set_index("code")
    chain = [area["code"] for area in body["chain"]]
    expected = [code]
    while records.loc[expected[-1], "parent_code"]:
        expected.append(records.loc[expected[-1], "parent_code"])
    assert chain == expected
    for area in [body["grid"], *body["chain"], body["managing_zone"]]:
        assert set(area) == AREA_KEYS
    assert [a["type_name"] for a in body["chain"]] == ["网格", "社区", "街道", "区", "市"]
    assert body["chain"][1]["name"] == records.loc[expected[1], "name"]
    assert body["grid"]["code_system"] == "NBS-2023"
    assert body["managing_zone"]["code"] == "410172"
    assert body["candidates"] is None and body["nearest_grid"] is None
    assert body["generation"] == body["data_version"]["grids"]


def test_point_on_a_shared_edge_is_on_boundary_with_the_neighbour_as_candidate(client, grids):
    lon, lat = 113.61, 34.75  # edge between the first two western grids
    covering = covering_grids(grids, lon, lat)
    assert len(covering) == 2
    body = client.get("/v1/locate", params={"lon": lon, "lat": lat, "crs": "WGS84"}).json()
    assert body["status"] == "on_boundary" and body["on_boundary"] is True
    assert body["grid"]["code"] == covering[0]  # tie rule: smallest code
    assert [c["code"] for c in body["candidates"]] == covering[1:]


def test_point_outside_reports_the_nearest_grid_and_its_true_distance(client, grids):
    lon, lat = EAST + 0.004, 34.75
    body = client.get("/v1/locate", params={"lon": lon, "lat": lat, "crs": "WGS84"}).json()
    assert body["outside"] is True and body["grid"] is None and body["chain"] is None
    to_metric = Transformer.from_crs(4326, 4547, always_xy=True)
    metric = grids.to_crs(4547)
    point = shapely.Point(*to_metric.transform(lon, lat))
    distances = metric.geometry.distance(point)
    nearest = metric.loc[distances.idxmin(), "code"]
    assert body["nearest_grid"]["grid"]["code"] == nearest
    assert body["nearest_grid"]["distance_m"] == pytest.approx(distances.min(), abs=0.5)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"lon": 34.75, "lat": 113.62, "crs": "WGS84"}, "swapped"),
        ({"lon": 113.62, "lat": 34.75, "crs": "EPSG:999999"}, "unknown CRS"),
        ({"lon": 113.62, "lat": 34.75, "crs": "MARS"}, "unknown CRS"),
        ({"lon": 113.62, "lat": 34.75}, "crs"),
        ({"lon": "nan", "lat": 34.75, "crs": "WGS84"}, "finite"),
        ({"lon": "east", "lat": 34.75, "crs": "WGS84"}, "lon"),
    ],
)
def test_bad_points_are_a_clear_400(client, params, fragment):
    answer = client.get("/v1/locate", params=params)
    assert answer.status_code == 400
    assert fragment in answer.json()["description"]


def test_an_address_naming_a_grid_is_located_in_that_grid(client, grids):
    body = client.get("/v1/locate", params={"address": "金水区街道2社区2网格2-4"}).json()
    code = grids.loc[grids["name"] == "网格2-4", "code"].item()
    assert body["grid"]["code"] == code and body["match"]["method"] == "address"
    lon, lat = body["location"]["wgs84"]
    assert covering_grids(grids, lon, lat) == [code]


def test_an_address_certain_down_to_a_community_answers_it_without_a_grid(client, staged_dir):
    answer = client.get("/v1/locate", params={"address": "金水区街道1社区1"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    units = stored_units(staged_dir)
    community = units.loc[units["name"] == "社区1", "code"].item()
    parents = dict(zip(units["code"], units["parent_code"], strict=True))
    chain = [community]
    while parents.get(chain[-1]):
        chain.append(parents[chain[-1]])
    assert body["level"] == "community" and body["grid"] is None
    assert [a["code"] for a in body["chain"]] == chain
    assert body["grid_trusted"] is False and community in body["grid_reason"]


def test_an_address_that_resolves_to_nothing_is_a_clear_422(client):
    assert client.get("/v1/locate", params={"address": "火星路1号"}).status_code == 422
    assert client.get("/v1/locate", params={"address": "x" * 201}).status_code == 400


def random_points(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(113.595, 113.645, n), rng.uniform(34.735, 34.785, n)])


def test_json_batch_matches_shapely_for_every_point(client, grids):
    points = random_points(2000)
    payload = {"crs": "WGS84", "points": points.tolist()}
    body = client.post("/v1/locate", params={"layout": "records"}, json=payload).json()
    assert body["count"] == 2000 and len(body["results"]) == 2000
    for (lon, lat), result in zip(points, body["results"], strict=True):
        covering = covering_grids(grids, lon, lat)
        assert result["grid"] == (covering[0] if covering else None)
        assert result["outside"] == (not covering)
        for code in filter(None, (result["grid"], result["community"], result["nearest_grid"])):
            assert set(body["areas"][code]) == AREA_KEYS


def test_batch_areas_are_every_mentioned_unit_and_its_record(client, grids, staged_dir):
    """The areas object holds exactly the units the results name (plus the chains of
    the nearest grids), each as its stored record says."""
    points = np.r_[random_points(1500, seed=5), [[113.58, 34.73], [113.66, 34.80]]]  # outside
    body = client.post("/v1/locate", json={"crs": "WGS84", "points": points.tolist()}).json()
    results, areas = body["results"], body["areas"]
    records = stored_units(staged_dir).set_index("code")
    mentioned = {c for k in _CHAIN for c in results[k] if c}
    mentioned |= {c for cands in results["candidates"] if cands for c in cands}
    for code in filter(None, results["nearest_grid"]):
        while code:  # the nearest grid's whole chain is described too
            mentioned.add(code)
            code = records.loc[code, "parent_code"] or None
    assert any(results["nearest_grid"]) and any(results["candidates"])
    zones = set(filter(None, results["managing_zone"]))
    assert set(areas) == mentioned
    for code, area in areas.items():
        assert set(area) == AREA_KEYS and area["code"] == code
        if code not in zones:
            name, level = records.loc[code, ["name", "level"]]
            assert (area["name"], area["level"]) == (name or None, level)


_CHAIN = ("grid", "community", "street", "district", "city", "managing_zone")


def test_batch_with_ids_in_gcj02_agrees_with_single_lookups(client):
    points = random_points(40, seed=3)
    gx, gy = from_lonlat(points[:, 0], points[:, 1], "GCJ02")
    payload = {
        "crs": "GCJ02",
        "points": [
            {"id": f"p{i}", "x": x, "y": y} for i, (x, y) in enumerate(zip(gx, gy, strict=True))
        ],
    }
    batch = client.post("/v1/locate", params={"layout": "records"}, json=payload).json()
    columns = client.post("/v1/locate", json=payload).json()  # the default layout
    assert columns["layout"] == "columns" and columns["areas"] == batch["areas"]
    for i, result in enumerate(batch["results"]):
        single = client.get(
            "/v1/locate", params={"lon": gx[i], "lat": gy[i], "crs": "GCJ02"}
        ).json()
        assert result["id"] == f"p{i}"
        assert result["grid"] == (single["grid"] or {}).get("code")
        assert result["status"] == single["status"]
        assert columns["results"]["grid"][i] == result["grid"]


def test_csv_batch_in_a_projected_crs_and_csv_out(client, grids):
    points = random_points(300, seed=11)
    x, y = from_lonlat(points[:, 0], points[:, 1], "EPSG:4547")
    csv = pd.DataFrame({"id": [f"r{i}" for i in range(len(x))], "x": x, "y": y}).to_csv(index=False)
    answer = client.post(
        "/v1/locate",
        params={"crs": "EPSG:4547"},
        content=csv.encode(),
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    table = pd.read_csv(io.StringIO(answer.text), dtype={"grid": str, "id": str})
    assert table["id"].tolist() == [f"r{i}" for i in range(len(x))]
    for (lon, lat), grid in zip(points, table["grid"], strict=True):
        covering = covering_grids(grids, lon, lat)
        assert (grid if isinstance(grid, str) else None) == (covering[0] if covering else None)


def test_batch_limits(client):
    too_many = {"crs": "WGS84", "points": random_points(10_001).tolist()}
    answer = client.post("/v1/locate", json=too_many)
    assert answer.status_code == 400 and "at most 10000" in answer.json()["description"]
    huge = b'{"crs": "WGS84", "points": [' + b"[113.61, 34.75]," * 400_000 + b"[113.61, 34.75]]}"
    assert (
        client.post(
            "/v1/locate", content=huge, headers={"Content-Type": "application/json"}
        ).status_code
        == 413
    )
    assert client.post("/v1/locate", json={"crs": "WGS84", "points": []}).status_code == 400
    ragged = client.post("/v1/locate", json={"crs": "WGS84", "points": [[1, 2, 3]]})
    assert ragged.status_code == 400
    bad_row = client.post(
        "/v1/locate", json={"crs": "WGS84", "points": [[113.61, 34.75], [34.75, 113.61]]}
    )
    assert bad_row.status_code == 400 and "row 1" in bad_row.json()["description"]
    no_crs = client.post(
        "/v1/locate", content=b"x,y\n113.61,34.75\n", headers={"Content-Type": "text/csv"}
    )
    assert no_crs.status_code == 400 and "crs" in no_crs.json()["description"]


@pytest.mark.parametrize("near_m", [0.0, 50.0, 400.0])
def test_near_m_lists_every_other_grid_within_that_many_metres(client, grids, near_m):
    lon, lat = 113.6095, 34.7590  # ~46 m west and ~111 m south of grid corners
    body = client.get(
        "/v1/locate", params={"lon": lon, "lat": lat, "crs": "WGS84", "near_m": near_m}
    ).json()
    metric = grids.to_crs(4547)
    point = shapely.Point(*Transformer.from_crs(4326, 4547, always_xy=True).transform(lon, lat))
    own = body["grid"]["code"]
    expected = sorted(metric.loc[metric.geometry.distance(point) <= near_m, "code"])
    expected = [c for c in expected if c != own]
    assert [c["code"] for c in body["candidates"] or []] == expected
    far = client.get("/v1/locate", params={"lon": lon, "lat": lat, "crs": "WGS84", "near_m": 9e9})
    assert far.status_code == 400


def test_an_older_generation_answers_by_name(staged_dir, units):
    from fastapi.testclient import TestClient

    from cityaware.api.app import create_app
    from cityaware.api.settings import Settings
    from cityaware.geo.boundaries.generations import BoundaryRegistry

    registry = BoundaryRegistry(staged_dir / "boundaries")
    first = registry.active()
    renamed = units.assign(name=units["name"] + "（新）")
    second = registry.stage(renamed, source="renamed")
    client = TestClient(create_app(Settings(data_dir=staged_dir)))
    params = {"lon": 113.605, "lat": 34.745, "crs": "WGS84"}
    old = client.get("/v1/locate", params=params | {"generation": first}).json()
    new = client.get("/v1/locate", params=params | {"generation": second}).json()
    assert old["generation"] == first and not old["grid"]["name"].endswith("（新）")
    assert new["generation"] == second and new["grid"]["name"].endswith("（新）")
    assert old["grid"]["code"] == new["grid"]["code"]
    missing = client.get("/v1/locate", params=params | {"generation": "g9999"})
    assert missing.status_code == 404


def test_csv_with_a_bom_and_lon_lat_header_keeps_its_ids(client, grids):
    csv = "\ufeffid,lon,lat\nA-1,113.605,34.745\nA-2,113.635,34.775\n".encode()
    answer = client.post(
        "/v1/locate",
        params={"crs": "WGS84"},
        content=csv,
        headers={"Content-Type": "text/csv"},
    )
    results = answer.json()["results"]
    assert results["id"] == ["A-1", "A-2"]
    assert results["grid"] == [
        covering_grids(grids, 113.605, 34.745)[0],
        covering_grids(grids, 113.635, 34.775)[0],
    ]
