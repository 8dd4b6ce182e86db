"""CQL2 trees compiled by the store to its own columns, checked against pandas and shapely."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely

from cityaware.geo.errors import InvalidInput
from cityaware.geo.store import FeatureFilter
from tests.geo.store import sample

N = 300
BOX = (113.607, 34.705, 113.6255, 34.731)


@pytest.fixture(scope="module")
def shared(shared_store):
    frame = sample.incidents(N, seed=11)
    assert shared_store.bulk_import("incidents", frame).accepted == N
    frame["ms"] = pd.to_datetime(frame["reported_at"], utc=True)
    return shared_store, frame


def matched(store, tree, **fields) -> set[str]:
    page = store.query("incidents", FeatureFilter(cql2=tree, **fields), limit=N)
    assert page.number_matched == len(page.items)
    return {item["id"] for item in page.items}


def prop(name: str) -> dict:
    return {"property": name}


def test_comparisons_and_logic_match_pandas(shared):
    store, frame = shared
    tree = {
        "op": "or",
        "args": [
            {"op": "and", "args": [
                {"op": "=", "args": [prop("category"), "sanitation"]},
                {"op": "not", "args": [{"op": "in", "args": [prop("status"), ["closed"]]}]},
            ]},
            {"op": "like", "args": [prop("title"), "case 1_"]},
        ],
    }  # fmt: skip
    sanitation_open = (frame.category == "sanitation") & (frame.status != "closed")
    two_digit_tens = frame.title.str.fullmatch(r"case 1\d")
    assert 0 < sanitation_open.sum() < N
    assert matched(store, tree) == set(frame.id[sanitation_open | two_digit_tens])


def test_time_literals_compare_as_instants(shared):
    store, frame = shared
    low, high = "2026-11-05T00:00:00Z", "2026-11-09T12:00:00+08:00"
    tree = {"op": "between", "args": [prop("reported_at"), {"timestamp": low}, {"timestamp": high}]}
    inside = frame.ms.between(pd.Timestamp(low), pd.Timestamp(high))
    assert 0 < inside.sum() < N
    assert matched(store, tree) == set(frame.id[inside])
    on_date = {"op": ">=", "args": [prop("reported_at"), {"date": "2026-11-15"}]}
    later = frame.ms >= pd.Timestamp("2026-11-15", tz="UTC")
    assert 0 < later.sum() < N
    assert matched(store, on_date) == set(frame.id[later])


def test_spatial_operators_match_shapely(shared):
    store, frame = shared
    points = shapely.points(frame.lon, frame.lat)
    box = shapely.box(*BOX)
    inside = set(frame.id[shapely.intersects(points, box)])
    assert 0 < len(inside) < N
    literal = {"bbox": list(BOX)}
    assert matched(store, {"op": "s_intersects", "args": [prop("geometry"), literal]}) == inside
    assert matched(store, {"op": "s_within", "args": [prop("geometry"), literal]}) == inside
    outside = {"op": "s_disjoint", "args": [prop("geometry"), literal]}
    assert matched(store, outside) == set(frame.id) - inside


def test_cql2_combines_with_the_other_fields(shared):
    store, frame = shared
    tree = {"op": "=", "args": [prop("channel"), "web"]}
    expected = (frame.channel == "web") & (frame.status == "received")
    assert matched(store, tree, status="received") == set(frame.id[expected])
    assert store.count("incidents", FeatureFilter(cql2=tree)) == int((frame.channel == "web").sum())


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"op": "=", "args": [prop("colour"), "red"]}, "'colour' is not a queryable"),
        ({"op": "=", "args": [prop("candidates"), "x"]}, "'candidates' is not a queryable"),
        ({"op": "<", "args": [prop("reported_at"), "2026-11-05"]}, "TIMESTAMP('...')"),
        ({"op": "s_contains", "args": [prop("geometry"), {"bbox": list(BOX)}]}, "not supported"),
    ],
)
def test_bad_trees_are_invalid_input(shared, tree, message):
    store, _ = shared
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        store.count("incidents", FeatureFilter(cql2=tree))
