"""Addresses -> places and grids, checked against the engine's answer for each point."""

from __future__ import annotations

import json

import pytest

from cityaware.geo.errors import InvalidInput
from cityaware.geo.gazetteer.normalize import RELATION_RADIUS_M
from tests.geo.gazetteer.helpers import (
    district_name,
    homophone_typo,
    names_count,
    unique_places,
    unique_roads,
)

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def engine_grid(locator, gazetteer, row: int) -> str:
    """The oracle: the engine's grid for the address point's coordinates."""
    return locator.locate(gazetteer.points.lon[row], gazetteer.points.lat[row]).grid_code


@pytest.fixture(scope="module")
def addresses(gazetteer):
    return unique_roads(gazetteer, limit=6)


FORMS = {
    "bare": "{road}{n}号",
    "with_district": "{district}{road}{n}号",
    "with_city_and_province": "河南省郑州市{district}{road}{n}号",
    "city_without_province": "郑州{road}{n}号",
    "compound_number": "{road}{n}号院",
    "building_unit_room": "{district}{road}{n}号院3号楼2单元501",
    "room_only": "{road}{n}号1201室",
    "spaces_and_punctuation": " 郑州市，{district}  {road} {n}号。",
    "district_core": "{district_core}{road}{n}号",
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_road_and_number_find_the_engine_grid(gazetteer, locator, addresses, form):
    for road, number, row in addresses:
        district = district_name(gazetteer, gazetteer.points.district[row])
        text = FORMS[form].format(
            road=road.name, n=number, district=district, district_core=district[:2]
        )
        result = gazetteer.geocode(text)
        assert result.status == "matched", text
        assert result.level == "address"
        assert result.grid_code == engine_grid(locator, gazetteer, row), text


def test_fullwidth_and_chinese_numerals(gazetteer, locator, addresses):
    numerals = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九"}
    for road, number, row in addresses:
        truth = engine_grid(locator, gazetteer, row)
        assert (
            gazetteer.geocode(f"{road.name}{str(number).translate(FULLWIDTH)}号").grid_code == truth
        )
        if number in numerals:
            assert gazetteer.geocode(f"{road.name}{numerals[number]}号").grid_code == truth


def test_building_tail_is_kept_in_components(gazetteer, addresses):
    road, number, _ = addresses[0]
    result = gazetteer.geocode(f"{road.name}{number}号3号楼2单元501")
    assert result.components == {"building": "3", "unit": "2", "room": "501"}


def test_homophone_typo_in_road_name(gazetteer, locator, addresses):
    checked = 0
    for road, number, row in addresses:
        typo = homophone_typo(gazetteer, road.name)
        if typo is None:
            continue
        result = gazetteer.geocode(f"{typo}{number}号")
        same_sound = {gazetteer.entries[i].name for i, _ in gazetteer.pinyin[tuple_of(typo)]}
        if same_sound == {road.name}:
            assert result.grid_code == engine_grid(locator, gazetteer, row), typo
            assert "pinyin_match" in result.flags
            checked += 1
    assert checked


def tuple_of(text: str) -> tuple[str, ...]:
    from cityaware.geo.gazetteer.normalize import syllables

    return syllables(text)


@pytest.mark.parametrize(
    ("said", "official"),
    [
        ("郑洲市金水区", "金水区"),
        ("津水区", "金水区"),
        ("管成区", "管城回族区"),
        ("二期区", "二七区"),
    ],
)
def test_homophone_typos_in_districts(gazetteer, code_of, said, official):
    result = gazetteer.geocode(said)
    assert result.level == "district"
    assert result.unit_code == code_of[(official, "district")][0]
    assert result.grid_code is None


@pytest.mark.parametrize(
    ("said", "official"),
    [
        ("金水区", "金水区"),
        ("金水", "金水区"),
        ("管城区", "管城回族区"),
        ("管城回族区", "管城回族区"),
        ("中牟", "中牟县"),
        ("河南省郑州市二七区", "二七区"),
        ("郑州二七区", "二七区"),
    ],
)
def test_district_aliases(gazetteer, code_of, said, official):
    result = gazetteer.geocode(said)
    assert (result.status, result.level) == ("matched", "district")
    assert result.unit_code == code_of[(official, "district")][0]


@pytest.mark.parametrize("form", ["{stem}街道", "{stem}办事处", "{stem}街办", "{stem}街道办事处"])
def test_street_office_forms(gazetteer, code_of, form):
    code = code_of[("经八路街道", "street")][0]
    result = gazetteer.geocode("金水区" + form.format(stem="经八路"))
    assert (result.status, result.level, result.unit_code) == ("matched", "street", code)
    assert result.grid_code is None  # a street office is no grid


@pytest.mark.parametrize(("zone", "aliases"), [
    ("410171", ["经开区", "经济开发区", "郑州经济技术开发区"]),
    ("410172", ["高新区", "高新技术开发区"]),
    ("410173", ["航空港区", "空港区", "航空港经济综合实验区"]),
])  # fmt: skip
def test_functional_zones(gazetteer, units, zone, aliases):
    streets = units[(units.level == "street") & (units.managing_zone == zone)]
    for alias in aliases:
        result = gazetteer.geocode(alias)
        assert (result.level, result.unit_code) == ("district", zone), alias
        assert result.grid_code is None
    street = streets.iloc[0]
    stem = street["name"].split("开发区")[-1]
    result = gazetteer.geocode(aliases[0] + stem)
    assert result.unit_code == street["code"]  # the zone constrains its streets


def test_zhengdong_new_district_maps_to_its_streets(gazetteer, units):
    result = gazetteer.geocode("郑东新区")
    assert result.level == "district" and result.grid_code is None
    assert result.best.district_code == "410105"  # hosted in 金水区
    zd = units[(units.level == "street") & units.code.str.startswith("4101055")]
    result = gazetteer.geocode("郑东新区" + zd.iloc[0]["name"])
    assert result.unit_code == zd.iloc[0]["code"]


@pytest.mark.parametrize("suffix", ["社区", "居委会", "社区居委会", "社区居民委员会"])
def test_community_suffix_variants(gazetteer, units, suffix):
    communities = units[(units.level == "community") & units.name.str.endswith("社区居委会")]
    counts = communities.name.value_counts()
    row = communities[communities.name.map(counts) == 1].iloc[0]
    stem = row["name"].removesuffix("社区居委会")
    street = gazetteer.unit_names[row["parent_code"]]
    result = gazetteer.geocode(street + stem + suffix)
    assert result.level == "community"
    assert result.best.community_code == row["code"]


@pytest.mark.parametrize("suffix", ["村", "村委会", "村民委员会"])
def test_village_suffix_variants(gazetteer, units, suffix):
    villages = units[(units.level == "community") & units.name.str.endswith("村委会")]
    row = villages.iloc[0]
    stem = row["name"].removesuffix("村委会")
    street = gazetteer.unit_names[row["parent_code"]]
    result = gazetteer.geocode(street + stem + suffix)
    assert result.best.community_code == row["code"]


def test_single_grid_community_pins_its_grid_and_multi_grid_does_not(gazetteer, units):
    grids = units[units.level == "grid"].groupby("parent_code").code.agg(list)
    many = next(c for c, g in grids.items() if len(g) > 1)
    one = next(c for c, g in grids.items() if len(g) == 1)
    for community, expect in ((many, None), (one, grids[one][0])):
        street = gazetteer.unit_names[community[:9]]
        result = gazetteer.geocode(street + gazetteer.unit_names[community])
        assert result.best.community_code == community
        assert result.grid_code == expect


def test_road_ending_in_jie_is_not_a_street_office(gazetteer, locator, units):
    """德化街 is a road; 德化街街道 the street office. 枫杨街 is a road, not 枫杨街道."""
    streets = {n for n in units[units.level == "street"].name}
    roads = [e for e in gazetteer.entries if e.kind == "road" and e.name.endswith("街")]
    named = [r for r in roads if r.name + "街道" in streets or r.name[:-1] + "街道" in streets]
    assert named
    counts = names_count(gazetteer, "road")
    for road in named:
        number, row = sorted(road.numbers.items())[len(road.numbers) // 2]
        district = district_name(gazetteer, gazetteer.points.district[row])
        result = gazetteer.geocode(f"{district}{road.name}{number}号")
        if counts[road.name] == 1 or gazetteer.points.district[row]:
            assert result.level == "address", road.name
            assert result.grid_code == engine_grid(locator, gazetteer, row)
            assert result.best.code is None  # a road, not a unit
        office = next(s for s in (road.name + "街道", road.name[:-1] + "街道") if s in streets)
        assert gazetteer.geocode(district + office).level == "street"


def test_parent_constrains_child_and_contradiction_gives_no_grid(gazetteer, locator, addresses):
    road, number, row = addresses[0]
    own = gazetteer.points.district[row]
    other = next(e for e in gazetteer.entries if e.kind == "district" and e.code not in road.scope)
    result = gazetteer.geocode(f"{other.name}{road.name}{number}号")
    assert result.grid_code is None
    assert own != other.code


def test_ambiguous_name_is_flagged_until_a_parent_decides(gazetteer, locator):
    counts = names_count(gazetteer, "compound")
    name = next(n for n, c in sorted(counts.items()) if c == 2)
    twins = [e for e in gazetteer.entries if e.kind == "compound" and e.name == name]
    result = gazetteer.geocode(name)
    assert result.status == "ambiguous" and "ambiguous" in result.flags
    assert result.grid_code is None
    assert {c.grid_code for c in result.candidates[:2]} == {t.grid for t in twins}
    for twin in twins:
        said = district_name(gazetteer, twin.district) + name
        decided = gazetteer.geocode(said)
        assert decided.grid_code == locator.locate(twin.lon, twin.lat).grid_code, said


def test_ambiguous_community_names(gazetteer, units):
    names = units[units.level == "community"].name.value_counts()
    name = names.index[0]
    assert names.iloc[0] > 1
    result = gazetteer.geocode(name)
    assert result.status == "ambiguous" and result.grid_code is None


@pytest.mark.parametrize(
    "text",
    ["北京市朝阳区建国路88号", "上海市浦东新区世纪大道100号", "不知道在哪里", "请尽快处理谢谢"],
)
def test_unknown_addresses_are_not_found(gazetteer, text):
    result = gazetteer.geocode(text)
    assert result.status == "not_found"
    assert result.grid_code is None and result.level is None


def test_unknown_road_in_known_district_answers_the_district_only(gazetteer, code_of):
    result = gazetteer.geocode("郑州市金水区星辉大道88号")
    assert (result.status, result.level, result.grid_code) == ("partial", "district", None)
    assert result.unit_code == code_of[("金水区", "district")][0]


def test_number_beyond_the_road_gives_no_grid(gazetteer, addresses):
    road, _, _ = addresses[0]
    result = gazetteer.geocode(f"{road.name}{max(road.numbers) + 400}号")
    assert result.grid_code is None and "number_not_found" in result.flags


def test_compound_gate_and_landmark(gazetteer, locator):
    for kind, suffix in (("compound", "东门"), ("compound", ""), ("landmark", "")):
        for place in unique_places(gazetteer, kind, limit=4):
            truth = locator.locate(place.lon, place.lat).grid_code
            result = gazetteer.geocode(place.name + suffix)
            assert result.level == kind, place.name
            assert result.grid_code == truth, place.name
            assert result.components.get("relation", "") == suffix


def test_relation_radius_never_crosses_a_grid_edge(gazetteer, units):
    """'XX医院附近' answers a grid only when the whole radius lies inside it (shapely oracle)."""
    import geopandas as gpd
    from shapely.geometry import Point

    from cityaware.geo.crs import metric_crs_of_bounds

    grids = units[units.level == "grid"].set_index("code").geometry
    metric_crs = metric_crs_of_bounds(units.total_bounds)
    places = unique_places(gazetteer, "landmark", limit=40)
    seen = set()
    for place in places:
        for relation in ("附近", "对面", "门口"):
            result = gazetteer.geocode(place.name + relation)
            spot = gpd.GeoSeries([Point(place.lon, place.lat)], crs=4326).to_crs(metric_crs)
            grid = gpd.GeoSeries([grids[place.grid]], crs=4326).to_crs(metric_crs)
            inside = grid.iloc[0].contains(spot.iloc[0].buffer(RELATION_RADIUS_M[relation]))
            if result.grid_code is not None:
                assert inside and result.grid_code == place.grid, (place.name, relation)
            else:
                assert result.level in ("community", "street", "district", None)
            seen.add(result.grid_code is None)
    assert seen == {True, False}  # both outcomes were exercised


def test_road_without_number_gives_no_grid_unless_the_road_is_in_one(gazetteer, addresses):
    for road, _, _ in addresses:
        result = gazetteer.geocode(road.name)
        assert result.grid_code == road.grid  # None unless every number lies in one grid


def test_result_shape(gazetteer, addresses):
    road, number, _ = addresses[0]
    result = gazetteer.geocode(f"{road.name}{number}号", limit=2)
    record = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert len(record["candidates"]) <= 2
    assert all(0.0 <= c["confidence"] <= 1.0 for c in record["candidates"])
    assert record["grid_code"] == record["candidates"][0]["grid_code"]
    assert (result.lon, result.lat) == (result.best.lon, result.best.lat)


@pytest.mark.parametrize("text", ["", "   ", "x" * 201])
def test_bad_input_is_invalid(gazetteer, text):
    with pytest.raises(InvalidInput):
        gazetteer.geocode(text)


def test_crossing_of_two_roads(gazetteer, locator):
    checked = 0
    for (a, b), row in sorted(gazetteer.crossings.items())[:20]:
        first, second = gazetteer.entries[a].name, gazetteer.entries[b].name
        truth = locator.locate(gazetteer.points.lon[row], gazetteer.points.lat[row]).grid_code
        for text in (f"{first}与{second}交叉口", f"{first}{second}路口"):
            result = gazetteer.geocode(text)
            assert result.level in ("address", "community", "street", "district", None), text
            if result.grid_code is not None:
                assert result.grid_code == truth
                assert gazetteer.points.edge_m["grid"][row] > 30.0  # corners stay in the grid
                checked += 1
    assert checked


def test_village_group_and_complaint_words(gazetteer, locator, addresses, units):
    road, number, row = addresses[0]
    truth = engine_grid(locator, gazetteer, row)
    for text in (
        f"麻烦到{road.name}{number}号看一下",
        f"我家在{road.name}{number}号院，楼道灯坏了",
    ):
        assert gazetteer.geocode(text).grid_code == truth
    villages = units[(units.level == "community") & units.name.str.endswith("村委会")]
    village = villages[villages.name.map(villages.name.value_counts()) == 1].iloc[0]
    street = gazetteer.unit_names[village["parent_code"]]
    result = gazetteer.geocode(f"{street}{village['name'].removesuffix('委会')}3组")
    assert result.components["group"] == "3"
    assert result.best.community_code == village["code"]


def test_near_spelling_never_pins_a_grid(gazetteer):
    """'人民公园' is not '人民路公园': a fuzzy match may be listed, never trusted to a grid."""
    landmarks = [e for e in gazetteer.entries if e.kind == "landmark" and "路" in e.name]
    checked = 0
    for place in landmarks[:30]:
        said = place.name.replace("路", "", 1)
        if said in gazetteer.exact or len(said) < 4:
            continue
        result = gazetteer.geocode(said)
        assert result.grid_code is None, said
        checked += 1
    assert checked


def test_number_without_hao_at_the_end(gazetteer, locator, addresses):
    for road, number, row in addresses:
        assert gazetteer.geocode(f"{road.name}{number}").grid_code == engine_grid(
            locator, gazetteer, row
        )


def test_compound_phases_are_not_districts(gazetteer, locator):
    """银河家园西区: 西区 is a compound's phase, not an unknown district."""
    counts = names_count(gazetteer, "compound")
    phased = [
        e
        for e in gazetteer.entries
        if e.kind == "compound" and e.name.endswith(("东区", "西区")) and counts[e.name] == 1
    ]
    assert phased
    for place in phased[:10]:
        result = gazetteer.geocode(district_name(gazetteer, place.district) + place.name + "东门")
        assert result.grid_code == locator.locate(place.lon, place.lat).grid_code, place.name


def test_grid_named_by_code_or_unique_name(gazetteer, units):
    grids = units[units.level == "grid"]
    unique = grids[grids.name.map(grids.name.value_counts()) == 1].iloc[0]
    for text in (unique["code"], unique["name"]):
        result = gazetteer.geocode(text)
        assert (result.status, result.level, result.grid_code) == (
            "matched",
            "grid",
            unique["code"],
        )
