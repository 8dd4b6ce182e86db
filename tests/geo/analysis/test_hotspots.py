"""Hotspot statistics checked against closed forms and a hand-worked Benjamini-Hochberg."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cityaware.geo.analysis.hotspots import bh_qvalues, poisson_sf


def test_poisson_tail_against_closed_forms():
    for mu in (0.1, 0.75, 3.0, 12.5):
        assert poisson_sf(1, mu) == pytest.approx(1 - math.exp(-mu), rel=1e-12)
        assert poisson_sf(3, mu) == pytest.approx(
            1 - math.exp(-mu) * (1 + mu + mu**2 / 2), rel=1e-9, abs=1e-15
        )
    tail = sum(math.exp(-0.25) * 0.25**k / math.factorial(k) for k in range(20, 60))
    assert poisson_sf(20, 0.25) == pytest.approx(tail, rel=1e-9)
    assert bh_qvalues(np.array([0.001, 0.2, 0.01, 0.04])).tolist() == pytest.approx(
        [0.004, 0.2, 0.02, 0.05333333]
    )
