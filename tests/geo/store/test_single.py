"""The single-write path gives what the frame path gives for a one-row frame.

The oracle is :func:`prepare_rows` itself over ``pd.DataFrame({k: [v]})``: the same
row (every column, the same values) or the same rejection text, for generated records
of every kind made of awkward values (blank text, numbers as text, bad times, unknown
choices, JSON attributes given as text or as a dict, extra fields).
"""

from __future__ import annotations

import math

import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityaware.geo.engine.results import Location
from cityaware.geo.errors import InvalidInput
from cityaware.geo.store.records import flatten_record, prepare_rows
from cityaware.geo.store.schema import KIND_FIELDS
from cityaware.geo.store.single import prepare_record
from cityaware.geo.store.taxonomy import TAXONOMY
from tests.geo.store import synthetic

NOW = 1_795_665_600_000
AWKWARD = [None, "", "  ", " x ", "abc", 1, 0, 2.5, float("nan"), True, False, "true", "off",
           "1", "3.5", "2026-11-26T04:00:00Z", "9999-99-99", 1795665600000]  # fmt: skip
CHOICE = {  # mostly usable values, so that rows get compared too
    "category": ["noise"] * 8 + ["噪声", "  noise ", "nope", None, ""],
    "channel": ["web"] * 6 + ["12345", "fax", None],
    "status": ["received"] * 6 + ["closed", "lost", None],
    "priority": ["high"] * 6 + ["asap", None, " urgent "],
    "delivery_state": ["pending"] * 6 + ["gone", None],
}


def records(kind: str):
    fields = {name: st.sampled_from(CHOICE.get(name, AWKWARD)) for name in KIND_FIELDS[kind]}
    fields |= {
        "id": st.sampled_from([None, "", " a1 ", "x" * 65, 7]),
        "reported_at": st.sampled_from([None, "", "2026-11-26T12:00:00+08:00", "soon", 5]),
        "attributes": st.sampled_from([None, "", '{"a": 1}', "[1]", "{bad", {"b": [1, 2]}]),
        "extra_note": st.sampled_from([None, "x", 3, float("nan")]),
    }
    coordinates = {  # mostly usable, so that rows get compared too
        "lon": st.sampled_from([113.605] * 6 + ["113.61", "east", None, 200.0, float("inf")]),
        "lat": st.sampled_from([34.75] * 6 + ["34.77", None, 95.0]),
    }
    return st.fixed_dictionaries(coordinates, optional=fields)


def frame_path(kind: str, record: dict, locator) -> dict | str:
    """What ``prepare_rows`` makes of ``record`` as a one-row frame."""
    record = flatten_record(record)
    if isinstance(record.get("attributes"), dict):
        record["attributes"] = orjson.dumps(record["attributes"]).decode()
    try:
        prepared = prepare_rows(
            kind,
            pd.DataFrame({k: [v] for k, v in record.items()}),
            locator=locator,
            crs="EPSG:4326",
            taxonomy=TAXONOMY,
            now=NOW,
        )
    except InvalidInput as error:
        return str(error)
    return prepared.rejected[0][1] if prepared.rejected else prepared.rows()[0]


def single_path(kind: str, record: dict, locator) -> dict | str:
    try:
        return prepare_record(
            kind, record, location=None, locator=locator, crs="EPSG:4326", taxonomy=TAXONOMY,
            now=NOW,
        )  # fmt: skip
    except InvalidInput as error:
        return str(error)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.fixture(scope="module")
def locator():
    return synthetic.locator("g1")


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KIND_FIELDS))
def test_single_writes_follow_the_frame_rules(kind, locator):
    accepted = []

    @given(record=records(kind))
    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(record):
        expected, got = frame_path(kind, record, locator), single_path(kind, record, locator)
        if isinstance(expected, str) or isinstance(got, str):
            assert got == expected, record
            return
        accepted.append(record)
        given_id = record.get("id")
        if given_id is None or (isinstance(given_id, str) and not given_id.strip()):
            expected["id"] = got["id"]  # a fresh random id on both paths
        assert list(got) == list(expected), record
        for name in expected:
            assert same(got[name], expected[name]), (name, got[name], expected[name], record)

    check()
    assert len(accepted) >= 10  # rows were compared, not only rejections


def test_a_given_location_is_stored_as_given(locator):
    here = Location("unit", None, None, "s1", "d1", "z1", "g1", 113.605, 34.75)
    row = prepare_record(
        "incidents", {"lon": 1.0, "lat": 2.0, "geometry": "ignored", "category": "noise"},
        location=here, locator=None, crs="EPSG:3857", taxonomy=TAXONOMY, now=NOW,
    )  # fmt: skip
    assert (row["lon"], row["lat"], row["assign_status"]) == (113.605, 34.75, "unit")
    assert (row["grid_code"], row["street_code"], row["managing_zone"]) == (None, "s1", "z1")
