"""The ``store`` fixture: the same behaviour suite on SQLite and on a real PostGIS.

PostGIS comes from ``CITYAWARE_TEST_DATABASE_URL`` (scripts/test.sh starts a
throwaway cluster); every test gets its own schema, so ``pytest -n 2`` is
safe. Without the variable the PostGIS cases skip, or fail when ``CI=true``.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from geo.store import open_store
from tests.geo.store import synthetic

URL_VARIABLE = "CITYAWARE_TEST_DATABASE_URL"


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


@pytest.fixture(params=["sqlite", "postgis"])
def store(request, tmp_path, locator):
    url = request.getfixturevalue("store_url_" + request.param)
    opened = open_store(url, tmp_path, locator)
    yield opened
    opened.close()


@pytest.fixture
def store_url_sqlite():
    return ""


@pytest.fixture
def store_url_postgis(tmp_path):
    base = postgis_url_or_skip().replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options={quote(f'-csearch_path={schema},public')}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()
