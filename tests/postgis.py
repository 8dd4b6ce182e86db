"""A PostGIS schema of its own for a test: ``CITYAWARE_TEST_DATABASE_URL`` (scripts/test.sh
starts a throwaway cluster) names the database; without it the test skips, or fails when
``CI=true``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
import sqlalchemy as sa

URL_VARIABLE = "CITYAWARE_TEST_DATABASE_URL"


def postgis_url_or_skip() -> str:
    url = os.environ.get(URL_VARIABLE)
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{URL_VARIABLE} is not set but CI=true: PostGIS tests must run")
        pytest.skip(f"{URL_VARIABLE} not set")
    return url


@contextmanager
def schema_url(prefix: str = "t") -> Iterator[str]:
    """The database URL of a fresh schema (first on the search path), dropped afterwards."""
    base = postgis_url_or_skip().replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema},public')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
