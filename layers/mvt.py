"""A columnar Mapbox Vector Tile encoder for point layers, vectorized with numpy.

Why it is written here: no well-kept compiled MVT encoder installs from PyPI for this
use (``mapbox_vector_tile`` builds a protobuf message per feature and per attribute in
Python, and wants shapely objects and dicts; protobuf's own repeated fields would still
need a Python call per feature; DuckDB's spatial extension would need geometries built
row by row and its version pinned to DuckDB's). A point layer's wire format is simple
enough to build for all features at once: every feature is the same few varints
(``tags``, ``type`` = POINT, ``geometry`` = MoveTo(1) and the zigzagged pixel
coordinates), so the whole layer is one array of integers varint-encoded in one pass.
Keys are the column names; values are deduplicated per column (:func:`pandas.factorize`:
strings, integers, doubles, booleans; missing values are left out of a feature's
tags, as the per-row encoder left them out of its properties).

:func:`mapbox_vector_tile.decode` of a tile from :func:`encode_layers` equals the decode
of the same points and properties encoded feature by feature with
``mapbox_vector_tile.encode`` (tests/layers/test_mvt.py checks it with hypothesis).

>>> body = encode_layers({"pts": PointColumns(np.array([1, -3]), np.array([2, 4096]),
...                       {"id": np.array(["a", None], dtype=object)})})
>>> import mapbox_vector_tile
>>> [(f["geometry"]["coordinates"], f["properties"])
...  for f in mapbox_vector_tile.decode(body, default_options={"y_coord_down": True}
...  )["pts"]["features"]]
[([1, 2], {'id': 'a'}), ([-3, 4096], {})]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

EXTENT = 4096
_U64 = np.uint64
# wire bytes: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited)
_TILE_LAYER, _LAYER_NAME, _LAYER_FEATURE, _LAYER_KEY, _LAYER_VALUE = 0x1A, 0x0A, 0x12, 0x1A, 0x22
_LAYER_EXTENT, _LAYER_VERSION = 0x28, 0x78
_FEATURE_TAGS, _FEATURE_TYPE, _FEATURE_GEOMETRY, POINT, MOVE_TO_ONE = 0x12, 0x18, 0x22, 1, 9
_STRING, _DOUBLE, _INT, _SINT, _BOOL = 0x0A, 0x19, 0x20, 0x30, 0x38


@dataclass
class PointColumns:
    """Points of one layer in tile pixels (integers, y down) with attribute columns
    aligned with them (any numpy dtype; None/NaN is missing)."""

    x: np.ndarray
    y: np.ndarray
    columns: Mapping[str, Column] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)

    def geometry(self) -> Geometry:
        return Geometry.points(self.x, self.y)

    def encode(self, name: str, extent: int = EXTENT) -> bytes:
        return encode_layer(name, self, extent)


@dataclass
class Geometry:
    """The command streams of a layer's features: one flat array of geometry integers
    (commands and zigzagged deltas), how many belong to each feature, the MVT type and,
    when some features were left without geometry, a mask of those ``kept``."""

    tokens: np.ndarray
    lengths: np.ndarray
    type: int
    kept: np.ndarray | None = None  # the features left (a mask), when some had nothing

    @classmethod
    def points(cls, x: np.ndarray, y: np.ndarray) -> Geometry:
        """MoveTo(1) and the coordinates of each point (the cursor starts at 0, 0)."""
        zx, zy = zigzag(np.asarray(x)), zigzag(np.asarray(y))
        tokens = np.column_stack([np.full(len(zx), MOVE_TO_ONE, dtype=_U64), zx, zy]).ravel()
        return cls(tokens, np.full(len(zx), 3, dtype=np.int64), POINT)


class Layer(Protocol):
    """What a tile layer hands the encoder: its features' geometry and attribute columns
    aligned with them (any numpy dtype; None/NaN is missing)."""

    columns: Mapping[str, Column]

    def __len__(self) -> int: ...
    def geometry(self) -> Geometry: ...
    def encode(self, name: str, extent: int) -> bytes: ...


def encode_layers(layers: Mapping[str, Layer], extent: int = EXTENT) -> bytes:
    """One MVT of ``{name: layer}`` (empty layers are left out; b"" when all are empty).

    >>> encode_layers({"empty": PointColumns(np.array([]), np.array([]))})
    b''
    """
    return b"".join(layer.encode(name, extent) for name, layer in layers.items() if len(layer))


def encode_layer(name: str, layer: Layer, extent: int = EXTENT) -> bytes:
    """One layer as a tile of its own (tiles are concatenated layers)."""
    return _field(_TILE_LAYER, _layer(name, layer, extent))


def varints(values: np.ndarray) -> bytes:
    """The varint encoding of every (unsigned, < 2**64) integer of ``values``, concatenated.

    >>> varints(np.array([1, 300, 0])).hex()
    '01ac0200'
    """
    v = np.asarray(values).astype(_U64, copy=False)
    if not len(v):
        return b""
    widest = int(_varint_sizes(v.max(keepdims=True))[0])
    if widest == 1:
        return v.astype(np.uint8).tobytes()
    shifts = np.arange(widest, dtype=_U64) * _U64(7)
    groups = v[:, None] >> shifts  # (values, bytes): what is left from each byte on
    more = groups >= _U64(0x80)
    used = np.empty_like(more)
    used[:, 0] = True
    used[:, 1:] = more[:, :-1]
    groups = (groups & _U64(0x7F)) | (more.astype(_U64) << _U64(7))
    return groups.astype(np.uint8)[used].tobytes()


def zigzag(values: np.ndarray) -> np.ndarray:
    """ZigZag-encode signed integers (0, -1, 1, -2 -> 0, 1, 2, 3).

    >>> zigzag(np.array([0, -1, 1, -2])).tolist()
    [0, 1, 2, 3]
    """
    v = np.asarray(values).astype(np.int64)
    return ((v << 1) ^ (v >> 63)).astype(_U64)


_SIZE_STEPS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=_U64)


def _varint_sizes(v: np.ndarray) -> np.ndarray:
    """Bytes of each value's varint (1 to 10)."""
    return np.searchsorted(_SIZE_STEPS, v, side="right") + 1


def _layer(name: str, layer: Layer, extent: int) -> bytes:
    geometry = layer.geometry()
    keys: list[str] = []
    tables: list[bytes] = []
    tags: list[np.ndarray] = []
    present: list[np.ndarray] = []
    offset = 0
    for column, raw in layer.columns.items():
        values = raw if geometry.kept is None else take(raw, geometry.kept)
        if isinstance(values, Encoded):
            found = values.table(offset)
        else:
            found = _column_values(np.asarray(values), offset)
        if found is None:
            continue
        table, count, index, mask = found
        tags += [np.full(len(index), len(keys), dtype=_U64), index]
        present += [mask, mask]
        keys.append(column)
        tables.append(table)
        offset += count
    head = bytes([_LAYER_VERSION, 2]) + _field(_LAYER_NAME, name.encode())
    key_table = b"".join(_field(_LAYER_KEY, k.encode()) for k in keys)
    end = bytes([_LAYER_EXTENT]) + _varint(extent)
    return head + _features(geometry, tags, present) + key_table + b"".join(tables) + end


def _features(geometry: Geometry, tags: list[np.ndarray], present: list[np.ndarray]) -> bytes:
    """Every feature message (with its field header and length) of the layer, at once:
    one array of integers laid out feature by feature, varint-encoded in one pass."""
    count = len(geometry.lengths)
    feature_of = np.repeat(np.arange(count), geometry.lengths)
    sizes = _varint_sizes(geometry.tokens)
    geometry_len = np.bincount(feature_of, weights=sizes, minlength=count).astype(np.int64)
    if tags:
        tag, shown = np.column_stack(tags), np.column_stack(present)
        tag_count = shown.sum(axis=1)
        tag_tokens = tag[shown]
        tag_len = np.where(shown, _varint_sizes(tag.ravel()).reshape(tag.shape), 0).sum(axis=1)
    else:
        tag_count = tag_len = np.zeros(count, dtype=np.int64)
        tag_tokens = np.zeros(0, dtype=_U64)
    has_tags = tag_count > 0
    tag_part = np.where(has_tags, 1 + _varint_sizes(tag_len.astype(_U64)) + tag_len, 0)
    body_len = tag_part + 3 + _varint_sizes(geometry_len.astype(_U64)) + geometry_len
    width = 2 + 2 * has_tags + tag_count + 4 + geometry.lengths
    start = np.cumsum(width) - width
    out = np.empty(int(width.sum()), dtype=_U64)
    out[start], out[start + 1] = _LAYER_FEATURE, body_len
    tagged = start[has_tags]
    out[tagged + 2], out[tagged + 3] = _FEATURE_TAGS, tag_len[has_tags]
    out[runs(start + 2 + 2 * has_tags, tag_count)] = tag_tokens
    kind = start + 2 + 2 * has_tags + tag_count
    out[kind], out[kind + 1] = _FEATURE_TYPE, geometry.type
    out[kind + 2], out[kind + 3] = _FEATURE_GEOMETRY, geometry_len
    out[runs(kind + 4, geometry.lengths)] = geometry.tokens
    return varints(out)


Values = tuple[bytes, int, np.ndarray, np.ndarray]  # table, its length, index, present


@dataclass(frozen=True)
class Encoded:
    """A text column encoded once for every tile it goes into (e.g. a boundary level's
    codes and names): ``codes`` per row (-1: missing) into ``categories``, whose layer
    value entries are ready in ``entries``; a tile only picks the entries it uses.

    >>> column = Encoded.of(np.array(["b", "a", None, "b"], dtype=object))
    >>> column.take(np.array([3, 2])).to_numpy().tolist()
    ['b', None]
    """

    codes: np.ndarray
    categories: np.ndarray
    entries: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> Encoded:
        codes, categories = pd.factorize(np.asarray(values, dtype=object))
        entries = np.empty(len(categories), dtype=object)
        entries[:] = [_field(_LAYER_VALUE, _field(_STRING, str(v).encode())) for v in categories]
        return cls(codes.astype(np.int64), np.asarray(categories, dtype=object), entries)

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, rows: np.ndarray) -> Encoded:
        return Encoded(self.codes[rows], self.categories, self.entries)

    def to_numpy(self) -> np.ndarray:
        """The values themselves (None where missing)."""
        out = np.empty(len(self.codes), dtype=object)
        present = self.codes >= 0
        out[present] = self.categories[self.codes[present]]
        return out

    def table(self, offset: int) -> Values | None:
        """As :func:`_column_values`: the entries used here, each row's index, presence."""
        present = self.codes >= 0
        if not present.any():
            return None
        used, inverse = np.unique(self.codes[present], return_inverse=True)
        index = inverse.reshape(-1).astype(_U64) + _U64(offset)
        table = b"".join(self.entries[used].tolist())
        return table, len(used), _spread(index, present), present


Column = np.ndarray | Encoded


def take(column: Column, rows: np.ndarray) -> Column:
    """The ``rows`` of a column (an array or :class:`Encoded`)."""
    return column.take(rows) if isinstance(column, Encoded) else np.asarray(column)[rows]


def _column_values(raw: np.ndarray, offset: int) -> Values | None:
    """``(value table entries, how many, value index per point, present mask)`` of one
    column (indices counted from ``offset``), or None when no point has a value."""
    kind = raw.dtype.kind
    if kind == "b":
        mask = np.ones(len(raw), dtype=bool)
        values, entries = raw.astype(bool), _bool_entries
    elif kind in "iu":
        mask = np.ones(len(raw), dtype=bool)
        values, entries = raw.astype(np.int64), _int_entries
    elif kind == "f":
        mask = ~np.isnan(raw)
        values, entries = raw[mask].astype(np.float64), _double_entries
    else:
        return _object_values(raw, offset)
    if not mask.any():
        return None
    table, count, index = _tabled(values, entries, offset)
    return table, count, _spread(index, mask), mask


def _object_values(raw: np.ndarray, offset: int) -> Values | None:
    """Values of an object column: strings mostly; numbers, booleans and other objects
    (as text, like timestamps) are kept apart by type as the per-row encoder kept them."""
    if len(raw) < SMALL:
        text = _small_text(raw, offset)
        if text is not NOT_TEXT:
            return text
    mask = ~pd.isna(raw)
    if not mask.any():
        return None
    present = raw[mask]
    if pd.api.types.infer_dtype(present, skipna=False) == "string":
        table, count, index = _tabled(present, _string_entries, offset)
        return table, count, _spread(index, mask), mask
    kinds = np.fromiter(map(_kind_of, present), dtype=np.int8, count=len(present))
    plain = np.empty(len(present), dtype=object)
    plain[:] = [_plain(v) for v in present]
    index = np.empty(len(present), dtype=_U64)
    tables: list[bytes] = []
    total = 0
    makers: dict[int, tuple[Any, Callable[[np.ndarray], bytes]]] = {
        0: (object, _string_entries),
        1: (bool, _bool_entries),
        2: (np.int64, _int_entries),
        3: (np.float64, _double_entries),
    }
    for code, (cast, entries) in makers.items():
        chosen = np.flatnonzero(kinds == code)
        if len(chosen):
            part = np.array(plain[chosen].tolist(), dtype=cast)
            table, count, inverse = _tabled(part, entries, offset + total)
            tables.append(table)
            total += count
            index[chosen] = inverse
    return b"".join(tables), total, _spread(index, mask), mask


NOT_TEXT: Values = (b"", 0, np.zeros(0, dtype=_U64), np.zeros(0, dtype=bool))


def _small_text(raw: np.ndarray, offset: int) -> Values | None:
    """:func:`_object_values` of a short column of text and missing values, in one Python
    pass (a few dozen rows: cheaper than the pandas calls); :data:`NOT_TEXT` when it holds
    anything else."""
    positions: dict[str, int] = {}
    index: list[int] = []
    present: list[bool] = []
    for value in raw.tolist():
        if isinstance(value, str):
            index.append(positions.setdefault(value, len(positions)))
            present.append(True)
        elif pd.isna(value):
            index.append(0)
            present.append(False)
        else:
            return NOT_TEXT
    if not positions:
        return None
    mask = np.array(present, dtype=bool)
    rows = np.array(index, dtype=_U64) + _U64(offset)
    rows[~mask] = 0
    table = _string_entries(np.array(list(positions), dtype=object))
    return table, len(positions), rows, mask


def _tabled(
    values: np.ndarray, entries: Callable[[np.ndarray], bytes], offset: int
) -> tuple[bytes, int, np.ndarray]:
    """One value table (deduplicated by hashing, :func:`pandas.factorize`; numpy's fixed
    width strings would drop trailing NULs): its layer entries, its length and each
    value's index in the layer's values."""
    inverse, unique = pd.factorize(values)
    return entries(np.asarray(unique)), len(unique), inverse.astype(_U64) + _U64(offset)


def _spread(index: np.ndarray, mask: np.ndarray) -> np.ndarray:
    full = np.zeros(len(mask), dtype=_U64)
    full[mask] = index
    return full


def _kind_of(value: object) -> int:
    """0 text (str and anything not a number or bool), 1 bool, 2 int, 3 float."""
    if isinstance(value, (bool, np.bool_)):
        return 1
    if isinstance(value, (int, np.integer)):
        return 2
    if isinstance(value, (float, np.floating)):
        return 3
    return 0


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def _varint(n: int) -> bytes:
    """One varint (for the few lengths outside the feature arrays)."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(header: int, payload: bytes) -> bytes:
    return bytes([header]) + _varint(len(payload)) + payload


def _prefixed(tokens: np.ndarray, payloads: list[bytes]) -> bytes:
    """Row ``i`` of ``tokens`` as varints followed by ``payloads[i]``, for every row."""
    rows = len(payloads)
    head_sizes = _varint_sizes(tokens.ravel()).reshape(tokens.shape).sum(axis=1)
    lens = np.fromiter(map(len, payloads), dtype=np.int64, count=rows)
    sizes = head_sizes + lens
    starts = np.cumsum(sizes) - sizes
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    out[runs(starts, head_sizes)] = np.frombuffer(varints(tokens.ravel()), dtype=np.uint8)
    out[runs(starts + head_sizes, lens)] = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    return out.tobytes()


def runs(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] .. starts[i] + lengths[i] - 1`` of every run, in order.

    >>> runs(np.array([10, 0]), np.array([2, 3])).tolist()
    [10, 11, 0, 1, 2]
    """
    firsts = np.cumsum(lengths) - lengths
    return np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))


SMALL = 256  # fewer values than this: a Python loop beats a dozen numpy calls


def _string_entries(unique: np.ndarray) -> bytes:
    payloads = [text.encode() for text in unique.tolist()]
    if len(payloads) < SMALL:  # one-byte lengths written directly for short texts
        return b"".join(
            bytes((_LAYER_VALUE, len(p) + 2, _STRING, len(p))) + p
            if len(p) < 126
            else _field(_LAYER_VALUE, _field(_STRING, p))
            for p in payloads
        )
    lens = np.fromiter(map(len, payloads), dtype=_U64, count=len(payloads))
    tokens = np.column_stack(
        [
            np.full(len(lens), _LAYER_VALUE, dtype=_U64),
            1 + _varint_sizes(lens).astype(_U64) + lens,
            np.full(len(lens), _STRING, dtype=_U64),
            lens,
        ]
    )
    return _prefixed(tokens, payloads)


def _bool_entries(unique: np.ndarray) -> bytes:
    return b"".join(bytes([_LAYER_VALUE, 2, _BOOL, int(v)]) for v in unique.tolist())


def _int_entries(unique: np.ndarray) -> bytes:
    negative = unique < 0
    value = np.where(negative, zigzag(unique), unique.astype(_U64))
    tokens = np.column_stack(
        [
            np.full(len(unique), _LAYER_VALUE, dtype=_U64),
            1 + _varint_sizes(value).astype(_U64),
            np.where(negative, _U64(_SINT), _U64(_INT)),
            value,
        ]
    )
    return varints(tokens.ravel())


def _double_entries(unique: np.ndarray) -> bytes:
    rows = np.empty((len(unique), 11), dtype=np.uint8)
    rows[:, :3] = (_LAYER_VALUE, 9, _DOUBLE)
    rows[:, 3:] = unique.astype("<f8").view(np.uint8).reshape(len(unique), 8)
    return rows.tobytes()
