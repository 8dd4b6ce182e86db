"""The feature store: incidents, cameras and sensors pinned to their grids.

Public API (details in :mod:`geo.store.store`)::

    store = open_store(url, data_dir, locator)     # '' -> <data_dir>/features.sqlite
    store.add(kind, record, crs="EPSG:4326", idempotency_key=None, location=None) -> dict
    store.add_or_replay(kind, record, crs, idempotency_key, location) -> (dict, created)
    store.get(kind, id) / store.update(kind, id, changes) / store.delete(kind, id)
    store.history(kind, id) -> {"status": [...], "assignments": [...]}
    store.bulk_import(kind, frame_or_path, crs, lon_col, lat_col) -> ImportReport
    store.query(kind, FeatureFilter(...), limit, offset | cursor, sortby) -> Page
    store.count(kind, filters) / store.aggregate(kind, by, filters) -> [{..., "count": n}]
    store.iter_features(kind, filters, batch_size) -> batches of dicts
    store.reassign(locator) -> int;  store.data_version() -> int (the newest change seq)
    store.changes(after, limit) -> ChangePage;  store.prune_changes(now=None) -> int
    store.feature_frame(kind, columns, after=None) -> FrameDelta (see geo.store.changes)
"""

from cityaware.geo.store.bulk import ImportReport
from cityaware.geo.store.filters import FeatureFilter, parse_geometry
from cityaware.geo.store.paging import Page
from cityaware.geo.store.store import FeatureStore, open_store
from cityaware.geo.store.taxonomy import KINDS, Taxonomy

__all__ = [
    "KINDS",
    "FeatureFilter",
    "FeatureStore",
    "ImportReport",
    "Page",
    "Taxonomy",
    "open_store",
    "parse_geometry",
]
