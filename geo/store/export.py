"""Streaming exports of store features: GeoJSON, CSV, GeoPackage, GeoParquet.

Rows come from :meth:`FeatureStore.iter_features` batch by batch and are
appended to the output, so a million rows never sit in memory. Coordinates
are WGS84 lon/lat (x = lon).

>>> write_features(store, "incidents", "out.gpkg", "gpkg", FeatureFilter())  # doctest: +SKIP
12873
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, Self

import geopandas as gpd
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely

from cityaware.geo.errors import InvalidInput
from cityaware.geo.store.filters import FeatureFilter
from cityaware.geo.store.schema import ASSIGNMENT_COLUMNS, DERIVED_FIELDS, KIND_FIELDS
from cityaware.geo.store.taxonomy import check_kind


class FeatureBatches(Protocol):
    """What an export reads from: the store's batched features (:class:`StoreReads`)."""

    def iter_features(
        self, kind: str, filters: FeatureFilter | None = None, batch_size: int = 10_000
    ) -> Iterator[list[dict[str, Any]]]: ...


FORMATS = ("geojson", "csv", "gpkg", "parquet")
FLOATS = {"lon", "lat", "distance_m", "reading_value", "alarm_low", "alarm_high"}
BOOLEANS = {"online", "alarm"}
TIMES = {"reported_at", "created_at", "updated_at", "reading_at"}
JSON_TEXT = {"candidates", "attributes"}


def record_columns(kind: str) -> list[str]:
    """The keys of a ``kind`` record, in output order.

    >>> record_columns("cameras")[:6]
    ['id', 'kind', 'lon', 'lat', 'name', 'device_kind']
    """
    return [
        "id", "kind", "lon", "lat", *KIND_FIELDS[kind], *DERIVED_FIELDS[kind],
        *ASSIGNMENT_COLUMNS, "reported_at", "created_at", "updated_at", "attributes",
    ]  # fmt: skip


def write_features(
    store: FeatureBatches,
    kind: str,
    path: Path | str,
    fmt: str,
    filters: FeatureFilter | None = None,
    batch_size: int = 20_000,
    progress: Callable[[int], Any] | None = None,
) -> int:
    """Write the matching ``kind`` features to ``path`` as ``fmt``; returns the row count."""
    check_kind(kind)
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}; use {', '.join(FORMATS)}")
    path = Path(path)
    if path.exists():
        path.unlink()
    writer = {"geojson": _GeoJSON, "csv": _CSV, "gpkg": _GeoPackage, "parquet": _GeoParquet}[fmt]
    count = 0
    with writer(path, kind) as out:
        for batch in store.iter_features(kind, filters, batch_size):
            out.write(batch)
            count += len(batch)
            if progress is not None:
                progress(len(batch))
    return count


class _Writer:
    def __init__(self, path: Path, kind: str):
        self.path, self.kind, self.columns = path, kind, record_columns(kind)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def write(self, batch: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def flat(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record with JSON fields as text (for tabular formats)."""
        out = {name: record.get(name) for name in self.columns}
        for name in JSON_TEXT:
            if out[name] is not None and not isinstance(out[name], str):
                out[name] = json.dumps(out[name], ensure_ascii=False) if out[name] else None
        return out


class _GeoJSON(_Writer):
    def open(self) -> None:
        self.handle = open(self.path, "wb")
        self.handle.write(b'{"type":"FeatureCollection","features":[\n')
        self.first = True

    def write(self, batch: list[dict[str, Any]]) -> None:
        for record in batch:
            properties = {k: v for k, v in record.items() if k not in ("lon", "lat")}
            feature = {
                "type": "Feature",
                "id": record["id"],
                "geometry": {"type": "Point", "coordinates": [record["lon"], record["lat"]]},
                "properties": properties,
            }
            self.handle.write((b"" if self.first else b",\n") + orjson.dumps(feature))
            self.first = False

    def close(self) -> None:
        self.handle.write(b"\n]}\n")
        self.handle.close()


class _CSV(_Writer):
    def open(self) -> None:
        self.handle = open(self.path, "w", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, fieldnames=self.columns)
        self.writer.writeheader()

    def write(self, batch: list[dict[str, Any]]) -> None:
        self.writer.writerows(self.flat(r) for r in batch)

    def close(self) -> None:
        self.handle.close()


def _frame(writer: _Writer, batch: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    frame = pd.DataFrame([writer.flat(r) for r in batch], columns=writer.columns)
    for name in writer.columns:
        if name in FLOATS:
            frame[name] = frame[name].astype(float)
        elif name in BOOLEANS:
            frame[name] = frame[name].astype("boolean")
        elif name in TIMES:
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601").astype(
                "datetime64[ms, UTC]"
            )
        else:
            frame[name] = frame[name].astype(object)
    geometry = shapely.points(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


class _GeoPackage(_Writer):
    def open(self) -> None:
        self.started = False

    def write(self, batch: list[dict[str, Any]]) -> None:
        pyogrio.write_dataframe(
            _frame(self, batch), self.path, layer=self.kind, driver="GPKG", append=self.started
        )
        self.started = True

    def close(self) -> None:
        if not self.started:  # an empty layer still tells QGIS the fields
            pyogrio.write_dataframe(_frame(self, []), self.path, layer=self.kind, driver="GPKG")


class _GeoParquet(_Writer):
    def open(self) -> None:
        self.writer: pq.ParquetWriter | None = None

    def write(self, batch: list[dict[str, Any]]) -> None:
        frame = _frame(self, batch)
        table = pa.Table.from_pandas(
            pd.DataFrame(frame.drop(columns="geometry")).assign(
                geometry=shapely.to_wkb(frame.geometry.to_numpy())
            ),
            schema=self.schema(),
            preserve_index=False,
        )
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)

    def schema(self) -> pa.Schema:
        def arrow_type(name: str) -> pa.DataType:
            if name in FLOATS:
                return pa.float64()
            if name in BOOLEANS:
                return pa.bool_()
            if name in TIMES:
                return pa.timestamp("ms", tz="UTC")
            return pa.string()

        fields = [pa.field(n, arrow_type(n)) for n in self.columns]
        geo = {
            "version": "1.0.0",
            "primary_column": "geometry",
            "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"]}},
        }
        schema = pa.schema([*fields, pa.field("geometry", pa.binary())])
        return schema.with_metadata({b"geo": json.dumps(geo).encode()})

    def close(self) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema())
        self.writer.close()
