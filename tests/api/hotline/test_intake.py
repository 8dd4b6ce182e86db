"""Free-text intake through HTTP: place forms, categories, the review queue, bad input.

Oracles: the engine (GridLocator.locate) for the grid of an address point or place,
the units' own codes for communities and streets, the stored rows for "nothing written".
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.api.hotline.conftest import ADMIN, first_of_kind, post
from tests.api.service.georeport_spec import validate

pytestmark = pytest.mark.slow

# One sentence per category, in words of their own (not the training phrasings).
BY_CATEGORY = {
    "road_damage": "路面坑洼不平开车很颠",
    "manhole_cover": "井盖不见了很危险",
    "street_light": "路灯晚上不亮",
    "sanitation": "垃圾没人清运都臭了",
    "illegal_parking": "有车违停堵住消防通道",
    "noise": "晚上噪音扰民睡不着",
    "water_supply": "家里停水两天了",
    "drainage": "下水道堵塞污水冒出来",
    "greenery": "大树倾斜快倒了",
    "construction": "楼顶有人私搭违建",
    "street_vendor": "摊贩占道经营",
    "air_pollution": "饭店油烟扰民",
    "public_safety": "楼道里电动车充电有安全隐患",
    "elderly_care": "独居老人需要帮助",
}


def _counts(ctx):
    return ctx.store.count("incidents"), len(ctx.store.tables)


def test_every_category_is_read_from_the_text(ctx):
    reader = ctx.text_reader
    for category, text in BY_CATEGORY.items():
        guess = reader.classify(text)
        assert guess.category == category, (text, guess)
        assert guess.words and all(word in text for word in guess.words)


def test_the_fast_scoring_path_gives_the_pipelines_probabilities(ctx):
    model = ctx.text_reader.model
    texts = [*BY_CATEGORY.values(), "路灯不亮，地点在纬五路12号", "？？", "abc 井盖"]
    expected = model.pipeline.predict_proba(texts)
    for text, want in zip(texts, expected, strict=True):
        assert np.allclose(model.probabilities(text)[0], want, atol=1e-9), text


def test_an_address_sentence_is_pinned_to_its_grid_and_dispatched(ctx, client, gazetteer):
    road = first_of_kind(gazetteer, "road", lambda e: bool(e.numbers))
    number, row = sorted(road.numbers.items())[0]
    points = gazetteer.points
    truth = ctx.locator.locate(points.lon[row], points.lat[row]).grid_code
    district = gazetteer.entries[[e.code for e in gazetteer.entries].index(road.district)].name
    text = f"{district}{road.name}{number}号门口井盖不见了，晚上特别危险"
    answer = post(client, {"text": text, "channel": "12345"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["grid"]["code"] == truth and body["status"] == "dispatched"
    assert body["channel"] == "hotline_12345" and body["category"] == "manhole_cover"
    assert body["dispatch"]["mode"] == "auto" and body["hotline"]["place"]["level"] == "grid"
    assert "井盖" in body["hotline"]["category"]["words"]
    assert body["routing"]["office"]
    history = client.get(f"/v1/incidents/{body['id']}").json()["history"]
    assert history[-1]["to"] == "dispatched" and "auto dispatch" in history[-1]["note"]


@pytest.mark.parametrize("kind", ["compound", "landmark"])
def test_places_are_pinned_to_the_engines_grid(ctx, client, gazetteer, kind):
    entry = first_of_kind(gazetteer, kind)
    points = gazetteer.points
    truth = ctx.locator.locate(points.lon[entry.point], points.lat[entry.point]).grid_code
    body = post(client, {"text": f"{entry.name}附近垃圾没人清运都臭了"}).json()
    assert body["dispatch"]["mode"] == "auto", body
    assert body["grid"]["code"] == truth and body["category"] == "sanitation"


@pytest.mark.parametrize(
    "form",
    ["{name}这边有车乱停堵住了小区门口", "有车乱停堵住了小区门口，地点在{name}"],
)
def test_place_words_inside_the_complaint_do_not_stretch_the_place(ctx, client, gazetteer, form):
    entry = first_of_kind(gazetteer, "compound")
    points = gazetteer.points
    truth = ctx.locator.locate(points.lon[entry.point], points.lat[entry.point]).grid_code
    body = post(client, {"text": form.format(name=entry.name)}).json()
    assert body["hotline"]["place"]["text"] == entry.name, body["hotline"]["place"]
    assert body["dispatch"]["mode"] == "auto", body
    assert body["grid"]["code"] == truth and body["category"] == "illegal_parking"


def test_a_street_sentence_is_pinned_at_street_level_without_a_grid(ctx, client, gazetteer):
    street = first_of_kind(gazetteer, "street", lambda e: e.grid is None)
    body = post(client, {"text": f"我家在{street.name}，楼下天天有摊贩占道经营"}).json()
    assert body["dispatch"]["mode"] == "auto", body
    assert body["grid"] is None and body["assign_status"] == "unit"
    chain = [(a["code"], a["level"]) for a in body["chain"]]
    assert chain[:2] == [(street.code, "street"), (street.district, "district")]
    assert chain[2:] == [(street.district[:4] + "00", "city")]  # derived from the districts
    assert body["hotline"]["place"]["level"] == "street" and body["hotline"]["level"] == "street"


def test_a_community_sentence_is_pinned_inside_its_community(client, gazetteer):
    community = first_of_kind(gazetteer, "community")
    body = post(client, {"text": f"{community.name}路灯晚上不亮"}).json()
    assert body["dispatch"]["mode"] == "auto", body
    assert community.code in [a["code"] for a in body["chain"]]


def test_no_place_goes_to_review_and_a_person_decides(ctx, client, gazetteer):
    before = ctx.store.count("incidents")
    queued = post(client, {"text": "路灯晚上不亮", "channel": "热线"})
    assert queued.status_code == 202, queued.text
    item = queued.json()
    assert item["dispatch"]["mode"] == "review" and "no place" in item["dispatch"]["reason"]
    assert ctx.store.count("incidents") == before  # nothing half stored
    queue = client.get("/v1/review").json()["items"]
    assert item["id"] in [i["id"] for i in queue]
    road = first_of_kind(gazetteer, "road", lambda e: bool(e.numbers))
    number = sorted(road.numbers)[0]
    decided = client.patch(
        f"/v1/review/{item['id']}",
        json={"category": "路灯故障", "address": f"{road.name}{number}号", "note": "operator"},
        headers={"X-API-Key": ADMIN},
    )
    assert decided.status_code == 201, decided.text
    incident = decided.json()
    assert incident["category"] == "street_light" and incident["status"] == "dispatched"
    assert incident["hotline"]["text"] == "路灯晚上不亮"
    history = client.get(f"/v1/incidents/{incident['id']}").json()["history"]
    assert history[-1]["note"] == "operator"
    again = client.patch(f"/v1/review/{item['id']}", json={"address": "x"},
                         headers={"X-API-Key": ADMIN})  # fmt: skip
    assert again.status_code == 409
    assert item["id"] not in [i["id"] for i in client.get("/v1/review").json()["items"]]
    assert client.get(f"/v1/review/{item['id']}").json()["incident_id"] == incident["id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": "   "}, 400),
        ({"text": "井盖" * 251}, 400),
        ({"text": "the manhole cover on Main Street is missing"}, 422),
        ({"text": "井盖丢了", "channel": "fax"}, 400),
        ({}, 400),
    ],
)
def test_bad_text_is_a_clear_4xx_and_writes_nothing(ctx, client, body, status):
    before = ctx.store.count("incidents"), len(client.get("/v1/review?limit=1000").json()["items"])
    answer = post(client, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["description"]
    after = ctx.store.count("incidents"), len(client.get("/v1/review?limit=1000").json()["items"])
    assert after == before


def test_open311_accepts_free_text(client, gazetteer):
    street = first_of_kind(gazetteer, "street", lambda e: e.grid is None)
    form = {"description": f"{street.name}有人占道经营摆摊", "api_key": ADMIN}
    answer = client.post("/open311/v2/requests.json", data=form)
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["service_request_id"]
    queued = client.post("/open311/v2/requests.xml",
                         data={"description": "噪音扰民", "api_key": ADMIN})  # fmt: skip
    [created] = validate("created", "xml", queued.content)
    token = created["token"]
    assert token.startswith("RV-") and created["service_request_id"] is None
    for fmt in ("json", "xml"):  # a person has not decided yet: no request id
        told = client.get(f"/open311/v2/tokens/{token}.{fmt}")
        assert validate("token", fmt, told.content) == [
            {"token": token, "service_request_id": None}
        ]
    decided = client.patch(f"/v1/review/{token}", json={"category": "noise", "lon": 113.66,
                           "lat": 34.76, "crs": "WGS84"}, headers={"X-API-Key": ADMIN})  # fmt: skip
    assert decided.status_code == 201, decided.text
    told = client.get(f"/open311/v2/tokens/{token}.xml")
    assert validate("token", "xml", told.content)[0]["service_request_id"] == decided.json()["id"]
    missing = client.get("/open311/v2/tokens/RV-nope.json")
    assert (
        missing.status_code == 404
        and "token" in validate("errors", "json", missing.content)[0]["description"]
    )
    too_long = client.post("/open311/v2/requests.json",
                           data={"description": "吵" * 600, "api_key": ADMIN})  # fmt: skip
    assert too_long.status_code == 400


def test_chinese_names_and_codes_are_accepted_as_categories(client):
    body = post(client, {"category": "环境卫生", "lon": 113.66, "lat": 34.76, "crs": "WGS84",
                         "channel": "12345"}).json()  # fmt: skip
    assert body["category"] == "sanitation" and body["channel"] == "hotline_12345"
    taxonomy = client.get("/v1/taxonomy").json()
    codes = {c["id"]: c["code"] for c in taxonomy["categories"]}
    assert codes["sanitation"] == "0201"
    assert post(client, {"category": "0102", "lon": 113.66, "lat": 34.76,
                         "crs": "WGS84"}).json()["category"] == "manhole_cover"  # fmt: skip
