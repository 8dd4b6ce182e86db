"""The Open311 GeoReport v2 facade: field names and types per the spec, filters, paging."""

from __future__ import annotations

from datetime import datetime

import pytest

from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES

SERVICE_KEYS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
REQUEST_KEYS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
    "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url",
}  # fmt: skip


@pytest.fixture(scope="module")
def requests_made(client, role_keys):
    """Six requests through the Open311 POST (form encoded, api_key field)."""
    made = []
    for i, code in enumerate(["noise", "noise", "sanitation", "noise", "drainage", "noise"]):
        form = {
            "service_code": code,
            "lat": 34.745 + i * 0.005,
            "long": 113.605,
            "description": f"case {i}",
            "api_key": role_keys["service"],
            "media_url": f"https://photos.example/{i}.jpg",
        }
        answer = client.post("/open311/v2/requests.json", data=form)
        assert answer.status_code == 200, answer.text
        (created,) = answer.json()
        assert set(created) == {"service_request_id", "service_notice", "account_id"}
        made.append(created["service_request_id"])
    ops = {"X-API-Key": role_keys["ops"]}
    for status in ("dispatched", "in_progress", "resolved"):
        client.patch(f"/v1/incidents/{made[1]}", json={"status": status}, headers=ops)
    return made


def test_services_list_every_category_with_the_spec_fields(client):
    services = client.get("/open311/v2/services.json").json()
    assert [s["service_code"] for s in services] == list(DEFAULT_CATEGORIES)
    for service in services:
        assert set(service) == SERVICE_KEYS and service["type"] in ("realtime", "batch", "blackbox")
    definition = client.get("/open311/v2/services/noise.json").json()
    assert definition["service_code"] == "noise"
    for attribute in definition["attributes"]:
        assert {
            "variable",
            "code",
            "datatype",
            "required",
            "order",
            "description",
            "values",
        } <= set(attribute)
    assert client.get("/open311/v2/services/volcano.json").status_code == 404


def test_a_request_reads_back_with_the_spec_fields(client, requests_made):
    (record,) = client.get(f"/open311/v2/requests/{requests_made[0]}.json").json()
    assert set(record) == REQUEST_KEYS
    assert record["status"] == "open" and record["status_notes"] == "received"
    assert record["lat"] == pytest.approx(34.745) and record["long"] == pytest.approx(113.605)
    assert record["media_url"] == "https://photos.example/0.jpg"
    assert record["agency_responsible"]  # routed by the duty list
    assert datetime.fromisoformat(record["requested_datetime"]).tzinfo is not None
    (closed,) = client.get(f"/open311/v2/requests/{requests_made[1]}.json").json()
    assert closed["status"] == "closed" and closed["status_notes"] == "resolved"
    assert client.get("/open311/v2/requests/nope.json").status_code == 404


def test_filters_and_paging(client, requests_made):
    ids = ",".join(requests_made)
    everything = client.get("/open311/v2/requests.json", params={"service_request_id": ids}).json()
    assert {r["service_request_id"] for r in everything} == set(requests_made)
    noise_open = client.get(
        "/open311/v2/requests.json",
        params={"service_request_id": ids, "service_code": "noise", "status": "open"},
    ).json()
    assert {r["service_request_id"] for r in noise_open} == {requests_made[i] for i in (0, 3, 5)}
    pages = [
        client.get(
            "/open311/v2/requests.json",
            params={"service_request_id": ids, "page": page, "page_size": 4},
        ).json()
        for page in (1, 2, 3)
    ]
    assert [len(p) for p in pages] == [4, 2, 0]
    assert {r["service_request_id"] for p in pages for r in p} == set(requests_made)
    times = [r["requested_datetime"] for r in pages[0] + pages[1]]
    assert times == sorted(times, reverse=True)
    future = client.get("/open311/v2/requests.json", params={"start_date": "2199-01-01T00:00:00Z"})
    assert future.json() == []
    for bad in ("2999-01-01T00:00:00Z", "yesterday"):
        answer = client.get("/open311/v2/requests.json", params={"end_date": bad})
        assert answer.status_code == 400 and "end_date" in answer.json()[0]["description"]
    assert client.get("/open311/v2/requests.json", params={"status": "pending"}).status_code == 400


def test_a_request_needs_a_place_and_a_known_service(client, role_keys):
    key = role_keys["service"]
    no_place = client.post(
        "/open311/v2/requests.json", data={"service_code": "noise", "api_key": key}
    )
    assert no_place.status_code == 400
    half = {"service_code": "noise", "lat": 34.75, "api_key": key}
    assert client.post("/open311/v2/requests.json", data=half).status_code == 400
    unknown = {"service_code": "volcano", "lat": 34.75, "long": 113.61, "api_key": key}
    assert client.post("/open311/v2/requests.json", data=unknown).status_code == 400
    assert (
        client.post(
            "/open311/v2/requests.json",
            data={"service_code": "noise", "lat": 34.75, "long": 113.61},
        ).status_code
        == 401
    )


def test_errors_use_the_georeport_error_shape(client):
    answer = client.get("/open311/v2/requests/nope.json")
    assert answer.status_code == 404
    [error] = answer.json()
    assert error["code"] == 404 and "nope" in error["description"]
