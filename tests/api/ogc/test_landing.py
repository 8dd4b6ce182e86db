"""Landing page, conformance and the OpenAPI document (common-1: core, landing-page, json,
html, oas30)."""

from __future__ import annotations

from openapi_spec_validator.validation import OpenAPIV30SpecValidator

from cityaware.api.ogc.landing import CONFORMANCE

OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def test_landing_links_follow_the_interop_rules(client):
    response = client.get("/")
    assert response.headers["content-type"] == "application/json"
    links = {link["rel"]: link for link in response.json()["links"]}
    assert links["service-desc"]["type"] == OPENAPI
    assert links["service-desc"]["href"] == "http://testserver/api"
    assert links["service-doc"]["href"] == "http://testserver/api.html"
    assert links["conformance"]["href"] == "http://testserver/conformance"
    assert links["data"] == {
        "href": "http://testserver/collections",
        "rel": "data",
        "type": "application/json",
        "title": "The collections",
    }
    assert links["self"]["type"] == "application/json"


def test_links_honour_forwarded_headers(client):
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "maps.example.cn",
        "X-Forwarded-Prefix": "/ogc",
    }
    links = client.get("/", headers=headers).json()["links"]
    assert all(link["href"].startswith("https://maps.example.cn/ogc/") for link in links)
    page = client.get("/collections/grids/items?limit=2", headers=headers).json()
    next_link = next(link for link in page["links"] if link["rel"] == "next")
    assert next_link["href"].startswith("https://maps.example.cn/ogc/collections/grids/items?")


def test_conformance_declares_the_right_uris(client):
    declared = client.get("/conformance").json()["conformsTo"]
    assert declared == list(CONFORMANCE)
    assert "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page" in declared
    assert not any("landingPage" in uri for uri in declared)
    assert all(uri.startswith("http://www.opengis.net/spec/") for uri in declared)


def test_html_by_f_and_by_accept(client):
    by_f = client.get("/?f=html")
    by_accept = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    for response in (by_f, by_accept):
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>cityaware</h1>" in response.text
    assert "ogcapi-features-1" in client.get("/conformance?f=html").text
    assert client.get("/collections?f=html").text.count("/collections/") >= 7


def test_unknown_format_is_a_400_with_a_json_body(client):
    response = client.get("/?f=xml")
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameterValue"


def test_openapi_is_3_0_with_the_ogc_media_type_and_limit_bounds(client):
    response = client.get("/api")
    assert response.headers["content-type"] == OPENAPI
    document = response.json()
    assert document["openapi"].startswith("3.0")
    assert [str(e)[:200] for e in OpenAPIV30SpecValidator(document).iter_errors()] == []
    assert '"type": "null"' not in response.text and '"type":"null"' not in response.text
    shared = document["components"]["parameters"]
    limit = shared["limit"]  # the only place QGIS reads its page size from
    assert limit["schema"]["default"] == 10
    assert limit["schema"]["maximum"] == 10000
    for path in ("/collections/{collectionId}/items", "/collections/incidents/items"):
        refs = {p["$ref"] for p in document["paths"][path]["get"]["parameters"] if "$ref" in p}
        names = {"limit", "bbox", "datetime", "offset", "filter", "filter-lang", "crs"}
        names |= {"bbox-crs", "properties", "sortby", "cursor"}
        assert {f"#/components/parameters/{n}" for n in names} <= refs
    incidents = document["paths"]["/collections/incidents/items"]["get"]["parameters"]
    queryables = client.get("/collections/incidents/queryables").json()["properties"]
    own = [shared[p["$ref"].rsplit("/", 1)[1]] for p in incidents if ".status" in p["$ref"]]
    assert own and own[0]["name"] == "status"
    for parameter in shared.values():  # as QGIS needs them to filter on the server
        assert parameter["in"] == "query" and parameter["style"] == "form"
        assert parameter["explode"] is False and "type" in parameter["schema"]
    typed = {shared[f"incidents.{n}"]["schema"]["type"] for n in ("distance_m", "reported_at")}
    assert typed == {queryables["distance_m"]["type"], queryables["reported_at"]["type"]}
    assert {"/", "/conformance", "/collections", "/collections/{collectionId}"} <= set(
        document["paths"]
    )
    assert client.get("/api.html").status_code == 200
