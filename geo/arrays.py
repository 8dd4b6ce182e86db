"""Names for the numpy array types the spatial core passes around.

>>> import numpy as np
>>> lon: FloatArray = np.asarray([114.35], dtype=np.float64)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]
# Unit codes and other labels: numpy unicode arrays or object arrays of str.
StrArray = npt.NDArray[np.str_ | np.object_]
Int8Array = npt.NDArray[np.int8]
Int32Array = npt.NDArray[np.int32]
UInt64Array = npt.NDArray[np.uint64]
# Signed integers of whatever width a compact raster uses (int16 or int32 cells).
SignedArray = npt.NDArray[np.signedinteger[Any]]
