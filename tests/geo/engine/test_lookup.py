"""The lookup table's coarse blocks keep every value they are given (the oracle: the
cells themselves), whatever the number of grids or mixed blocks."""

from __future__ import annotations

import numpy as np

from cityaware.geo.engine.lookup import FINE, _coarse


def test_coarse_keeps_grid_indices_past_int16():
    cells = np.zeros((8, 24), dtype=np.int32)
    cells[:, 8:16] = 40_000  # a block of a grid whose index does not fit in int16
    cells[0, 16] = 70_000  # a mixed block
    coarse, fine = _coarse(cells)
    assert coarse[1, 1:4].tolist() == [0, 40_000, FINE]
    assert fine.reshape(-1, 64)[0, :2].tolist() == [70_000, 0]
