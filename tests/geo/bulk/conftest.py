"""The store fixtures of tests/geo/store (SQLite and PostGIS) for the bulk tests."""

from tests.geo.store.conftest import locator, store  # noqa: F401
