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


def test_the_packaged_list_covers_every_default_category():
    from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES

    rules = DutyList.load()
    routed = {c: rules.route(c).rule for c in DEFAULT_CATEGORIES}
    assert all(not r["default"] for c, r in routed.items() if c != "other")
