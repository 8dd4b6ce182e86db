"""The Open311 GeoReport v2 endpoint: every answer in JSON and XML through a validator
written from the spec (tests/api/service/georeport_spec.py), checked against the store's
rows; attributes, private contacts, services at a point, errors in Open311 terms (tokens:
tests/api/hotline/test_intake.py, where the text reader is trained)."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.commands.demo import install_demo_city_files
from cityaware.api.settings import Settings
from cityaware.geo.store.contacts import get_contact
from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES, OPEN_STATUSES
from tests.api.service.conftest import ADMIN_KEY
from tests.api.service.georeport_spec import Invalid, validate
from tests.units import staged

BASE = "/open311/v2"
FORMATS = ("json", "xml")
CONTACT = {"email": "li.lei@example.cn", "first_name": "雷", "last_name": "李",
           "phone": "13800138000", "device_id": "dev-77", "account_id": "acct-9"}  # fmt: skip


def get(client, path: str, kind: str, fmt: str, **params):
    """GET ``path``.{fmt}: 200 and valid per the spec; the typed answer."""
    answer = client.get(f"{BASE}/{path}.{fmt}", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml" if fmt == "xml" else "applic")
    return validate(kind, fmt, answer.content)


def both(client, path: str, kind: str, **params):
    """The answer in JSON, after checking the XML answer says the same."""
    as_json = get(client, path, kind, "json", **params)
    assert get(client, path, kind, "xml", **params) == as_json
    return as_json


def error(answer, status: int, fmt: str = "json") -> str:
    """The one GeoReport error of a failed answer (validated), its description."""
    assert answer.status_code == status, answer.text
    [item] = validate("errors", fmt, answer.content)
    assert item["code"] == status
    return item["description"]


def city_clock(data_dir) -> ZoneInfo:
    """Oracle: the city's time zone as its profile file states it."""
    with open(data_dir / "city.toml", "rb") as handle:
        return ZoneInfo(tomllib.load(handle)["city"]["timezone"])


@pytest.fixture(scope="module")
def requests_made(client, role_keys):
    """Six requests through the Open311 POST (form encoded, api_key field), JSON and XML."""
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
        fmt = FORMATS[i % 2]
        answer = client.post(f"{BASE}/requests.{fmt}", data=form)
        assert answer.status_code == 200, answer.text
        (created,) = validate("created", fmt, answer.content)
        assert created["service_request_id"] and created["token"] is None
        made.append(created["service_request_id"])
    ops = {"X-API-Key": role_keys["ops"]}
    for status in ("dispatched", "in_progress", "resolved"):
        client.patch(f"/v1/incidents/{made[1]}", json={"status": status}, headers=ops)
    return made


def test_services_in_both_formats_follow_the_spec(client):
    services = both(client, "services", "services")
    assert [s["service_code"] for s in services] == list(DEFAULT_CATEGORIES)
    for code in ("noise", "sanitation"):
        definition = both(client, f"services/{code}", "definition")
        assert definition["service_code"] == code
        assert [a["order"] for a in definition["attributes"]] == [1, 2]
    for fmt in FORMATS:
        answer = client.get(f"{BASE}/services/volcano.{fmt}")
        assert "service_code" in error(answer, 404, fmt)


def test_discovery_names_this_endpoint(client):
    document = both(client, "discovery", "discovery")
    [endpoint] = document["endpoints"]
    assert endpoint["url"].endswith(BASE) and "GeoReport_v2" in endpoint["specification"]
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}


def test_requests_read_back_as_the_store_holds_them(app, client, staged_dir, requests_made):
    store, clock = app.state.ctx.store, city_clock(staged_dir)
    listed = both(client, "requests", "requests", service_request_id=",".join(requests_made))
    assert {r["service_request_id"] for r in listed} == set(requests_made)
    for request in listed:
        (alone,) = both(client, f"requests/{request['service_request_id']}", "requests")
        assert alone == request
        row = store.get("incidents", request["service_request_id"])
        assert request["status"] == ("open" if row["status"] in OPEN_STATUSES else "closed")
        assert request["status_notes"] == row["status"]
        assert (request["service_code"], request["description"]) == (
            row["category"],
            row["description"],
        )
        assert request["agency_responsible"] == row["office"]
        assert request["lat"] == pytest.approx(row["lat"]) and request["long"] == pytest.approx(
            row["lon"]
        )
        assert request["media_url"] == row["attributes"]["media_url"]
        for ours, theirs in (("requested_datetime", "reported_at"), ("updated_datetime",
                                                                       "updated_at")):  # fmt: skip
            told = datetime.fromisoformat(request[ours])
            stored = datetime.fromisoformat(row[theirs])
            assert told.utcoffset() == stored.astimezone(clock).utcoffset()  # the city's offset
            assert abs((told - stored).total_seconds()) < 1  # one precision: whole seconds
            assert told.microsecond == 0
    assert client.get(f"{BASE}/requests/nope.xml").status_code == 404


def test_filters_and_paging(client, requests_made):
    ids = ",".join(requests_made)
    noise_open = both(client, "requests", "requests", service_request_id=ids,
                      service_code="noise", status="open")  # fmt: skip
    assert {r["service_request_id"] for r in noise_open} == {requests_made[i] for i in (0, 3, 5)}
    pages = [
        both(client, "requests", "requests", service_request_id=ids, page=page, page_size=4)
        for page in (1, 2)
    ]
    assert [len(p) for p in pages] == [4, 2]
    assert client.get(f"{BASE}/requests.xml", params={"service_request_id": ids, "page": 3}
                      ).content.endswith(b"<service_requests />")  # fmt: skip
    assert {r["service_request_id"] for p in pages for r in p} == set(requests_made)
    times = [r["requested_datetime"] for r in pages[0] + pages[1]]
    assert times == sorted(times, reverse=True)
    assert both(client, "requests", "requests", start_date="2199-01-01T00:00:00Z") == []
    for bad in ("2999-01-01T00:00:00Z", "yesterday"):
        answer = client.get(f"{BASE}/requests.xml", params={"end_date": bad})
        assert "end_date" in error(answer, 400, "xml")
    assert "status" in error(client.get(f"{BASE}/requests.json", params={"status": "x"}), 400)


def test_attributes_are_checked_against_the_definition_and_stored(app, client, role_keys):
    key, store = role_keys["service"], app.state.ctx.store
    form = {"service_code": "noise", "lat": 34.75, "long": 113.61, "api_key": key,
            "attribute[priority]": "urgent", "attribute[title]": "夜间施工"}  # fmt: skip
    answer = client.post(f"{BASE}/requests.json", data=form)
    [created] = validate("created", "json", answer.content)
    row = store.get("incidents", created["service_request_id"])
    assert (row["priority"], row["title"]) == ("urgent", "夜间施工")
    assert row["attributes"]["service_attributes"] == {"priority": "urgent", "title": "夜间施工"}
    before = store.count("incidents")
    for name, value, said in (
        ("attribute[priority]", "whenever", "attribute[priority]"),
        ("attribute[volume]", "loud", "attribute[volume]"),
    ):
        bad = {**form, name: value}
        for fmt in FORMATS:
            assert said in error(client.post(f"{BASE}/requests.{fmt}", data=bad), 400, fmt)
    assert store.count("incidents") == before  # nothing half written


def test_contact_fields_are_stored_and_kept_out_of_public_reads(app, client, role_keys):
    form = {"service_code": "sanitation", "lat": 34.76, "long": 113.63,
            "api_key": role_keys["service"], **CONTACT}  # fmt: skip
    answer = client.post(f"{BASE}/requests.xml", data=form)
    [created] = validate("created", "xml", answer.content)
    assert created["account_id"] == CONTACT["account_id"]  # the spec echoes it
    case = created["service_request_id"]
    assert get_contact(app.state.ctx.store, case) == CONTACT
    reads = [f"{BASE}/requests/{case}.json", f"{BASE}/requests/{case}.xml",
             f"{BASE}/requests.json?service_request_id={case}", f"/v1/incidents/{case}",
             f"/collections/incidents/items/{case}", "/v1/changes?after=0&limit=10000"]  # fmt: skip
    for path in reads:
        body = client.get(path).text
        for value in (CONTACT["email"], CONTACT["phone"], CONTACT["device_id"]):
            assert value not in body, (path, value)


def test_errors_speak_open311(client, role_keys):
    key = role_keys["service"]
    cases = [
        ({"service_code": "noise", "lat": 34.75, "long": 113.61}, 401, "api_key"),
        ({"service_code": "noise", "lat": 34.75, "long": 113.61, "api_key": "ca_wrong"}, 401,
         "api_key"),
        ({"service_code": "noise", "lat": 34.75, "api_key": key}, 400, "long"),
        ({"service_code": "noise", "lat": "north", "long": 113.61, "api_key": key}, 400, "lat"),
        ({"service_code": "volcano", "lat": 34.75, "long": 113.61, "api_key": key}, 400,
         "service_code"),
        ({"lat": 34.75, "long": 113.61, "api_key": key}, 400, "service_code"),
        ({"service_code": "noise", "address_string": "火星基地一号", "api_key": key}, 422,
         "address_string"),
    ]  # fmt: skip
    for form, status, word in cases:
        for fmt in FORMATS:
            said = error(client.post(f"{BASE}/requests.{fmt}", data=form), status, fmt)
            assert word in said, (form, said)
    with pytest.raises(Invalid):  # the validator does refuse what breaks the spec
        validate("errors", "xml", b"<errors><error><status>1</status></error></errors>")


@pytest.fixture(scope="module")
def refusing(tmp_path_factory, units):
    """A server whose duty list does not take noise cases east of 113.62°E (zone 410172)."""
    data_dir = tmp_path_factory.mktemp("refusing")
    install_demo_city_files(data_dir)
    staged(data_dir, units)
    rules = (data_dir / "duty-list.csv").read_text(encoding="utf-8").splitlines()
    rules.insert(1, "R001,1,noise,,410172,-")
    (data_dir / "duty-list.csv").write_text("\n".join(rules) + "\n", encoding="utf-8")
    with TestClient(create_app(Settings(data_dir=data_dir, admin_key=ADMIN_KEY))) as client:
        yield client


def test_services_at_a_point_are_those_taken_there(refusing):
    west = {s["service_code"] for s in both(refusing, "services", "services", lat=34.75,
                                            long=113.61)}  # fmt: skip
    east = {s["service_code"] for s in both(refusing, "services", "services", lat=34.75,
                                            long=113.63)}  # fmt: skip
    assert west == set(DEFAULT_CATEGORIES) and east == west - {"noise"}
    assert both(refusing, "services", "services", lat=30.0, long=120.0) == []  # not this city
    assert "long" in error(refusing.get(f"{BASE}/services.json", params={"lat": 34.75}), 400)
    form = {"service_code": "noise", "lat": 34.75, "long": 113.63, "api_key": ADMIN_KEY}
    said = error(refusing.post(f"{BASE}/requests.xml", data=form), 422, "xml")
    assert "lat/long" in said and "not taken" in said


def test_a_search_covers_at_most_90_days(app, client, requests_made):
    """GeoReport's default window: the last 90 days; a longer range is refused."""
    store, now = app.state.ctx.store, datetime.now(UTC)
    old = (now - timedelta(days=120)).isoformat()
    stale = store.add("incidents", {"category": "noise", "lon": 113.605, "lat": 34.75,
                                    "reported_at": old, "description": "stale"})  # fmt: skip
    assert store.get("incidents", stale["id"])["reported_at"].startswith(old[:16])
    recent = {r["service_request_id"] for r in both(client, "requests", "requests")}
    assert set(requests_made) <= recent and stale["id"] not in recent
    start = (now - timedelta(days=125)).isoformat()
    earlier = {r["service_request_id"] for r in both(client, "requests", "requests",
                                                     start_date=start)}  # fmt: skip
    assert stale["id"] in earlier and not set(requests_made) & earlier
    for fmt in FORMATS:
        answer = client.get(f"{BASE}/requests.{fmt}",
                            params={"start_date": start, "end_date": now.isoformat()})  # fmt: skip
        assert "90 days" in error(answer, 400, fmt)
    (alone,) = both(client, "requests", "requests", service_request_id=stale["id"])
    assert alone["service_request_id"] == stale["id"]  # a look-up by id has no window
