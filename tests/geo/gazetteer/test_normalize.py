"""Text clean-up: width, spacing, numerals, tails and pinyin keys."""

from __future__ import annotations

import pytest

from cityaware.geo.gazetteer.normalize import normalize, split_tail, syllables


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("纬五路１２号", "纬五路12号"),  # full-width digits
        ("  郑州市 金水区，纬五路 12 号。", "郑州市金水区纬五路12号"),  # spaces, punctuation
        ("纬五路十二号", "纬五路12号"),  # Chinese numerals before 号
        ("花园路一百零五号", "花园路105号"),
        ("纬五路12#", "纬五路12号"),
        ("ＡＢＣ小区", "abc小区"),
    ],
)
def test_normalize(raw, clean):
    assert normalize(raw) == clean


def test_road_numerals_are_left_alone():
    assert normalize("经三路二七区") == "经三路二七区"


@pytest.mark.parametrize(
    ("text", "core", "components"),
    [
        ("纬五路12号3号楼2单元501", "纬五路12号", {"building": "3", "unit": "2", "room": "501"}),
        (
            "纬五路12号院5栋1单元302室",
            "纬五路12号院",
            {"building": "5", "unit": "1", "room": "302"},
        ),
        ("绿城小区1201室", "绿城小区", {"room": "1201"}),
        ("绿城小区3号楼东门", "绿城小区", {"relation": "东门", "building": "3"}),
        ("人民医院对面", "人民医院", {"relation": "对面"}),
        ("纬五路12号", "纬五路12号", {}),  # the house number is not a room
        ("西十里", "西十里", {}),  # a name ending in 里 keeps it
    ],
)
def test_split_tail(text, core, components):
    assert split_tail(text) == (core, components)


@pytest.mark.parametrize(
    ("typo", "name"),
    [("郑洲", "郑州"), ("津水", "金水"), ("管成", "管城"), ("二期", "二七"), ("中元", "中原")],
)
def test_homophones_share_pinyin(typo, name):
    assert syllables(typo) == syllables(name)
    assert typo != name
