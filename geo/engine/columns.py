"""Arrow columns of located answers, built from numpy buffers.

pyarrow imports pandas the first time it converts numpy or Python values
(``pa.array``, ``to_numpy``): about half a second at the start of a file
command that never needs pandas. These helpers go through Arrow buffers
instead, and encode code columns as ``take`` from a small dictionary (one
string per unit, indexed by the locator's leaf index), so no per-point Python
object is made. They call Arrow's kernels through ``pyarrow._compute.call_function`` (what
``pyarrow.compute`` wraps), as importing ``pyarrow.compute`` builds a Python wrapper for
every kernel: ~25 ms of CPU at the start of a file command.

>>> column = take_strings(strings(["a", None, "c"]), np.array([2, -1, 0, 1]))
>>> column.to_pylist()
['c', None, 'a', None]
>>> floats(float_column(np.array([1.5, np.nan]))).tolist()
[1.5, nan]
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from pyarrow._compute import CastOptions, call_function

from cityaware.geo.arrays import BoolArray, FloatArray, Int8Array, IntArray

if TYPE_CHECKING:
    from cityaware.geo.engine.locator import GridLocator

_DICTIONARIES: weakref.WeakKeyDictionary[GridLocator, list[pa.Array[Any]]] = (
    weakref.WeakKeyDictionary()
)


def chain_dictionaries(locator: GridLocator) -> list[pa.Array[Any]]:
    """Per chain column (:meth:`GridLocator.chain_table`), the strings of every leaf
    unit (index = leaf index); made once per locator."""
    if locator not in _DICTIONARIES:
        chains = locator.chain_table()[:-1]
        _DICTIONARIES[locator] = [strings(chains[:, k].tolist()) for k in range(chains.shape[1])]
    return _DICTIONARIES[locator]


def compact_dictionary_columns(
    dictionaries: Sequence[pa.Array[Any]], index: IntArray
) -> list[pa.Array[Any]]:
    """Dictionary-encoded ``dictionaries[k][index]`` (null where index < 0), each holding
    only the entries ``index`` uses (small answers stay small).

    >>> [c.to_pylist() for c in compact_dictionary_columns([strings(["a", "b", "c"])],
    ...                                                    np.array([2, -1, 2]))]
    [['c', None, 'c']]
    """
    present = np.bincount(index + 1, minlength=len(dictionaries[0]) + 1)[1:] > 0
    used = np.flatnonzero(present)
    compact = (np.cumsum(present) - 1)[index]  # index -1 reads the last entry: masked next
    compact[index < 0] = -1
    indices = _py_buffer(np.ascontiguousarray(used))
    taken = pa.Array.from_buffers(pa.int64(), len(used), [None, indices])
    return [dictionary_column(compact, call_function("take", [d, taken])) for d in dictionaries]


def strings(values: Sequence[str | None]) -> pa.Array[Any]:
    """A string array (None -> null) from a short Python sequence.

    >>> strings(["ab", None, "中"]).to_pylist()
    ['ab', None, '中']
    """
    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(values) + 1, dtype=np.int32)  # a short sequence: < 2 GB
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    valid = np.array([v is not None for v in values], dtype=bool)
    buffers = [_validity(valid), _py_buffer(offsets), _py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def take_strings(dictionary: pa.Array[Any], index: IntArray) -> pa.Array[Any]:
    """``dictionary[index]`` per row, null where ``index`` is negative."""
    indices = pa.Array.from_buffers(
        pa.int64(), len(index), [_validity(index >= 0), _py_buffer(np.ascontiguousarray(index))]
    )
    taken: pa.Array[Any] = call_function("take", [dictionary, indices])
    return taken


def dictionary_column(index: IntArray | Int8Array, dictionary: pa.Array[Any]) -> pa.Array[Any]:
    """A dictionary-encoded column: ``dictionary[index]``, null where ``index`` < 0.

    >>> dictionary_column(np.array([1, -1]), strings(["a", "b"])).to_pylist()
    ['b', None]
    """
    indices = pa.Array.from_buffers(
        pa.int32(),
        len(index),
        [_validity(index >= 0), _py_buffer(np.ascontiguousarray(index, dtype=np.int32))],
    )
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def float_column(values: FloatArray) -> pa.Array[Any]:
    """A float64 array, null where ``values`` is NaN."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    valid = ~np.isnan(values)
    return pa.Array.from_buffers(pa.float64(), len(values), [_validity(valid), _py_buffer(values)])


def floats(column: pa.Array[Any] | pa.ChunkedArray[Any]) -> FloatArray:
    """A float64 column as numpy (NaN for nulls), copied out of its buffers."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [_chunk_floats(chunk) for chunk in chunks]
    return np.concatenate(parts) if parts else np.empty(0)


def _chunk_floats(chunk: pa.Array[Any]) -> FloatArray:
    if chunk.type != pa.float64():
        chunk = call_function("cast", [chunk], CastOptions.safe(pa.float64()))
    n, start = len(chunk), chunk.offset
    validity, data = chunk.buffers()
    view = buffer_view(data)
    values: FloatArray = np.frombuffer(view, dtype=np.float64, count=n, offset=start * 8).copy()
    if validity is not None and chunk.null_count:
        bytes_ = np.frombuffer(buffer_view(validity), dtype=np.uint8)
        bits = np.unpackbits(bytes_, bitorder="little")
        values[~bits[start : start + n].astype(bool)] = np.nan
    return values


def _py_buffer(values: np.ndarray[Any, Any] | bytes) -> pa.Buffer:
    """An Arrow buffer over the memory of ``values`` (no copy)."""
    return pa.py_buffer(memoryview(values))  # type: ignore[arg-type]  # numpy: buffer protocol


def buffer_view(buffer: pa.Buffer | None) -> memoryview:
    """The memory of an Arrow buffer, for ``np.frombuffer``."""
    assert buffer is not None, "the array has this buffer"
    return memoryview(buffer)


def _validity(valid: BoolArray) -> pa.Buffer | None:
    """Arrow's validity bitmap (None when every value is there)."""
    if valid.all():
        return None
    return _py_buffer(np.packbits(valid, bitorder="little"))
