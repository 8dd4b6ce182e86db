"""Locate every point of a CSV, GeoPackage (any OGR vector file) or GeoParquet file, streaming.

Rows are read and written in chunks (pandas/pyarrow CSV readers, pyogrio's
Arrow stream, ``pyarrow.parquet.iter_batches``), so files larger than memory
work. The output is the input columns plus ``grid_code``, ``community_code``,
``street_code``, ``district_code``, ``city_code``, ``level`` (which level
answered), ``status``, ``distance_m``, ``nearest_grid`` and ``error``; its
format follows the output extension (``.csv``, ``.gpkg``, ``.parquet``/``.geoparquet``).

Coordinates come from ``lon_col``/``lat_col`` (x = longitude or easting,
y = latitude or northing; detected from common names when not given) or
else from point geometries. **Bad rows do not abort the file**: a row whose
coordinates are missing, not numbers, out of range, swapped or not a point
gets status ``invalid`` and the reason in ``error``. The output is written to
a temporary file and renamed at the end, so a failure never leaves a partial
output.

Output geometry: the input geometry (in its CRS) when the input had one,
else WGS84 points from the located lon/lat (none for invalid rows); CSV
output carries the input geometry as WKT.

>>> sorted(OUTPUT_FORMATS)
['.csv', '.geoparquet', '.gpkg', '.parquet']
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import shapely
from pyarrow._compute import CastOptions, call_function  # see geo.engine.columns

from cityaware.geo.arrays import FloatArray, ObjectArray
from cityaware.geo.crs import to_lonlat_checked
from cityaware.geo.engine.columns import (
    buffer_view,
    chain_dictionaries,
    float_column,
    floats,
    strings,
    take_strings,
)
from cityaware.geo.engine.locator import CHAIN_COLUMNS, GridLocator
from cityaware.geo.engine.results import INVALID, STATUSES, Located
from cityaware.geo.errors import InvalidInput

OUTPUT_FORMATS = {".csv": "csv", ".gpkg": "gpkg", ".parquet": "parquet", ".geoparquet": "parquet"}
ADDED = (
    "grid_code",
    "community_code",
    "street_code",
    "district_code",
    "city_code",
    "level",
    "status",
    "distance_m",
    "nearest_grid",
    "error",
)
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")


@dataclass
class Chunk:
    """Attribute columns, point coordinates (NaN where missing) and per-row read errors."""

    table: pa.Table
    x: FloatArray
    y: FloatArray
    errors: ObjectArray
    geometry: pa.Array[Any] | None  # WKB per row, when the input has geometry


def locate_file(
    input_path: Path | str,
    output_path: Path | str,
    locator: GridLocator,
    crs: str,
    lon_col: str | None = None,
    lat_col: str | None = None,
    chunk_size: int = 100_000,
    progress: Callable[[int], None] | None = None,
    layer: str | None = None,
) -> dict[str, int | float]:
    """Locate all rows of ``input_path`` into ``output_path``; return a summary dict.

    The summary has ``points``, one count per status, and ``seconds``.
    ``progress`` is called with the number of rows of each finished chunk.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    out_format = OUTPUT_FORMATS.get(output_path.suffix.lower())
    if out_format is None:
        raise InvalidInput(f"output {output_path.name}: use one of {', '.join(OUTPUT_FORMATS)}")
    if not input_path.exists():
        raise InvalidInput(f"input {input_path} does not exist")
    start = time.perf_counter()
    counts = {"inside": 0, "on_boundary": 0, "outside": 0, "invalid": 0}
    chunks = ChunkReader(input_path, lon_col, lat_col, chunk_size, layer)
    fd, tmp = tempfile.mkstemp(dir=output_path.parent, suffix=output_path.suffix)
    os.close(fd)
    os.unlink(tmp)  # writers create it; GDAL refuses to append to an empty file
    writer = _Writer(Path(tmp), out_format)
    try:
        for chunk in chunks:
            table, lon, lat = locate_chunk(chunk, locator, crs)
            writer.write(table, chunk.geometry, chunks.geometry_crs, lon, lat)
            found = call_function("value_counts", [table["status"]])
            statuses, numbers = found.field(0).to_pylist(), found.field(1).to_pylist()
            for status, n in zip(statuses, numbers, strict=True):
                counts[str(status)] += int(n or 0)
            if progress is not None:
                progress(table.num_rows)
        if not sum(counts.values()):
            raise InvalidInput(f"{input_path.name}: no rows to locate")
        writer.close()
        os.replace(tmp, output_path)
    except _read_errors() as error:
        raise InvalidInput(f"{input_path.name}: cannot read ({error})") from None
    finally:
        writer.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"points": sum(counts.values()), **counts, "seconds": time.perf_counter() - start}


def locate_chunk(
    chunk: Chunk, locator: GridLocator, crs: str, fields: Sequence[str] = ADDED
) -> tuple[pa.Table, FloatArray, FloatArray]:
    """(output table, WGS84 lon, WGS84 lat) of one chunk; ``fields``: the located columns
    to add (any :class:`~geo.engine.results.LocationBatch` field, default :data:`ADDED`).

    Candidate lists are computed only when ``fields`` asks for them; code columns are
    taken from per-unit dictionaries (:mod:`geo.engine.columns`)."""
    lon, lat, problems = to_lonlat_checked(chunk.x, chunk.y, crs)
    problems = np.where(chunk.errors != None, chunk.errors, problems)  # noqa: E711
    found = locator.locate_indices(lon, lat, candidates="candidates" in fields)
    bad = problems != None  # noqa: E711
    found.status[bad] = INVALID
    found.error[bad] = problems[bad]
    columns = _answer_columns(locator, found, fields)
    table = chunk.table.drop_columns([c for c in fields if c in chunk.table.column_names])
    for name in fields:
        table = table.append_column(name, columns[name])
    return table, lon, lat


def _answer_columns(
    locator: GridLocator, found: Located, fields: Sequence[str]
) -> dict[str, pa.Array[Any]]:
    dictionaries = dict(zip(CHAIN_COLUMNS, chain_dictionaries(locator), strict=True))
    columns: dict[str, pa.Array[Any]] = {}
    for name in fields:
        if name in CHAIN_COLUMNS:
            columns[name] = take_strings(dictionaries[name], found.unit)
        elif name == "status":
            columns[name] = take_strings(_STATUS_DICTIONARY, found.status.astype(np.int64))
        elif name == "nearest_grid":
            columns[name] = take_strings(dictionaries["grid_code"], found.nearest)
        elif name in ("distance_m", "lon", "lat"):
            columns[name] = float_column(getattr(found, name))
        elif name == "error":
            columns[name] = _texts(found.error)
        elif name == "candidates":
            assert found.candidates is not None  # asked for: locate_chunk computed them
            columns[name] = pa.array(found.candidates, type=pa.list_(pa.string()))
        else:
            raise InvalidInput(f"no located field {name!r}")
    return columns


_STATUS_DICTIONARY = strings(list(STATUSES))


def _texts(values: ObjectArray) -> pa.Array[Any]:
    """An object array of mostly None texts as a string column (one string per message)."""
    present = np.flatnonzero(values != None)  # noqa: E711
    index = np.full(len(values), -1, dtype=np.int64)
    if not present.size:
        return pa.nulls(len(values), pa.string())
    messages, index[present] = np.unique(values[present].astype(str), return_inverse=True)
    return take_strings(strings(messages.tolist()), index)


def count_rows(path: Path | str, layer: str | None = None) -> int | None:
    """Row count when cheap to know (GeoParquet, OGR files), else None (CSV)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return None
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            return pq.ParquetFile(path).metadata.num_rows
        import pyogrio  # GDAL: only for OGR files (a second of imports)

        count = pyogrio.read_info(path, layer=layer).get("features", -1)
    except _read_errors():
        return None  # locate_file reports the unreadable file
    return count if count >= 0 else None


class ChunkReader:
    """Iterate the :class:`Chunk` s of a file; ``geometry_crs`` is known after the first."""

    def __init__(
        self,
        path: Path,
        lon_col: str | None,
        lat_col: str | None,
        chunk_size: int,
        layer: str | None,
    ) -> None:
        self.path, self.lon_col, self.lat_col = path, lon_col, lat_col
        self.chunk_size, self.layer = chunk_size, layer
        self.geometry_crs: str | None = None

    def __iter__(self) -> Iterator[Chunk]:
        suffix = self.path.suffix.lower()
        if suffix == ".csv":
            yield from self._csv()
        elif suffix in (".parquet", ".geoparquet"):
            yield from self._parquet()
        else:
            yield from self._ogr()

    def _csv(self) -> Iterator[Chunk]:
        options = pa_csv.ConvertOptions(strings_can_be_null=False)
        header = pa_csv.ReadOptions(block_size=1 << 16)  # the names only: a small block
        with pa_csv.open_csv(self.path, read_options=header, convert_options=options) as reader:
            columns = reader.schema.names
            lon_col, lat_col = coordinate_columns(columns, self.lon_col, self.lat_col)
            if lon_col is None:
                raise InvalidInput(
                    f"{self.path.name}: no coordinate columns found among {columns}; "
                    "give --lon-col and --lat-col"
                )
            as_text = {c: pa.string() for c in columns}
            options = pa_csv.ConvertOptions(column_types=as_text, strings_can_be_null=False)
        read = pa_csv.ReadOptions(block_size=max(1 << 20, self.chunk_size * 64))
        with pa_csv.open_csv(self.path, read_options=read, convert_options=options) as reader:
            for batch in reader:
                yield from self._split(pa.Table.from_batches([batch]), lon_col, lat_col, None)

    def _parquet(self) -> Iterator[Chunk]:
        parquet = pq.ParquetFile(self.path)
        geo = json.loads((parquet.schema_arrow.metadata or {}).get(b"geo", b"{}"))
        geometry_col = geo.get("primary_column")
        if geometry_col:
            encoding = geo["columns"][geometry_col].get("encoding", "WKB")
            if encoding.upper() != "WKB":
                raise InvalidInput(f"{self.path.name}: geometry encoding {encoding} (need WKB)")
            crs = geo["columns"][geometry_col].get("crs", "OGC:CRS84")
            self.geometry_crs = _crs_text(crs)
        columns = [c for c in parquet.schema_arrow.names if c != geometry_col]
        lon_col, lat_col = self._columns_or_geometry(columns, geometry_col)
        for batch in parquet.iter_batches(batch_size=self.chunk_size):
            yield from self._split(pa.Table.from_batches([batch]), lon_col, lat_col, geometry_col)

    def _ogr(self) -> Iterator[Chunk]:
        import pyogrio

        try:
            stream = pyogrio.open_arrow(
                self.path, layer=self.layer, batch_size=self.chunk_size, use_pyarrow=True
            )
        except _ogr_errors() as error:
            raise InvalidInput(f"{self.path.name}: cannot read ({error})") from None
        with stream as (meta, reader):
            self.geometry_crs = meta.get("crs")
            geometry_col = meta.get("geometry_name") or "wkb_geometry"
            columns = list(meta["fields"])
            lon_col, lat_col = self._columns_or_geometry(columns, geometry_col)
            for batch in reader:
                yield from self._split(
                    pa.Table.from_batches([batch]), lon_col, lat_col, geometry_col
                )

    def _columns_or_geometry(
        self, columns: Sequence[str], geometry_col: str | None
    ) -> tuple[str | None, str | None]:
        lon_col, lat_col = coordinate_columns(columns, self.lon_col, self.lat_col)
        if lon_col is None and not geometry_col:
            raise InvalidInput(
                f"{self.path.name}: no geometry and no coordinate columns among {columns}"
            )
        return lon_col, lat_col

    def _split(
        self, table: pa.Table, lon_col: str | None, lat_col: str | None, geometry_col: str | None
    ) -> Iterator[Chunk]:
        for offset in range(0, max(table.num_rows, 1), self.chunk_size):
            part = table.slice(offset, self.chunk_size)
            if part.num_rows:
                yield make_chunk(part, lon_col, lat_col, geometry_col)


def _ogr_errors() -> tuple[type[Exception], ...]:
    """pyogrio's read errors, once pyogrio is loaded (only OGR files load it)."""
    errors = sys.modules.get("pyogrio.errors")
    if errors is None:
        return ()
    return (errors.DataSourceError, errors.DataLayerError, errors.FieldError, errors.GeometryError)


def _read_errors() -> tuple[type[Exception], ...]:
    """What a reader raises for an unreadable file (checked when one is raised)."""
    arrow: type[Exception] = pa.ArrowInvalid
    return (arrow, *_ogr_errors())


def _crs_text(crs: object) -> str:
    """GeoParquet's PROJJSON (or string) CRS as a name pyproj/GDAL accept."""
    if isinstance(crs, dict):
        ident = crs.get("id") or {}
        if ident.get("authority") and ident.get("code"):
            return f"{ident['authority']}:{ident['code']}"
        return json.dumps(crs)
    return "OGC:CRS84" if crs is None else str(crs)


def coordinate_columns(
    columns: Sequence[str], lon_col: str | None, lat_col: str | None
) -> tuple[str | None, str | None]:
    """The given coordinate columns (checked), else ones found by their usual names.

    >>> coordinate_columns(["id", "Lng", "lat"], None, None)
    ('Lng', 'lat')
    """
    if (lon_col is None) != (lat_col is None):
        raise InvalidInput("give both --lon-col and --lat-col, or neither")
    if lon_col is not None:
        missing = [c for c in (lon_col, lat_col) if c not in columns]
        if missing:
            raise InvalidInput(f"column(s) {missing} not in the input (has: {list(columns)})")
        return lon_col, lat_col
    lower = {c.lower(): c for c in columns}
    lon = next((lower[n] for n in LON_NAMES if n in lower), None)
    lat = next((lower[n] for n in LAT_NAMES if n in lower), None)
    return (lon, lat) if lon and lat else (None, None)


def make_chunk(
    table: pa.Table, lon_col: str | None, lat_col: str | None, geometry_col: str | None
) -> Chunk:
    """The coordinates (from the columns, else the WKB points of ``geometry_col``) of a table."""
    n = table.num_rows
    errors = np.full(n, None, dtype=object)
    geometry: pa.Array[Any] | None = None
    if geometry_col and geometry_col in table.column_names:
        column: pa.ChunkedArray[Any] = table[geometry_col]  # one chunk per batch: no copy
        geometry = column.chunks[0] if column.num_chunks == 1 else column.combine_chunks()
        table = table.drop_columns([geometry_col])
    if lon_col is not None and lat_col is not None:
        x = _numbers(table[lon_col], lon_col, errors)
        y = _numbers(table[lat_col], lat_col, errors)
    elif geometry is None:
        raise InvalidInput("the input has neither a geometry column nor coordinate columns")
    else:
        x, y = _wkb_points(geometry, errors)
    return Chunk(table=table, x=x, y=y, errors=errors, geometry=geometry)


_POINT_WKB = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])


def _wkb_points(geometry: pa.Array[Any], errors: ObjectArray) -> tuple[FloatArray, FloatArray]:
    """x, y of WKB points (NaN and a message in ``errors`` for anything else); read
    straight from the buffers when every value is a little-endian 2-D point."""
    if pa.types.is_binary(geometry.type) and not geometry.null_count and len(geometry):
        _, offsets, data = geometry.buffers()
        bounds = np.frombuffer(buffer_view(offsets), dtype=np.int32)
        bounds = bounds[geometry.offset :][: len(geometry) + 1]
        if (np.diff(bounds) == _POINT_WKB.itemsize).all():
            view = buffer_view(data)
            records = np.frombuffer(view, dtype=_POINT_WKB, count=len(geometry), offset=bounds[0])
            if (records["order"] == 1).all() and (records["kind"] == 1).all():
                return records["x"].copy(), records["y"].copy()
    shapes: ObjectArray = shapely.from_wkb(
        geometry.to_numpy(zero_copy_only=False), on_invalid="ignore"
    )
    points = shapely.get_type_id(shapes) == shapely.GeometryType.POINT
    points &= ~shapely.is_empty(shapes)
    x = np.where(points, shapely.get_x(shapes), np.nan)
    y = np.where(points, shapely.get_y(shapes), np.nan)
    for i in np.flatnonzero(~points):
        kind = (
            "missing or empty" if shapes[i] is None or shapes[i].is_empty else shapes[i].geom_type
        )
        errors[i] = f"geometry is {kind}, not a point"
    return x, y


def point_wkb(lon: FloatArray, lat: FloatArray) -> pa.Array[Any]:
    """Little-endian WKB points built with numpy (null where lon/lat is NaN).

    >>> import shapely
    >>> shapely.from_wkb(point_wkb(np.array([113.5]), np.array([34.5]))[0].as_py()).wkt
    'POINT (113.5 34.5)'
    """
    records = np.empty(len(lon), dtype=_POINT_WKB)
    records["order"], records["kind"], records["x"], records["y"] = 1, 1, lon, lat
    data = pa.py_buffer(records.tobytes())
    offsets = pa.py_buffer(
        (np.arange(len(lon) + 1, dtype=np.int32) * _POINT_WKB.itemsize).tobytes()
    )
    valid = np.isfinite(lon) & np.isfinite(lat)
    nulls = None if valid.all() else pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(pa.binary(), len(lon), [nulls, offsets, data])


def _numbers(column: pa.ChunkedArray[Any], name: str, errors: ObjectArray) -> FloatArray:
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        return floats(column)
    try:  # fast path: every value parses
        return floats(call_function("cast", [column], CastOptions.safe(pa.float64())))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    import pandas as pd  # only for columns with unreadable values

    values = column.to_pandas()
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        text = values.astype(str).str.strip()
        unreadable = np.isnan(numbers) & (text.str.lower() != "nan").to_numpy()
        for i in np.flatnonzero(unreadable & (errors == None)):  # noqa: E711
            shown = text.iloc[i]
            errors[i] = f"{name}={shown!r} is not a number" if shown else f"{name} is empty"
    return numbers


class _Writer:
    """Appends located chunks to one CSV, GeoPackage layer or GeoParquet file."""

    def __init__(self, path: Path, out_format: str) -> None:
        self.path, self.format = path, out_format
        self._sink: tuple[pa_csv.CSVWriter | pq.ParquetWriter, pa.Schema] | None = None
        self._first = True

    def write(
        self,
        table: pa.Table,
        wkb: pa.Array[Any] | None,
        crs: str | None,
        lon: FloatArray,
        lat: FloatArray,
    ) -> None:
        """Append ``table``; geometry is the input ``wkb`` (in ``crs``) or points at lon/lat."""
        if self.format == "csv":
            if wkb is not None:
                shapes = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False), on_invalid="ignore")
                wkt = shapely.to_wkt(shapes)
                table = table.append_column("geometry", pa.array(wkt, type=pa.string()))
            self._write_csv(table)
            return
        geometry_type = "Unknown"
        if wkb is None:
            geometry, crs, geometry_type = point_wkb(lon, lat), "EPSG:4326", "Point"
        else:
            geometry = wkb
        table = table.append_column("geometry", geometry)
        if self.format == "gpkg":
            import pyogrio

            pyogrio.write_arrow(
                table,
                self.path,
                layer="located",
                driver="GPKG",
                geometry_name="geometry",
                geometry_type=geometry_type,
                crs=crs,
                append=not self._first,
            )
        else:
            self._write_parquet(table, crs)
        self._first = False

    def _write_csv(self, table: pa.Table) -> None:
        if self._sink is None:
            self._sink = pa_csv.CSVWriter(str(self.path), table.schema), table.schema
        self._append(table)

    def _append(self, table: pa.Table) -> None:
        assert self._sink is not None  # opened by _write_csv / _write_parquet
        sink, schema = self._sink
        if not table.schema.equals(schema):  # a later chunk typed otherwise (e.g. all-null)
            table = table.cast(schema)
        sink.write_table(table)

    def _write_parquet(self, table: pa.Table, crs: str | None) -> None:
        if self._sink is None:
            geo: dict[str, Any] = {
                "version": "1.0.0",
                "primary_column": "geometry",
                "columns": {"geometry": {"encoding": "WKB", "geometry_types": []}},
            }
            if crs and crs.upper() not in ("EPSG:4326", "OGC:CRS84"):
                from pyproj import CRS

                geo["columns"]["geometry"]["crs"] = CRS.from_user_input(crs).to_json_dict()
            metadata = {**(table.schema.metadata or {}), b"geo": json.dumps(geo).encode()}
            schema = table.schema.with_metadata(metadata)
            # Dictionary pages for text columns (codes, statuses: few values); numbers and
            # WKB are mostly distinct, so hashing them only to fall back to plain costs
            # ~40 % of the write. Min/max statistics only on numbers: on WKB they mean
            # nothing, and on codes spread over a city they span every chunk (~20 %).
            texts = [f.name for f in schema if _is_text(f.type)]
            ranked = [f.name for f in schema if not (_is_text(f.type) or _is_bytes(f.type))]
            writer = pq.ParquetWriter(
                str(self.path),
                schema,
                use_dictionary=texts,  # type: ignore[arg-type]  # a list of columns (stubs: bool)
                write_statistics=ranked,
            )
            self._sink = writer, schema
        self._append(table)

    def close(self) -> None:
        if self._sink is not None:
            self._sink[0].close()
            self._sink = None


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind)
    )


def _is_bytes(kind: pa.DataType) -> bool:
    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
