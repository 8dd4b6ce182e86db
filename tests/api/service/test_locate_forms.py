"""POST /v1/locate: every point form (pairs, x/y and lon/lat objects, binary, Arrow), both
answer layouts and the Arrow answer, checked against shapely's covers."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pytest

from tests.api.service.conftest import covering_grids
from tests.api.service.test_locate import random_points

ARROW = "application/vnd.apache.arrow.stream"


def oracle(grids, points: np.ndarray) -> list[str | None]:
    return [(covering_grids(grids, x, y) or [None])[0] for x, y in points]


def arrow_table(content: bytes) -> pa.Table:
    return pa.ipc.open_stream(content).read_all()


def test_point_objects_named_like_the_single_form_pairs_and_xy_alike(client, grids):
    points = random_points(300, seed=21)
    forms = [
        {"id": k, "lon": x, "lat": y} if k % 3 == 0 else {"id": f"p{k}", "x": x, "y": y}
        for k, (x, y) in enumerate(points.tolist())
    ]
    forms[1] = points[1].tolist()  # a pair among the objects
    answer = client.post(
        "/v1/locate", params={"layout": "records"}, json={"crs": "WGS84", "points": forms}
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["grid"] for r in results] == oracle(grids, points)
    assert results[0]["id"] == 0 and results[1]["id"] == 1 and results[2]["id"] == "p2"
    bad = client.post("/v1/locate", json={"crs": "WGS84", "points": [{"lon": 113.6}]})
    assert bad.status_code == 400 and '"lon" and "lat"' in bad.json()["description"]


def test_records_and_columns_are_the_same_answers(client, grids):
    payload = {"crs": "WGS84", "points": random_points(500, seed=22).tolist()}
    records = client.post("/v1/locate", params={"layout": "records"}, json=payload).json()
    columns = client.post("/v1/locate", params={"layout": "columns"}, json=payload).json()
    assert records["areas"] == columns["areas"] and records["count"] == columns["count"] == 500
    for name in ("status", "grid", "district", "nearest_grid", "candidates"):
        assert [r[name] for r in records["results"]] == columns["results"][name]


def test_binary_body_and_arrow_answer_equal_the_json_answer(client, grids):
    points = random_points(2000, seed=23)
    json_answer = client.post("/v1/locate", json={"crs": "WGS84", "points": points.tolist()})
    expected = json_answer.json()["results"]
    binary = client.post(
        "/v1/locate",
        params={"crs": "WGS84"},
        content=points.astype("<f8").tobytes(),
        headers={"Content-Type": "application/octet-stream", "Accept": ARROW},
    )
    assert binary.status_code == 200 and binary.headers["content-type"] == ARROW
    table = arrow_table(binary.content)
    assert table["grid"].to_pylist() == expected["grid"] == oracle(grids, points)
    for name in ("status", "level", "district", "city", "nearest_grid", "candidates"):
        assert table[name].to_pylist() == expected[name], name
    assert np.allclose(
        table["distance_m"].to_numpy(zero_copy_only=False),
        np.array(expected["distance_m"], dtype=float),
        atol=0.006,
        equal_nan=True,
    )
    header = orjson.loads(table.schema.metadata[b"header"])
    assert (
        header["count"] == 2000
        and orjson.loads(table.schema.metadata[b"areas"]) == (json_answer.json()["areas"])
    )


def test_arrow_body_with_ids_and_no_candidates(client, grids):
    points = random_points(400, seed=24)
    request = pa.table(
        {"id": [f"r{k}" for k in range(400)], "lon": points[:, 0], "lat": points[:, 1]}
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, request.schema) as writer:
        writer.write_table(request)
    answer = client.post(
        "/v1/locate",
        params={"crs": "WGS84", "candidates": "false", "layout": "records"},
        content=sink.getvalue().to_pybytes(),
        headers={"Content-Type": ARROW},
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["id"] for r in results] == request["id"].to_pylist()
    assert [r["grid"] for r in results] == oracle(grids, points)
    assert all(r["candidates"] is None for r in results)


@pytest.mark.parametrize(
    ("content_type", "body", "fragment"),
    [
        ("application/octet-stream", b"\x00" * 17, "16 bytes per point"),
        (ARROW, b"not arrow", "not an Arrow IPC stream"),
        ("application/xml", b"<points/>", "unsupported Content-Type"),
    ],
)
def test_bad_binary_bodies_are_a_clear_400(client, content_type, body, fragment):
    answer = client.post(
        "/v1/locate", params={"crs": "WGS84"}, content=body, headers={"Content-Type": content_type}
    )
    assert answer.status_code == 400 and fragment in answer.json()["description"]
