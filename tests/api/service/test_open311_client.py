"""The ``georeport`` client from PyPI against a live server, in its JSON and its XML mode:
what it reads equals what the spec validator reads from the same answers."""

from __future__ import annotations

import httpx
import pytest
from georeport import GeoReport

from cityaware.api.testing import ThreadedServer
from tests.api.service.georeport_spec import validate


@pytest.fixture(scope="module")
def live(app):
    server = ThreadedServer(app.state.ctx)
    yield server.origin + "/open311/v2"
    server.stop()


@pytest.fixture(scope="module")
def made(live, role_keys):
    """Two requests POSTed over HTTP (the client has no POST), form encoded as the spec says."""
    ids = []
    for code, lat in (("noise", 34.752), ("drainage", 34.771)):
        form = {"service_code": code, "lat": lat, "long": 113.633, "description": f"{code} here",
                "api_key": role_keys["service"]}  # fmt: skip
        answer = httpx.post(f"{live}/requests.json", data=form)
        assert answer.status_code == 200, answer.text
        ids.append(validate("created", "json", answer.content)[0]["service_request_id"])
    return ids


def xml_typed(kind: str, url: str, **params):
    return validate(kind, "xml", httpx.get(url, params=params).content)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_client_reads_services_and_requests(live, made, fmt):
    client = GeoReport(live, output_format=fmt)
    services = client.get_service_list()
    typed = xml_typed("services", f"{live}/services.xml")
    assert [s["service_code"] for s in services] == [s["service_code"] for s in typed]
    definition = client.get_service_definition("noise")
    assert definition["service_code"] == "noise"
    attributes = definition["attributes"]
    attributes = attributes["attribute"] if fmt == "xml" else attributes  # xmltodict nesting
    assert [a["code"] for a in attributes] == ["priority", "title"]
    listed = client.get_service_requests(service_request_id=",".join(made))
    assert {r["service_request_id"] for r in listed} == set(made)
    one = client.get_service_request(made[0])
    expected = xml_typed("requests", f"{live}/requests/{made[0]}.xml")[0]
    assert one["service_request_id"] == expected["service_request_id"] == made[0]
    assert float(one["lat"]) == pytest.approx(expected["lat"])
    assert one["requested_datetime"] == expected["requested_datetime"]
    assert one["service_code"] == "noise" and one["status"] == "open"
