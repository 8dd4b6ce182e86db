"""考评: per office, street, district or grid, over a window, how the loop went.

Input: one row per case (``office``, ``street_code``, ``district_code``,
``grid_code``, ``status`` and from its hotline block ``reply_on_time``,
``reply_level``, ``satisfaction``, ``reopened``, ``resolve_due``); every figure
is computed from those columns with pandas:

* ``intake``: cases; ``resolved``: cases whose status is resolved or closed;
* ``resolution_rate`` = resolved / intake; ``on_time_rate`` = resolved on time /
  resolved; ``satisfaction_rate`` = (satisfied + basically) / callbacks;
* ``local_share`` = resolved at street, community or grid level / resolved;
* ``reopen_rate`` = cases re-opened at least once / intake;
* ``overdue``: open cases past their resolve deadline at ``now``.

>>> import pandas as pd
>>> rows = pd.DataFrame({"office": ["a", "a"], "status": ["closed", "in_progress"],
...     "reply_on_time": [True, False], "reply_level": ["street", None],
...     "satisfaction": ["satisfied", None], "reopened": [0, 1], "resolve_due": [5, 5]})
>>> figures = evaluate(rows, "office", now_ms=10)[0]
>>> figures["resolution_rate"], figures["overdue"], figures["satisfaction_rate"]
(0.5, 1, 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

GROUPS: dict[str, str] = {"office": "office", "street": "street_code",
                          "district": "district_code", "grid": "grid_code"}  # fmt: skip
RESOLVED = ("resolved", "closed")
LOCAL = ("grid", "community", "street")
POSITIVE = ("satisfied", "basically")
FIGURES = ("intake", "resolved", "resolution_rate", "on_time_rate", "satisfaction_rate",
           "local_share", "reopen_rate", "overdue")  # fmt: skip


def case_columns(cases: pd.DataFrame, now_ms: int) -> pd.DataFrame:
    """One boolean column per figure's ingredient."""
    resolved = cases["status"].isin(RESOLVED).to_numpy()
    due = pd.to_numeric(cases["resolve_due"], errors="coerce").fillna(np.inf).to_numpy()
    return pd.DataFrame(
        {
            "resolved": resolved,
            "on_time": resolved & cases["reply_on_time"].fillna(False).astype(bool).to_numpy(),
            "local": resolved & cases["reply_level"].isin(LOCAL).to_numpy(),
            "called": cases["satisfaction"].notna().to_numpy(),
            "positive": cases["satisfaction"].isin(POSITIVE).to_numpy(),
            "reopened": (pd.to_numeric(cases["reopened"]).fillna(0) > 0).to_numpy(),
            "overdue": ~resolved & (due < now_ms),
        },
        index=cases.index,
    )


def _rate(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part / whole.where(whole > 0)).round(4)


def evaluate(cases: pd.DataFrame, by: str, now_ms: int) -> list[dict[str, Any]]:
    """The figures per unit of ``by`` (office, street, district, grid), most cases first."""
    key = GROUPS[by]
    flags = case_columns(cases, now_ms)
    flags["key"] = cases[key].fillna("").astype(str).to_numpy()
    sums = flags.groupby("key").agg(
        intake=("resolved", "size"), resolved=("resolved", "sum"), on_time=("on_time", "sum"),
        local=("local", "sum"), called=("called", "sum"), positive=("positive", "sum"),
        reopened=("reopened", "sum"), overdue=("overdue", "sum"),
    )  # fmt: skip
    out = pd.DataFrame(
        {
            "intake": sums["intake"],
            "resolved": sums["resolved"],
            "resolution_rate": _rate(sums["resolved"], sums["intake"]),
            "on_time_rate": _rate(sums["on_time"], sums["resolved"]),
            "satisfaction_rate": _rate(sums["positive"], sums["called"]),
            "local_share": _rate(sums["local"], sums["resolved"]),
            "reopen_rate": _rate(sums["reopened"], sums["intake"]),
            "overdue": sums["overdue"],
        }
    ).sort_values("intake", ascending=False, kind="stable")
    records = []
    for unit, row in out.iterrows():
        record: dict[str, Any] = {by: unit or None}
        for name in FIGURES:
            value = row[name]
            record[name] = (
                None
                if pd.isna(value)
                else (int(value) if name in ("intake", "resolved", "overdue") else float(value))
            )
        records.append(record)
    return records
