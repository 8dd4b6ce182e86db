"""The 12345 side of demo incidents: what the caller said, due times, replies, callbacks.

Shaped after the model city's published figures: about 91.6% of cases are
resolved on time, 90.5% of callbacks satisfied or basically satisfied, 97.9%
of cases resolved in the end and 75.3% resolved at township or community level.
Vectorised and deterministic for one generator.

>>> rng = np.random.default_rng(1)
>>> reported = pd.DatetimeIndex(["2024-01-01T08:00Z"] * 3)
>>> cols = hotline_columns(np.array(["sanitation"] * 3, dtype=object),
...     np.array(["纬五路3号"] * 3, dtype=object), np.array(["垃圾清运不及时"] * 3, dtype=object),
...     reported, pd.Timestamp("2024-02-01T00:00Z"), rng)
>>> due = cols["hotline"][0]["due"]
>>> sorted(cols), (due["resolve_at"] - due["start_at"]) // 3_600_000
(['description', 'hotline', 'status', 'updated_at'], 48)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cityaware.geo.arrays import ObjectArray
from cityaware.geo.hotline.deadlines import HOUR_MS, DeadlineTable
from cityaware.geo.store.taxonomy import TAXONOMY

ON_TIME = 0.916
NEVER_RESOLVED = 0.021
SATISFACTION = (("satisfied", 0.80), ("basically", 0.105), ("unsatisfied", 0.095))
RESOLVED_LEVEL = (("community", 0.21), ("street", 0.543), ("district", 0.197), ("city", 0.05))
LEADS = ("市民来电反映：", "来电人称", "市民反映", "", "我家在", "网格员上报：")
TAILS = ("，请尽快处理。", "，希望有关部门管一管。", "，已经好几天了。", "，影响出行。", "。")
REPLIES = ("已安排人员到现场处理完毕", "经核实已整改到位", "已协调相关单位处置",
           "已现场处置并向市民回复", "已纳入计划并完成处理")  # fmt: skip


def _pick(rng: np.random.Generator, table: tuple[tuple[str, float], ...], n: int) -> ObjectArray:
    names = np.array([name for name, _ in table], dtype=object)
    shares = np.array([share for _, share in table])
    return np.asarray(names[rng.choice(len(names), size=n, p=shares / shares.sum())])


def hotline_columns(
    category: ObjectArray,
    address: ObjectArray,
    title: ObjectArray,
    reported: pd.DatetimeIndex,
    end: pd.Timestamp,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """``description`` (the caller's sentence), ``status`` and ``updated_at`` consistent
    with the case's timeline at ``end``, and the ``hotline`` block of every case."""
    n = len(category)
    table = DeadlineTable.load()
    level = np.array([TAXONOMY.node(c).level for c in category], dtype=object)
    hours = np.array([table.hours(c, lv) for c, lv in zip(category, level, strict=True)])
    start = np.asarray(reported.as_unit("ms").asi8, dtype=np.int64)
    respond_due = start + (hours[:, 0] * HOUR_MS).astype(np.int64)
    resolve_due = start + (hours[:, 1] * HOUR_MS).astype(np.int64)
    window = resolve_due - start
    on_time = rng.random(n) < ON_TIME
    share = np.where(on_time, rng.uniform(0.05, 0.95, n), rng.uniform(1.05, 2.5, n))
    reply_at = start + (window * share).astype(np.int64)
    respond_at = start + ((respond_due - start) * rng.uniform(0.1, 1.2, n)).astype(np.int64)
    respond_at = np.minimum(respond_at, reply_at)
    dispatch_at = start + np.minimum(rng.exponential(0.3 * HOUR_MS, n).astype(np.int64),
                                     respond_at - start)  # fmt: skip
    callback_at = reply_at + rng.exponential(20 * HOUR_MS, n).astype(np.int64)
    stuck = rng.random(n) < NEVER_RESOLVED
    now = int(end.value // 1_000_000)
    satisfaction = _pick(rng, SATISFACTION, n)
    resolved_level = _pick(rng, RESOLVED_LEVEL, n)
    lead, tail = rng.integers(len(LEADS), size=n), rng.integers(len(TAILS), size=n)
    reply_note = rng.integers(len(REPLIES), size=n)
    steps = np.stack([start, dispatch_at, respond_at, reply_at, callback_at], axis=1)
    steps[stuck, 3:] = np.iinfo(np.int64).max
    reached = (steps <= now).sum(axis=1) - 1
    statuses = np.array(["received", "dispatched", "in_progress", "resolved", "closed"], object)
    status = statuses[reached]
    reopened = (reached == 4) & (satisfaction == "unsatisfied")
    second_at = callback_at + (window * rng.uniform(0.1, 0.9, n)).astype(np.int64)
    again = reopened & (second_at <= now)  # re-opened, then resolved again in time
    status[reopened] = np.where(again[reopened], "resolved", "in_progress")
    updated = steps[np.arange(n), reached]
    updated[reopened] = np.where(again[reopened], second_at[reopened], callback_at[reopened])
    blocks = []
    for i in range(n):
        replied, called = reached[i] >= 3, reached[i] >= 4
        due = {"start_at": int(start[i]), "respond_at": int(respond_due[i]),
               "resolve_at": int(resolve_due[i])}  # fmt: skip
        reopen = bool(reopened[i])
        reply = (
            {
                "note": REPLIES[reply_note[i]],
                "at": int(reply_at[i]),
                "level": resolved_level[i],
                "on_time": bool(on_time[i]),
            }
            if replied
            else None
        )
        if reopen:
            due["resolve_at"] = int(callback_at[i] + window[i])
            if again[i]:
                reply = {
                    "note": REPLIES[reply_note[i]],
                    "at": int(second_at[i]),
                    "level": resolved_level[i],
                    "on_time": True,
                }
        blocks.append({
            "level": resolved_level[i] if replied else level[i],
            "pinned": "grid", "due": due, "matter": None, "reply": reply,
            "callback": {"satisfaction": satisfaction[i], "at": int(callback_at[i]),
                         "note": None} if called else None,
            "reopened": int(reopen),
            "reopened_at": int(callback_at[i]) if reopen and not again[i] else None,
            "escalations": [], "dispatch": {"mode": "auto", "reason": "demo"},
        })  # fmt: skip
    text = np.array(LEADS, dtype=object)[lead] + address + title + np.array(TAILS, object)[tail]
    return {
        "description": text,
        "status": status,
        "updated_at": pd.to_datetime(updated, unit="ms", utc=True),
        "hotline": blocks,
    }
