"""Recurring-category hotspots: grids where one category of case keeps coming back.

For every (grid, category) the count ``W`` in the window is compared with
what the grid's own baseline predicts: ``mu = max(B, 0.5) / baseline_days *
window_days`` where ``B`` is the count in the baseline period just before the
window (0.5 stands in for a zero baseline). Under "nothing changed" ``W`` is
Poisson(``mu``); the p-value is ``P(X >= W)``. The many (grid, category)
pairs tested are corrected with Benjamini-Hochberg (q-values). A hotspot has
``q <= alpha``, at least ``min_count`` cases, on at least ``min_days``
distinct days (recurring, not one burst). See docs/hotspots.md. The counts
come from the store (:meth:`~geo.store.reads.StoreReads.aggregate`); the
statistics are computed here.

>>> round(poisson_sf(2, 1.0), 6)  # 1 - e^-1 (1 + 1)
0.264241
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from cityaware.geo.errors import InvalidInput
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.reads import StoreReads

DAY_MS = 86_400_000
ZERO_BASELINE = 0.5


def poisson_sf(count: int, mu: float) -> float:
    """``P(X >= count)`` for ``X ~ Poisson(mu)``, accurate in the far upper tail.

    >>> poisson_sf(0, 3.0), poisson_sf(1, 0.0)
    (1.0, 0.0)
    """
    return float(poisson_sf_many(np.array([count]), np.array([float(mu)]))[0])


def poisson_sf_many(counts: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """:func:`poisson_sf` of aligned arrays at once (the regularised upper incomplete gamma
    function, ``scipy.special.pdtrc``, which keeps its relative accuracy for tiny p).

    >>> poisson_sf_many(np.array([0, 1, 2]), np.array([1.0, 0.0, 1.0])).round(6).tolist()
    [1.0, 0.0, 0.264241]
    """
    counts = np.asarray(counts, dtype=float)
    mu = np.asarray(mu, dtype=float)
    tail = special.pdtrc(np.maximum(counts - 1, 0), np.maximum(mu, 0))
    return np.where(counts <= 0, 1.0, np.where(mu <= 0, 0.0, np.minimum(tail, 1.0)))


def bh_qvalues(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    >>> bh_qvalues(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    n = len(p_values)
    if n == 0:
        return p_values
    order = np.argsort(p_values)
    ranked = p_values[order] * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(ranked, 1.0)
    return out


@dataclass(frozen=True)
class HotspotQuery:
    """The window, its baseline and the thresholds.

    >>> query = HotspotQuery(end_ms=29 * DAY_MS, window_days=7, baseline_days=28)
    >>> query.window_start_ms // DAY_MS, query.baseline_start_ms // DAY_MS
    (22, -6)
    """

    end_ms: int
    window_days: int = 7
    baseline_days: int = 28
    category: str | None = None
    region: str | None = None
    min_count: int = 3
    min_days: int = 2
    alpha: float = 0.05

    def check(self) -> None:
        """Raise :class:`InvalidInput` for lengths or ``alpha`` out of range."""
        if not 1 <= self.window_days <= 90:
            raise InvalidInput(f"window_days must be 1..90, got {self.window_days}")
        if not 7 <= self.baseline_days <= 365:
            raise InvalidInput(f"baseline_days must be 7..365, got {self.baseline_days}")
        if not 0 < self.alpha <= 1:
            raise InvalidInput(f"alpha must be in (0, 1], got {self.alpha}")

    @property
    def window_start_ms(self) -> int:
        """Start of the window (epoch ms, inclusive)."""
        return self.end_ms - self.window_days * DAY_MS

    @property
    def baseline_start_ms(self) -> int:
        """Start of the baseline just before the window (epoch ms, inclusive)."""
        return self.window_start_ms - self.baseline_days * DAY_MS


def _counts(
    store: StoreReads, query: HotspotQuery, start: int, end: int, by: list[str]
) -> pd.DataFrame:
    filters = FeatureFilter(
        region=query.region, category=query.category, since=start, until=end - 1
    )
    return store.aggregate_frame("incidents", by, filters)


def find_hotspots(store: StoreReads, query: HotspotQuery) -> tuple[pd.DataFrame, int]:
    """Hotspot rows (most significant first) and the number of (grid, category) pairs tested.

    >>> hot, tested = find_hotspots(store, HotspotQuery(end_ms=now_ms()))  # doctest: +SKIP
    >>> hot[["grid", "category", "window_count", "q_value"]].head(1)  # doctest: +SKIP
    """
    query.check()
    keys = ["grid", "category"]
    window = _counts(store, query, query.window_start_ms, query.end_ms, keys)
    window = window.dropna(subset=keys)
    if window.empty:
        return pd.DataFrame(columns=[*keys, "window_count"]), 0
    baseline = _counts(store, query, query.baseline_start_ms, query.window_start_ms, keys)
    days = _counts(store, query, query.window_start_ms, query.end_ms, [*keys, "day"])
    day_counts = days.groupby(keys).size().rename("days_with_cases").reset_index()
    table = (
        window.rename(columns={"count": "window_count"})
        .merge(baseline.rename(columns={"count": "baseline_count"}), on=keys, how="left")
        .merge(day_counts, on=keys, how="left")
    )
    table["baseline_count"] = table["baseline_count"].fillna(0).astype(int)
    table["baseline_daily_mean"] = table["baseline_count"] / query.baseline_days
    table["expected"] = (
        np.maximum(table["baseline_count"], ZERO_BASELINE) / query.baseline_days * query.window_days
    )
    table["ratio"] = table["window_count"] / table["expected"]
    table["p_value"] = poisson_sf_many(
        table["window_count"].to_numpy(), table["expected"].to_numpy()
    )
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy())
    hot = table[
        (table["q_value"] <= query.alpha)
        & (table["window_count"] >= query.min_count)
        & (table["days_with_cases"] >= query.min_days)
    ]
    hot = hot.sort_values(["p_value", "ratio"], ascending=[True, False], kind="stable")
    return hot.reset_index(drop=True), len(table)
