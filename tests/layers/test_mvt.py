"""The columnar point encoder (layers.mvt) against mapbox_vector_tile: a tile of random
points and properties decodes to exactly what encoding the same points feature by
feature (shapely points, per-row property dicts) decodes to."""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pandas as pd
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from cityaware.layers.mvt import EXTENT, PointColumns, encode_layers, varints, zigzag

OPTIONS = {"y_coord_down": True, "extents": EXTENT}
# pixel coordinates: inside the tile, on its edges, in the 64 px buffer and far beyond
coordinate = st.one_of(
    st.integers(-64, EXTENT + 64),
    st.sampled_from([0, EXTENT - 1, EXTENT, -1, -64, EXTENT + 64]),
    st.integers(-(2**20), 2**20),
)
text = st.text(max_size=12)
scalars = {
    "text": st.one_of(st.none(), text),
    "int": st.integers(-(2**62), 2**62),
    "float": st.one_of(
        st.just(math.nan),
        st.floats(allow_nan=False, width=64).filter(lambda v: v != 0 or math.copysign(1, v) > 0),
    ),
    "bool": st.booleans(),
    "mixed": st.one_of(st.none(), text, st.integers(-1000, 1000), st.booleans(),
                       st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: v != 0)),
}  # fmt: skip
DTYPES = {"text": object, "int": np.int64, "float": np.float64, "bool": bool, "mixed": object}


@st.composite
def layers(draw):
    n = draw(st.integers(0, 60))
    kinds = draw(st.lists(st.sampled_from(sorted(scalars)), max_size=5))
    x = draw(st.lists(coordinate, min_size=n, max_size=n))
    y = draw(st.lists(coordinate, min_size=n, max_size=n))
    columns = {}
    for i, kind in enumerate(kinds):
        cells = draw(st.lists(scalars[kind], min_size=n, max_size=n))
        column = np.empty(n, dtype=object) if DTYPES[kind] is object else None
        if column is None:
            column = np.array(cells, dtype=DTYPES[kind])
        else:
            column[:] = cells
        columns[f"{kind}{i}"] = column
    return np.array(x, dtype=np.int64), np.array(y, dtype=np.int64), columns


def reference(name: str, x, y, columns) -> bytes:
    """The per-row encoder: a shapely point and a dict of the present values per feature."""
    features = []
    for i in range(len(x)):
        props = {}
        for key, column in columns.items():
            value = column[i]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            props[key] = value.item() if isinstance(value, np.generic) else value
        features.append({"geometry": shapely.Point(int(x[i]), int(y[i])), "properties": props})
    if not features:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": name, "features": features}], default_options=OPTIONS
    )


def decoded(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True}) if body else {}


@settings(max_examples=150, deadline=None)
@given(layers())
def test_a_tile_decodes_as_the_per_row_encoder_s(layer):
    x, y, columns = layer
    ours = encode_layers({"points": PointColumns(x, y, columns)})
    assert decoded(ours) == decoded(reference("points", x, y, columns))
    assert (ours == b"") == (len(x) == 0)


@settings(max_examples=50, deadline=None)
@given(layers(), layers())
def test_several_layers_in_one_tile(first, second):
    ours = encode_layers({"a": PointColumns(*first), "b": PointColumns(*second)})
    want = {**decoded(reference("a", *first)), **decoded(reference("b", *second))}
    assert decoded(ours) == want


def test_objects_that_are_not_plain_values_go_as_text_and_missing_ones_are_left_out():
    stamps = np.empty(3, dtype=object)
    stamps[:] = [pd.Timestamp(0, tz="UTC"), pd.NA, np.int64(7)]
    body = encode_layers({"p": PointColumns(np.array([1, 2, 3]), np.array([4, 5, 6]),
                                            {"at": stamps})})  # fmt: skip
    props = [f["properties"] for f in decoded(body)["p"]["features"]]
    assert props == [{"at": str(pd.Timestamp(0, tz="UTC"))}, {}, {"at": 7}]


@given(st.lists(st.integers(-(2**62), 2**62), max_size=50))
def test_varints_and_zigzag_as_protobuf_writes_them(values):
    from google.protobuf.internal.encoder import _VarintBytes

    encoded = varints(zigzag(np.array(values, dtype=np.int64)))
    assert encoded == b"".join(_VarintBytes((v << 1) ^ (v >> 63)) for v in values)


@settings(max_examples=10, deadline=None)
@given(st.lists(text, min_size=300, max_size=700), st.integers(0, 2**32 - 1))
def test_many_values_take_the_vectorized_tables_and_decode_the_same(texts, seed):
    rng = np.random.default_rng(seed)
    n = len(texts)
    column = np.empty(n, dtype=object)
    column[:] = texts
    columns = {"name": column, "n": rng.integers(-(2**40), 2**40, n),
               "v": rng.normal(size=n) * 1e6}  # fmt: skip
    x, y = rng.integers(-64, EXTENT + 64, n), rng.integers(-64, EXTENT + 64, n)
    ours = encode_layers({"points": PointColumns(x, y, columns)})
    assert decoded(ours) == decoded(reference("points", x, y, columns))
