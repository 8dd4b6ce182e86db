"""One event query for rule events and fence events: :func:`events_of` over the store's
real tables, on SQLite and PostGIS, against a pandas oracle (filter by owner and ids,
order by time then id, limit), and the two stores' readers answering through it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cityaware.geo.store.live_tables import events_of
from cityaware.geo.store.positions import PositionStore
from cityaware.geo.store.rules import RuleStore
from cityaware.geo.store.rules import event_view as rule_view

TABLES = {"rule_events": "rule_id", "fence_events": "fence_id"}


def rows_for(table: str, n: int, rng: np.random.Generator) -> list[dict]:
    owners = rng.choice(["a", "b", "c"], n)
    at = rng.integers(0, 20, n) * 1000  # ties in time: the id breaks them
    common = {"lon": 113.6, "lat": 34.7, "grid_code": "g"}
    if table == "rule_events":
        return [
            {"id": f"re_{i:03d}", "rule_id": o, "rule_type": "offline", "op": "open",
             "subject_kind": "sensors", "subject_id": f"s{i}", "at": int(t), **common}
            for i, (o, t) in enumerate(zip(owners, at, strict=True))
        ]  # fmt: skip
    return [
        {"id": f"fe_{i:03d}", "fence_id": o, "detect": "enter", "object_kind": "worker",
         "object_id": f"w{i}", "at": int(t), **common}
        for i, (o, t) in enumerate(zip(owners, at, strict=True))
    ]  # fmt: skip


def oracle(rows, column, owner, ids, limit, newest_first) -> list[str]:
    frame = pd.DataFrame(rows)
    if owner is not None:
        frame = frame[frame[column] == owner]
    if ids is not None:
        frame = frame[frame["id"].isin(ids)]
    frame = frame.sort_values(["at", "id"], ascending=[not newest_first, True])
    return frame["id"].head(limit).tolist()


@pytest.mark.parametrize("name", sorted(TABLES))
def test_events_of_filters_orders_and_limits_as_pandas(store, name):
    rng = np.random.default_rng(len(name))
    rows = rows_for(name, 60, rng)
    table, column = store.tables[name], TABLES[name]
    with store.backend.write() as conn:
        conn.execute(table.insert(), rows)
    some = [r["id"] for r in rows[::3]]
    cases = [(None, None, 100), ("a", None, 100), ("b", some, 100), (None, some, 5), ("c", None, 3)]
    with store.backend.read() as conn:
        for owner, ids, limit in cases:
            for newest_first in (True, False):
                got = events_of(conn, table, column, owner, ids, limit, newest_first)
                want = oracle(rows, column, owner, ids, limit, newest_first)
                assert [r["id"] for r in got] == want
                assert all(r == next(x for x in rows if x["id"] == r["id"]) for r in got)

    # the stores' readers: rule events newest first, fence events oldest first
    if name == "rule_events":
        got = RuleStore(store).events("a", limit=7)
        assert got == [rule_view(r) for r in _ordered(rows, "rule_id", "a", True)[:7]]
    else:
        got = PositionStore(store, lambda generation: {}, 10**12).fence_events("b", ids=some)
        assert [e["id"] for e in got] == oracle(rows, column, "b", some, 1000, False)


def _ordered(rows, column, owner, newest_first):
    chosen = [r for r in rows if r[column] == owner]
    return sorted(chosen, key=lambda r: (-r["at"] if newest_first else r["at"], r["id"]))
