"""Duty-list routing: priority order, district/zone rules, default, file errors."""

from __future__ import annotations

import pytest

from cityaware.api.service.routing import DUTY_LIST_NAME, DutyList
from cityaware.geo.errors import InvalidInput

HEADER = "id,priority,category,district,managing_zone,office\n"


def write(tmp_path, rows: str):
    (tmp_path / DUTY_LIST_NAME).write_text(HEADER + rows, encoding="utf-8")
    return DutyList.load(tmp_path)


def test_the_lowest_priority_number_wins_and_conditions_must_all_hold(tmp_path):
    rules = write(
        tmp_path,
        "D,999,*,,,hotline\n"
        "C,50,noise,,,environment\n"
        "Z,20,*,,410172,zone office\n"
        "N,10,noise,410105,,district environment\n",
    )
    assert rules.route("noise", "410105", "").rule["id"] == "N"
    assert rules.route("noise", "410102", "410172").office == "zone office"
    assert rules.route("noise", "410102", "").office == "environment"
    fallback = rules.route("sanitation", "410102", "")
    assert fallback.office == "hotline" and fallback.rule["default"] is True


def test_ties_keep_file_order(tmp_path):
    rules = write(tmp_path, "A,5,noise,,,first\nB,5,noise,,,second\nD,9,*,,,hotline\n")
    assert rules.route("noise").office == "first"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("A,1,noise,,,office\n", "default rule"),
        ("A,high,*,,,office\n", "priority must be an integer"),
        ("A,1,*,,,office\nA,2,*,,,other\n", "duplicate rule id"),
        ("A,1,*,,,\n", "required"),
    ],
)
def test_a_bad_duty_list_names_the_problem(tmp_path, rows, message):
    with pytest.raises(InvalidInput, match=message):
        write(tmp_path, rows)


def test_the_packaged_list_names_no_city_and_fills_in_the_incident_city():
    rules = DutyList.load()
    assert [r.id for r in rules.rules] == ["R999"]
    assert rules.route("noise", "410202", city="开封市").office == "开封市城市运行管理中心"
    assert rules.route("noise").office == "城市运行管理中心"


def test_the_demo_list_covers_every_default_category(tmp_path):
    from cityaware.api.commands.demo import install_demo_city_files
    from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES

    install_demo_city_files(tmp_path)
    rules = DutyList.load(tmp_path)
    routed = {c: rules.route(c).rule for c in DEFAULT_CATEGORIES}
    assert all(not r["default"] for c, r in routed.items() if c != "other")
