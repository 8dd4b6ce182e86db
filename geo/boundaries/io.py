"""Read boundary files (GeoJSON, GeoPackage, Shapefile, FlatGeobuf) into a units frame.

Any CRS pyproj knows is accepted (the file's own, or ``crs``, which overrides
it); the result is in EPSG:4326 with the columns of :mod:`geo.boundaries.schema`.
Invalid rings are repaired after reprojection (:mod:`geo.boundaries.repair`)
and each repair is reported as a :class:`RepairNote`. Level names may be NBS
or civil-affairs aliases (:mod:`geo.boundaries.levels`). A file that cannot be used raises
:class:`~geo.errors.InvalidInput` naming the feature and the problem.

>>> units, repairs = read_units("data/boundaries/zhengzhou-demo.gpkg", layer="districts")
... # doctest: +SKIP
>>> units.columns.tolist()  # doctest: +SKIP
['code', 'name', 'level', 'parent_code', 'code_system', 'code_version', 'managing_zone',
 'attributes', 'geometry']
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

from cityaware.geo.arrays import StrArray
from cityaware.geo.boundaries.levels import canonical_level, is_city_code
from cityaware.geo.boundaries.plausibility import axis_swap_hint, in_china
from cityaware.geo.boundaries.repair import RepairNote, repair_geometries
from cityaware.geo.boundaries.schema import CORE_COLUMNS, LAYER_OF, LEVEL_OF_LAYER, STORAGE_CRS
from cityaware.geo.errors import InvalidInput

# Code length -> level, and level -> length of the parent's code prefix.
LEVEL_OF_CODE_LENGTH: dict[int, str] = {6: "district", 9: "street", 12: "community"}
PARENT_PREFIX: dict[str, int] = {"street": 6, "community": 9, "grid": 12}


def read_units(
    path: str | Path,
    *,
    level: str | None = None,
    layer: str | None = None,
    crs: str | None = None,
    code_system: str = "NBS",
    code_version: str = "",
    column_map: dict[str, str] | None = None,
    encoding: str | None = None,
    swap_axes: bool = False,
    force: bool = False,
) -> tuple[gpd.GeoDataFrame, list[RepairNote]]:
    """Read one layer of a boundary file as a units frame in EPSG:4326.

    ``crs`` is the CRS of the coordinates; it overrides the file's own (a
    GeoJSON always claims lon/lat). ``column_map`` renames source columns to
    schema columns, e.g. ``{"WGBM": "code", "WGMC": "name"}``. ``encoding``
    is the text encoding of a Shapefile without .cpg (detected when None:
    UTF-8 if it decodes strictly, else GB18030, a superset of GBK).
    ``swap_axes`` reads northing-first coordinates; a file that lands in
    China only with swapped axes is refused with a message saying so unless
    ``force``. Geometry is repaired after reprojection to lon/lat.

    >>> units, repairs = read_units("grids.shp", level="grid", crs="EPSG:4543")  # doctest: +SKIP
    """
    path = Path(path)
    source = f"{path.name}:{layer}" if layer else path.name
    frame = _read_frame(path, layer, encoding)
    if column_map:
        frame = frame.rename(columns=column_map)
    frame = _rename_core_columns(frame)
    if frame.empty:
        raise InvalidInput(f"{source}: no features")
    if "code" not in frame.columns:
        found = ", ".join(c for c in frame.columns if c != "geometry") or "none"
        raise InvalidInput(
            f"{source}: no 'code' column (found: {found}); map one (--column SOURCE=code)"
        )
    frame = frame.reset_index(drop=True)
    codes = digit_strings(frame["code"], source, "code")
    _require_codes(codes, source)
    levels = _levels(frame, codes, level, source)
    units = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": _text(frame, "name"),
            "level": levels,
            "parent_code": _parent_codes(frame, codes, levels, source),
            "code_system": _text(frame, "code_system", code_system),
            "code_version": _text(frame, "code_version", code_version),
            "managing_zone": digit_strings(frame["managing_zone"], source, "managing_zone")
            if "managing_zone" in frame.columns
            else np.full(len(frame), "", dtype=object),
            "attributes": _attributes(frame),
        },
        geometry=gpd.GeoSeries(frame.geometry.to_numpy(), crs=frame.crs),
    )
    units = _to_storage_crs(units, crs, source, swap_axes, force)
    geoms, repairs = repair_geometries(units.geometry.to_numpy(), codes, source)
    return units.set_geometry(gpd.GeoSeries(geoms, crs=STORAGE_CRS)), repairs


def read_hierarchy(path: str | Path, **options: Any) -> tuple[gpd.GeoDataFrame, list[RepairNote]]:
    """Read the districts/streets/communities/grids layers of a GeoPackage, with repairs.

    ``options`` are those of :func:`read_units` except ``level`` and ``layer``.

    >>> units, repairs = read_hierarchy("data/boundaries/zhengzhou-demo.gpkg")  # doctest: +SKIP
    """
    path = Path(path)
    present = set(_layer_names(path))
    layers = [name for name in LAYER_OF.values() if name in present]
    if not layers:
        wanted = ", ".join(LAYER_OF.values())
        raise InvalidInput(
            f"{path.name}: none of the layers {wanted} found (has: {', '.join(present) or '-'})"
        )
    frames, repairs = [], []
    for name in layers:
        units, notes = read_units(path, layer=name, level=LEVEL_OF_LAYER[name], **options)
        frames.append(units)
        repairs.extend(notes)
    return concat_units(frames), repairs


def read_hierarchy_gpkg(path: str | Path) -> gpd.GeoDataFrame:
    """Read a hierarchy GeoPackage (layers districts, streets, communities, grids) as one frame.

    >>> units = read_hierarchy_gpkg("data/boundaries/zhengzhou-demo.gpkg")  # doctest: +SKIP
    >>> sorted(units.level.unique())  # doctest: +SKIP
    ['community', 'district', 'grid', 'street']
    """
    return read_hierarchy(path)[0]


def read_many(
    paths: Sequence[str | Path],
    *,
    level: str | None = None,
    layer: str | None = None,
    progress: Iterable[str | Path] | None = None,
    **options: Any,
) -> tuple[gpd.GeoDataFrame, list[RepairNote]]:
    """Read several files into one units frame (a hierarchy GeoPackage counts as one file).

    A GeoPackage with hierarchy layers is read whole unless ``layer`` or
    ``level`` is given; any other file is read with :func:`read_units`, which
    also takes ``options`` (crs, code_system, code_version, column_map).
    ``progress`` may wrap the paths (e.g. a tqdm bar over them).

    >>> units, repairs = read_many(["districts.geojson", "streets.fgb"])  # doctest: +SKIP
    """
    frames, repairs = [], []
    for path in progress if progress is not None else paths:
        path = Path(path)
        if layer is None and level is None and _is_hierarchy_gpkg(path):
            units, notes = read_hierarchy(path, **options)
        else:
            units, notes = read_units(path, level=level, layer=layer, **options)
        frames.append(units)
        repairs.extend(notes)
    if not frames:
        raise InvalidInput("no boundary files given")
    return concat_units(frames), repairs


def concat_units(frames: Sequence[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Stack units frames (all in EPSG:4326) into one with a fresh index."""
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=STORAGE_CRS)


def _read_frame(path: Path, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    if layer is not None and layer not in _layer_names(path):
        raise InvalidInput(
            f"{path.name}: no layer '{layer}' (has: {', '.join(_layer_names(path))})"
        )
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    try:
        if encoding is None and _shapefile_without_cpg(path):
            try:
                return gpd.read_file(path, layer=layer, engine="pyogrio", encoding="UTF-8")
            except UnicodeDecodeError:
                encoding = "GB18030"  # superset of GBK, the usual encoding of Chinese .dbf
        return gpd.read_file(path, layer=layer, engine="pyogrio", encoding=encoding)
    except LookupError as error:
        raise InvalidInput(f"unknown encoding '{encoding}'") from error
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"{path.name}: text is not {encoding} ({error.reason}); pass the right --encoding"
        ) from error
    except (DataSourceError, DataLayerError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInput(f"{path.name}: cannot read boundary file ({message})") from error


def _shapefile_without_cpg(path: Path) -> bool:
    """A .shp whose text encoding is not declared (no .cpg next to it)."""
    if path.suffix.lower() != ".shp":
        return False
    return not any(path.with_suffix(suffix).exists() for suffix in (".cpg", ".CPG"))


def _layer_names(path: Path) -> list[str]:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    try:
        return [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except DataSourceError as error:
        message = str(error).splitlines()[0]
        raise InvalidInput(f"{path.name}: cannot read boundary file ({message})") from error


def _is_hierarchy_gpkg(path: Path) -> bool:
    if path.suffix.lower() != ".gpkg":
        return False
    return bool(set(_layer_names(path)) & set(LAYER_OF.values()))


def _rename_core_columns(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Match schema columns case-insensitively, and Shapefile's 10-character cuts of them
    (CODE, Name, parent_cod, CODE_VERSI ...)."""
    present = set(frame.columns)
    renames: dict[str, str] = {}
    for column in frame.columns:
        lower = str(column).lower()
        for wanted in CORE_COLUMNS:
            matches = lower == wanted or (len(lower) == 10 and wanted.startswith(lower))
            if matches and wanted not in present and wanted not in renames.values():
                renames[column] = wanted
                break
    return frame.rename(columns=renames)


def digit_strings(values: pd.Series, source: str, column: str) -> StrArray:
    """Codes as exact strings: ints and integral floats back to digits, NULL to ''.

    >>> digit_strings(pd.Series([990102001.0, None, "010203"]), "a.gpkg", "code").tolist()
    ['990102001', '', '010203']
    """
    out = np.empty(len(values), dtype=object)
    for index, value in enumerate(values.tolist()):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out[index] = ""
        elif isinstance(value, bool):
            raise InvalidInput(f"{source}: feature {index + 1}: {column} {value!r} is not a code")
        elif isinstance(value, int | np.integer):
            out[index] = str(int(value))
        elif isinstance(value, float | np.floating):
            if not float(value).is_integer() or abs(float(value)) >= 2**53:
                raise InvalidInput(
                    f"{source}: feature {index + 1}: {column} {value!r} is not an exact code; "
                    "store codes as text"
                )
            out[index] = str(int(value))
        else:
            out[index] = str(value).strip()
    return out


def _require_codes(codes: StrArray, source: str) -> None:
    empty = np.flatnonzero(codes == "")
    if len(empty):
        raise InvalidInput(f"{source}: feature {empty[0] + 1}: empty code")


def _text(frame: pd.DataFrame, column: str, default: str = "") -> StrArray:
    if column not in frame.columns:
        return np.full(len(frame), default, dtype=object)
    values = frame[column].astype(object).where(frame[column].notna(), default)
    return np.array([str(v).strip() for v in values], dtype=object)


def _levels(frame: pd.DataFrame, codes: StrArray, level: str | None, source: str) -> StrArray:
    if level is not None:
        return np.full(len(codes), canonical_level(level), dtype=object)
    given = _text(frame, "level") if "level" in frame.columns else np.full(len(codes), "")
    levels = np.empty(len(codes), dtype=object)
    for index, (code, value) in enumerate(zip(codes, given, strict=True)):
        if value:
            try:
                levels[index] = canonical_level(value)
            except InvalidInput as error:
                raise InvalidInput(f"{source}: feature {index + 1}: {error}") from None
        elif is_city_code(code):
            levels[index] = "city"
        elif len(code) in LEVEL_OF_CODE_LENGTH:
            levels[index] = LEVEL_OF_CODE_LENGTH[len(code)]
        elif len(code) > 12:
            levels[index] = "grid"
        else:
            raise InvalidInput(
                f"{source}: feature {index + 1}: cannot infer the level of code '{code}' "
                f"({len(code)} digits); pass the level (--level)"
            )
    return levels


def _parent_codes(frame: pd.DataFrame, codes: StrArray, levels: StrArray, source: str) -> StrArray:
    """The given parent codes, else the code prefix of the parent level ('' for cities and
    districts; the city of a district is derived when a generation is staged)."""
    if "parent_code" in frame.columns:
        given = digit_strings(frame["parent_code"], source, "parent_code")
    else:
        given = np.full(len(codes), "", dtype=object)
    out = given.copy()
    for index, (code, level) in enumerate(zip(codes, levels, strict=True)):
        if level == "city":
            out[index] = ""
        elif not out[index] and level in PARENT_PREFIX and len(code) > PARENT_PREFIX[level]:
            out[index] = code[: PARENT_PREFIX[level]]
    return out


def _attributes(frame: gpd.GeoDataFrame) -> StrArray:
    """Every non-schema column as one JSON object per row (merged into ``attributes``)."""
    extra = [c for c in frame.columns if c not in CORE_COLUMNS and c != frame.geometry.name]
    records = frame[extra].astype(object).to_dict("records") if extra else [{}] * len(frame)
    given = frame["attributes"].tolist() if "attributes" in frame.columns else [None] * len(frame)
    out = np.empty(len(frame), dtype=object)
    for index, (record, base) in enumerate(zip(records, given, strict=True)):
        merged = _parse_json_object(base)
        merged.update({str(k): _json_value(v) for k, v in record.items() if not _is_null(v)})
        out[index] = json.dumps(merged, ensure_ascii=False, default=str)
    return out


def _parse_json_object(value: object) -> dict[str, Any]:
    if _is_null(value) or value == "":
        return {}
    if isinstance(value, dict):
        return dict(value)
    try:
        parsed = json.loads(str(value))
    except json.JSONDecodeError:
        return {"attributes": str(value)}
    return parsed if isinstance(parsed, dict) else {"attributes": parsed}


def _is_null(value: object) -> bool:
    if value is None or isinstance(value, list | dict | np.ndarray):
        return value is None
    return bool(pd.isna(value))  # type: ignore[call-overload]  # stubs: no object overload


def _json_value(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _to_storage_crs(
    units: gpd.GeoDataFrame, crs: str | None, source: str, swap_axes: bool, force: bool
) -> gpd.GeoDataFrame:
    if crs is not None:
        try:
            given = CRS.from_user_input(crs)
        except CRSError as error:
            raise InvalidInput(f"unknown CRS '{crs}'") from error
        units = units.set_crs(given, allow_override=True)
    source_crs = units.crs
    if source_crs is None:
        raise InvalidInput(f"{source}: the file has no CRS; pass one (--crs EPSG:4543)")
    if swap_axes:
        swapped = shapely.transform(units.geometry.to_numpy(), lambda xy: xy[:, ::-1])
        units = units.set_geometry(gpd.GeoSeries(swapped, crs=source_crs))
    with np.errstate(all="ignore"):
        lonlat = units.to_crs(STORAGE_CRS)
    minx, miny, maxx, maxy = lonlat.total_bounds
    finite = np.isfinite([minx, miny, maxx, maxy]).all()
    in_range = finite and minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90
    inside = in_range and in_china(np.array([minx, maxx]), np.array([miny, maxy])).all()
    if not inside and not (in_range and force):
        hint = axis_swap_hint(shapely.get_coordinates(units.geometry.to_numpy()), source_crs)
        if hint is not None:
            raise InvalidInput(f"{source}: {hint}")
    if not in_range:
        raise InvalidInput(
            f"{source}: coordinates do not fit CRS {source_crs.to_string()} "
            "(out of lon/lat range after transforming); pass the right one (--crs)"
        )
    return lonlat
