"""Threshold screening over whole batches: which sensors need the exact alarm evaluation.

:func:`geo.live.alarms.evaluate` walks one sensor's readings in Python; a batch of 10,000
readings where almost every value is fine does not need that. :func:`screen` computes, over
arrays, each reading's rate of change and whether it crosses its sensor's bounds. A sensor
whose value alarm is closed and none of whose readings crosses a bound cannot open an
alarm (opening needs a crossing), so only sensors with an open alarm or a crossing go
through :func:`~geo.live.alarms.evaluate`; the rest keep a closed alarm.

>>> import numpy as np
>>> codes = np.array([0, 0, 1, 1])               # two sensors, two readings each, in time order
>>> at = np.array([60_000, 120_000, 60_000, 120_000])
>>> values = np.array([1.0, 2.0, 5.0, 12.0])
>>> bounds = Bounds(low=np.array([np.nan, np.nan]), high=np.array([10.0, 10.0]),
...     rate=np.array([np.nan, 3.0]))
>>> previous = Previous(at=np.array([0, NO_TIME]), value=np.array([0.0, np.nan]))
>>> screen(codes, at, values, bounds, previous).tolist()   # sensor 1: 12 > 10 and +7/min
[False, False, False, True]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cityaware.geo.live.alarms import MINUTE_MS

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
NO_TIME = int(np.iinfo(np.int64).min)


@dataclass(frozen=True)
class Bounds:
    """Per sensor (by code): lower and upper value bound and largest change per minute;
    NaN switches a bound off."""

    low: Floats
    high: Floats
    rate: Floats


@dataclass(frozen=True)
class Previous:
    """Per sensor (by code): time (epoch ms, :data:`NO_TIME` when none) and value (NaN when
    none) of its last stored reading."""

    at: Ints
    value: Floats


def group_starts(codes: Ints) -> Bools:
    """True at the first reading of each sensor in readings sorted by sensor code.

    >>> group_starts(np.array([0, 0, 3, 5, 5])).tolist()
    [True, False, True, True, False]
    """
    starts = np.ones(len(codes), dtype=bool)
    starts[1:] = codes[1:] != codes[:-1]
    return starts


def group_ends(codes: Ints) -> Bools:
    """True at the last reading of each sensor in readings sorted by sensor code.

    >>> group_ends(np.array([0, 0, 3, 5, 5])).tolist()
    [False, True, True, False, True]
    """
    ends = np.ones(len(codes), dtype=bool)
    ends[:-1] = codes[:-1] != codes[1:]
    return ends


def rates(codes: Ints, at: Ints, values: Floats, previous: Previous) -> Floats:
    """Change per minute of each reading since the one before it (the sensor's stored last
    reading for its first), NaN where there is none or it is not older; readings sorted by
    (sensor code, time), as :func:`geo.live.alarms.rate_per_minute` does one at a time.

    >>> rates(np.array([0, 0]), np.array([60_000, 180_000]), np.array([2.0, 8.0]),
    ...     Previous(at=np.array([0]), value=np.array([1.0]))).tolist()
    [1.0, 3.0]
    """
    starts = group_starts(codes)
    before_at = np.empty_like(at)
    before_value = np.empty_like(values)
    before_at[1:], before_value[1:] = at[:-1], values[:-1]
    before_at[starts] = previous.at[codes[starts]]
    before_value[starts] = previous.value[codes[starts]]
    usable = (before_at != NO_TIME) & ~np.isnan(before_value) & (at > before_at)
    out = np.full(len(values), np.nan)
    minutes = (at[usable] - before_at[usable]) / MINUTE_MS
    out[usable] = (values[usable] - before_value[usable]) / minutes
    return out


def screen(codes: Ints, at: Ints, values: Floats, bounds: Bounds, previous: Previous) -> Bools:
    """Per reading: True where it crosses its sensor's bounds (see the module doc); the
    readings are sorted by (sensor code, time) and all newer than the sensor's last."""
    rate = rates(codes, at, values, previous)
    with np.errstate(invalid="ignore"):
        return (  # a comparison with NaN is False: a bound that is off never crosses
            (values < bounds.low[codes])
            | (values > bounds.high[codes])
            | (np.abs(rate) > bounds.rate[codes])
        )
