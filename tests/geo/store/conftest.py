"""The ``store`` fixtures: the same behaviour suite on SQLite and on a real PostGIS.

PostGIS comes from ``CITYAWARE_TEST_DATABASE_URL`` (scripts/test.sh starts a
throwaway cluster); every store gets its own schema, so ``pytest -n 2`` is
safe. Without the variable the PostGIS cases skip, or fail when ``CI=true``.
``store`` is fresh per test; ``shared_store`` is one per module and backend,
for tests that only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cityaware.geo.store import FeatureStore, open_store
from tests.geo.store import synthetic
from tests.postgis import schema_url

BACKENDS = ["sqlite", "postgis"]


@pytest.fixture(scope="session")
def locator():
    return synthetic.locator("g1")


@contextmanager
def backend_store(backend: str, data_dir: Path, locator) -> Iterator[FeatureStore]:
    """A fresh store: SQLite under ``data_dir``, or PostGIS in a schema of its own."""
    if backend == "sqlite":
        store = open_store("", data_dir, locator)
        yield store
        store.close()
        return
    with schema_url() as url:
        store = open_store(url, data_dir, locator)
        try:
            yield store
        finally:
            store.close()


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path, locator):
    with backend_store(request.param, tmp_path, locator) as opened:
        yield opened


@pytest.fixture(scope="module", params=BACKENDS)
def shared_store(request, tmp_path_factory, locator):
    with backend_store(request.param, tmp_path_factory.mktemp("store"), locator) as opened:
        yield opened
