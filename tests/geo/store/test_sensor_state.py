"""The sensors' screening state (geo.store.sensor_state) through ReadingStore.write, on
SQLite and PostGIS: a batch of no readings reads no sensors and writes nothing, and an
unknown sensor is still refused whole."""

from __future__ import annotations

import pytest

from cityaware.geo.errors import InvalidInput
from cityaware.geo.store.readings import ReadingBatch, ReadingStore, WriteReport

NOW = 1_700_000_000_000


def test_an_empty_batch_writes_nothing_and_an_unknown_sensor_is_refused(store):
    readings = ReadingStore(store, retention_ms=365 * 86_400_000)
    version = store.data_version()
    assert readings.write(ReadingBatch([], [], [], []), NOW) == WriteReport(accepted=0)
    assert store.data_version() == version
    with pytest.raises(InvalidInput, match="unknown sensor"):
        readings.write(ReadingBatch(["nowhere"], [1.0], [NOW], [None]), NOW)
