"""StorePointFeed follows the store's change feed: after each write its frame equals a fresh
full read of the store (the oracle), on SQLite and PostGIS, including after a prune."""

from __future__ import annotations

import pandas as pd
import pytest

from cityaware.layers.feeds import StorePointFeed
from tests.geo.store import sample, synthetic
from tests.geo.store.conftest import BACKENDS, backend_store


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    with backend_store(request.param, tmp_path, synthetic.locator("g1")) as opened:
        yield opened


def oracle(store, kind: str) -> pd.DataFrame:
    """Every stored feature of ``kind`` as the feed's columns, read record by record."""
    records = [r for batch in store.iter_features(kind) for r in batch]
    columns = list(StorePointFeed.COLUMNS[kind])
    return pd.DataFrame([{c: r[c] for c in columns} for r in records], columns=columns)


def assert_follows(feed: StorePointFeed, store) -> None:
    frame = feed.load()
    columns = list(StorePointFeed.COLUMNS[feed.kind])
    got = frame[columns].astype(object).sort_values("id").reset_index(drop=True)
    want = oracle(store, feed.kind).astype(object).sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_the_feed_follows_adds_updates_deletes_and_bulk_imports(store):
    feed = StorePointFeed(lambda: store, "incidents")
    store.bulk_import("incidents", sample.incidents(50))
    assert_follows(feed, store)
    reads: list = []
    real = store.feature_frame
    store.feature_frame = lambda *a, **k: reads.append(k.get("after")) or real(*a, **k)
    store.add("incidents", {"id": "n1", "lon": 113.605, "lat": 34.705, "category": "noise"})
    store.update("incidents", "i3", {"priority": "urgent"})
    store.update("incidents", "i4", {"lon": 113.635, "lat": 34.735})
    store.delete("incidents", "i5")
    assert_follows(feed, store)
    store.bulk_import("incidents", sample.incidents(20).assign(id=lambda f: "b" + f.id))
    store.reassign(synthetic.locator("g2", shift=0.003))
    assert_follows(feed, store)
    assert None not in reads and len(reads) == 2  # incremental reads only
    frame = feed.load()
    assert frame["updated_at"].dtype == "int64" and "i5" not in set(frame["id"])


def test_a_pruned_position_reads_everything_again(store):
    feed = StorePointFeed(lambda: store, "cameras")
    store.add("cameras", {"id": "c1", "lon": 113.605, "lat": 34.705})
    assert_follows(feed, store)
    store.delete("cameras", "c1")
    store.add("cameras", {"id": "c2", "lon": 113.615, "lat": 34.705})
    store.prune_changes(now=10**15)  # far future: every change is older than the retention
    assert_follows(feed, store)
    assert list(feed.load()["id"]) == ["c2"]
