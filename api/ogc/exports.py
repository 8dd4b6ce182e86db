"""Exports of any collection and filter: GeoJSON, CSV, GeoPackage, GeoParquet, in batches.

Nothing holds all rows: GeoJSON and CSV are streamed batch by batch;
GeoPackage and GeoParquet are written batch by batch to a temporary file that
is streamed back and deleted afterwards. Exports ignore ``limit``/``offset``
and honour every filter (``bbox``, ``datetime``, ``filter``, ``properties``,
``sortby``). Files carry traditional GIS axis order (x = lon/easting) and
their CRS; GeoJSON keeps the authority order of ``crs`` like ``/items``.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
from pyproj import CRS
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response, StreamingResponse

from cityaware.api.ogc.catalog import Collection
from cityaware.api.ogc.crs import CRS84
from cityaware.api.ogc.geojson import feature_bytes
from cityaware.api.ogc.params import ItemParams
from cityaware.api.ogc.web import FORMAT_MEDIA, GEOJSON

FILE_FORMATS = ("csv", "gpkg", "parquet")
BATCH_SIZE = 5000


def _pyproj(crs: str) -> CRS:
    """The file CRS: EPSG codes; CRS84 is written as EPSG:4326 (files are x=lon anyway)."""
    return CRS.from_user_input("EPSG:4326" if crs == CRS84 else "EPSG:" + crs.rsplit("/", 1)[1])


def _batches(collection: Collection, params: ItemParams) -> Iterator[gpd.GeoDataFrame]:
    """Matching items in the target CRS with traditional (x=lon) axis order."""
    target = _pyproj(params.crs)
    for batch in collection.provider.iter_batches(params.query, BATCH_SIZE):
        frame = batch.set_crs("EPSG:4326", allow_override=True)
        yield frame if params.crs == CRS84 else frame.to_crs(target)


def export_response(collection: Collection, params: ItemParams, fmt: str) -> Response:
    """The streamed response for ``fmt`` in :data:`FILE_FORMATS` or ``geojson``."""
    name = f"{collection.id}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        stream = _primed(_csv(collection, params))
        return StreamingResponse(stream, media_type=FORMAT_MEDIA["csv"], headers=disposition)
    if fmt == "geojson":
        stream = _primed(_geojson(collection, params))
        crs_header = {"Content-Crs": f"<{params.crs}>"}
        return StreamingResponse(stream, media_type=GEOJSON, headers=crs_header)
    writer = _write_gpkg if fmt == "gpkg" else _write_parquet
    handle, path = tempfile.mkstemp(suffix="." + fmt, prefix="cityaware-export-")
    os.close(handle)
    try:
        writer(collection, params, path)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    return FileResponse(
        path,
        media_type=FORMAT_MEDIA[fmt],
        filename=name,
        background=BackgroundTask(os.unlink, path),
    )


def _primed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Produce the first chunk now, so bad filters fail with a 400 before streaming starts."""
    first = next(chunks, b"")
    return itertools.chain([first], chunks)


def _geojson(collection: Collection, params: ItemParams) -> Iterator[bytes]:
    """One chunk per batch (not per feature: each chunk is a thread hop in Starlette)."""
    head = b'{"type":"FeatureCollection","features":['
    for batch in collection.provider.iter_batches(params.query, BATCH_SIZE):
        features = feature_bytes(batch, params.crs)
        if features:
            yield head + b",".join(features)
            head = b","
    yield head + b"]}" if head != b"," else b"]}"


def _csv(collection: Collection, params: ItemParams) -> Iterator[bytes]:
    header = True
    for frame in _batches(collection, params):
        table = pd.DataFrame(frame.drop(columns=[frame.geometry.name]))
        for name in table.columns:
            if pd.api.types.is_datetime64_any_dtype(table[name]):
                table[name] = table[name].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        table["wkt"] = frame.geometry.to_wkt()
        buffer = io.StringIO()
        table.to_csv(buffer, index=False, header=header)
        header = False
        yield buffer.getvalue().encode("utf-8")
    if header:  # nothing matched: still answer a header line
        names = ["id", *(params.query.properties or collection.provider.fields), "wkt"]
        yield (",".join(names) + "\n").encode()


def _write_gpkg(collection: Collection, params: ItemParams, path: str) -> None:
    os.unlink(path)  # the GPKG driver creates the file itself
    wrote = False
    for frame in _batches(collection, params):
        pyogrio.write_dataframe(
            frame, path, layer=collection.id, driver="GPKG", append=wrote, promote_to_multi=False
        )
        wrote = True
    if not wrote:
        empty = gpd.GeoDataFrame(
            {name: [] for name in ["id", *collection.provider.fields]},
            geometry=[],
            crs=_pyproj(params.crs),
        )
        pyogrio.write_dataframe(empty, path, layer=collection.id, driver="GPKG")


def _write_parquet(collection: Collection, params: ItemParams, path: str) -> None:
    """GeoParquet 1.0: WKB geometry column plus the ``geo`` file metadata."""
    crs = _pyproj(params.crs)
    writer: pq.ParquetWriter | None = None
    schema = pa.schema([])  # the first batch's, with the ``geo`` metadata
    try:
        for frame in _batches(collection, params):
            table = _arrow_table(frame)
            if writer is None:
                geo = {
                    "version": "1.0.0",
                    "primary_column": "geometry",
                    "columns": {
                        "geometry": {
                            "encoding": "WKB",
                            "geometry_types": [],
                            "crs": crs.to_json_dict(),
                        }
                    },
                }
                schema = table.schema.with_metadata({"geo": json.dumps(geo)})
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(table.cast(schema))
        if writer is None:
            empty = gpd.GeoDataFrame({"id": []}, geometry=[], crs=crs)
            empty.to_parquet(path)
    finally:
        if writer is not None:
            writer.close()


def _arrow_table(frame: gpd.GeoDataFrame) -> pa.Table:
    props = frame.drop(columns=[frame.geometry.name])
    table = pa.Table.from_pandas(pd.DataFrame(props), preserve_index=False)
    wkb = pa.array(frame.geometry.to_wkb().tolist(), type=pa.binary())
    return table.append_column("geometry", wkb)
