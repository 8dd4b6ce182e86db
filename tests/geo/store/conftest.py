"""The ``store`` fixtures: the same behaviour suite on SQLite and on a real PostGIS.

PostGIS comes from ``CITYAWARE_TEST_DATABASE_URL`` (scripts/test.sh starts a
throwaway cluster); every store gets its own schema, so ``pytest -n 2`` is
safe. Without the variable the PostGIS cases skip, or fail when ``CI=true``.
``store`` is fresh per test; ``shared_store`` is one per module and backend,
for tests that only read.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from cityaware.geo.store import FeatureStore, open_store
from tests.geo.store import synthetic

URL_VARIABLE = "CITYAWARE_TEST_DATABASE_URL"
PARTITIONS_VARIABLE = "CITYAWARE_TEST_PARTITIONS"  # set: PostGIS stores use ?partitions=month
BACKENDS = ["sqlite", "postgis"]


@pytest.fixture(scope="session")
def locator():
    return synthetic.locator("g1")


def postgis_url_or_skip() -> str:
    url = os.environ.get(URL_VARIABLE)
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{URL_VARIABLE} is not set but CI=true: PostGIS tests must run")
        pytest.skip(f"{URL_VARIABLE} not set")
    return url


@contextmanager
def backend_store(
    backend: str, data_dir: Path, locator, partitioned: bool = False
) -> Iterator[FeatureStore]:
    """A fresh store: SQLite under ``data_dir``, or PostGIS in a schema of its own
    (``partitioned``: with ``?partitions=month``)."""
    if backend == "sqlite":
        store = open_store("", data_dir, locator)
        yield store
        store.close()
        return
    base = postgis_url_or_skip().replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    options = f"options={quote(f'-csearch_path={schema},public')}"
    if partitioned or os.environ.get(PARTITIONS_VARIABLE):  # also: the suite, partitioned
        options += "&partitions=month"
    store = open_store(f"{base}{separator}{options}", data_dir, locator)
    try:
        yield store
    finally:
        store.close()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path, locator):
    with backend_store(request.param, tmp_path, locator) as opened:
        yield opened


@pytest.fixture(scope="module", params=BACKENDS)
def shared_store(request, tmp_path_factory, locator):
    with backend_store(request.param, tmp_path_factory.mktemp("store"), locator) as opened:
        yield opened
