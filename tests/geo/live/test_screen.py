"""The array screening agrees with the one-reading-at-a-time rules it stands in for."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cityaware.geo.live.alarms import SensorState, Threshold, evaluate, rate_per_minute
from cityaware.geo.live.screen import NO_TIME, Bounds, Previous, screen

maybe = st.one_of(st.none(), st.floats(-5, 5))
rates = st.one_of(st.none(), st.floats(0.1, 5))
last = st.one_of(st.none(), st.tuples(st.integers(0, 3), st.floats(-10, 10)))
readings = st.lists(
    st.tuples(st.integers(0, 5), st.integers(1, 40), st.floats(-10, 10)), max_size=40
)


@settings(max_examples=200, deadline=None)
@given(
    bounds=st.lists(st.tuples(maybe, maybe, rates), min_size=6, max_size=6),
    previous=st.lists(last, min_size=6, max_size=6),
    rows=readings,
)
def test_screen_flags_exactly_the_readings_that_breach(bounds, previous, rows):
    rows = sorted({(c, m): v for c, m, v in rows}.items())  # (sensor, minute) unique, in order
    codes = np.array([c for (c, _), _ in rows], dtype=np.int64)
    at = np.array([m * 60_000 for (_, m), _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows], dtype=np.float64)
    nan = np.nan
    flagged = screen(
        codes,
        at,
        values,
        Bounds(
            low=np.array([nan if b[0] is None else b[0] for b in bounds]),
            high=np.array([nan if b[1] is None else b[1] for b in bounds]),
            rate=np.array([nan if b[2] is None else b[2] for b in bounds]),
        ),
        Previous(
            at=np.array([NO_TIME if p is None else p[0] * 60_000 for p in previous]),
            value=np.array([nan if p is None else p[1] for p in previous]),
        ),
    )
    # oracle: Threshold.breach with rate_per_minute, one reading at a time
    expected, before = [], {c: (p[0] * 60_000, p[1]) if p else None for c, p in enumerate(previous)}
    for (c, m), v in rows:
        low, high, rate = bounds[c]
        threshold = Threshold(min=low, max=high, rate=rate)
        expected.append(threshold.breach(v, rate_per_minute(before[c], m * 60_000, v)) is not None)
        before[c] = (m * 60_000, v)
    assert flagged.tolist() == expected


@settings(max_examples=200, deadline=None)
@given(
    bound=st.tuples(maybe, maybe, rates),
    band=st.floats(0, 2),
    values=st.lists(st.floats(-10, 10), min_size=1, max_size=20),
)
def test_a_closed_alarm_without_a_flagged_reading_stays_closed(bound, band, values):
    """What lets the store skip evaluate(): no flagged reading -> no alarm event."""
    low, high, rate = bound
    threshold = Threshold(min=low, max=high, rate=rate, band=band)
    at = np.arange(1, len(values) + 1, dtype=np.int64) * 60_000
    flagged = screen(
        np.zeros(len(values), dtype=np.int64),
        at,
        np.array(values),
        Bounds(
            low=np.array([np.nan if low is None else low]),
            high=np.array([np.nan if high is None else high]),
            rate=np.array([np.nan if rate is None else rate]),
        ),
        Previous(at=np.array([NO_TIME]), value=np.array([np.nan])),
    )
    step = evaluate(threshold, SensorState(), list(zip(at.tolist(), values, strict=True)))
    if not flagged.any():
        assert step.events == [] and not step.open
    else:
        assert step.events[0].op == "open"
