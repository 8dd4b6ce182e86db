"""考评: per office, street, district or grid, over a window, how the loop went.

Input: one row per case (``office``, ``street_code``, ``district_code``,
``grid_code``, ``status`` and the case's hotline block ``hotline``, a dict);
every figure is computed from those columns with pandas:

* ``intake``: cases; ``resolved``: cases whose status is resolved or closed;
* ``resolution_rate`` = resolved / intake; ``on_time_rate`` = resolved on time /
  resolved; ``satisfaction_rate`` = (satisfied + basically) / callbacks;
* ``local_share`` = resolved at street, community or grid level / resolved;
* ``reopen_rate`` = cases re-opened at least once / intake;
* ``overdue``: open cases past their resolve deadline at ``now``.

>>> import pandas as pd
>>> rows = pd.DataFrame({"office": ["a", "a"], "status": ["closed", "in_progress"],
...     "hotline": [{"reply": {"on_time": True, "level": "street"}, "reopened": 0,
...                  "callback": {"satisfaction": "satisfied"}, "due": {"resolve_at": 5}},
...                 {"reopened": 1, "due": {"resolve_at": 5}}]})
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
    """One boolean column per figure's ingredient, from each case's hotline block."""
    blocks = [b if isinstance(b, dict) else {} for b in cases["hotline"]]
    reply = [b.get("reply") or {} for b in blocks]
    call = [b.get("callback") or {} for b in blocks]
    resolved = cases["status"].isin(RESOLVED).to_numpy()
    due = np.array([float((b.get("due") or {}).get("resolve_at", np.inf)) for b in blocks])
    return pd.DataFrame(
        {
            "resolved": resolved,
            "on_time": resolved & np.array([bool(r.get("on_time")) for r in reply]),
            "local": resolved & np.array([r.get("level") in LOCAL for r in reply]),
            "called": np.array([bool(c.get("satisfaction")) for c in call]),
            "positive": np.array([c.get("satisfaction") in POSITIVE for c in call]),
            "reopened": np.array([int(b.get("reopened") or 0) > 0 for b in blocks]),
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
