"""A small demo city with live writes for the dashboard tests, and their oracle.

:func:`live_writes` posts cases through the hotline loop (intake, dispatch, reply,
callback) and opens one sensor alarm through ``/v1/readings``. :func:`expected`
recomputes every dashboard figure with pandas from the raw rows of the store's
SQLite file (``json.loads`` of each row's attributes; no cityaware code).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

OPEN = ("received", "dispatched", "in_progress")
RESOLVED = ("resolved", "closed")
POSITIVE = ("satisfied", "basically")
WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "all": None}
CHILD = {"city": "district_code", "district": "street_code", "street": "community_code",
         "community": "grid_code"}  # fmt: skip


def live_writes(post, request) -> dict:
    """Cases through the loop and one alarm; ``post(path, body)`` / ``request(method, path,
    body)`` send with an admin key. Returns the ids written."""
    ids = []
    for lon, lat, category in [(113.655, 34.765, "sanitation"), (113.70, 34.77, "noise"),
                               (113.62, 34.74, "manhole_cover")]:  # fmt: skip
        answer = post("/v1/incidents", {"lon": lon, "lat": lat, "crs": "WGS84",
                                        "category": category, "title": "看板测试"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    for status in ("dispatched", "in_progress"):
        assert request("PATCH", f"/v1/incidents/{ids[0]}", {"status": status}).status_code == 200
    assert post(f"/v1/incidents/{ids[0]}/reply", {"note": "已处理"}).status_code == 200
    done = post(f"/v1/incidents/{ids[0]}/callback", {"satisfaction": "satisfied"})
    assert done.status_code == 200, done.text
    return {"incidents": ids}


def open_alarm(post, request, sensor: dict) -> None:
    """Open an alarm on ``sensor`` (a stored sensor record) with a threshold of its own."""
    answer = request("PUT", f"/v1/thresholds/sensor/{sensor['id']}",
                     {"max": 1.0, "band": 0.1, "category": "drainage"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    now = datetime.now(UTC)
    readings = [{"sensor": sensor["id"], "value": v, "at": (now - timedelta(seconds=s)).isoformat()}
                for s, v in ((20, 0.5), (10, 5.0), (5, 6.0))]  # fmt: skip
    answer = post("/v1/readings", {"readings": readings})
    assert answer.status_code == 200, answer.text


def raw_rows(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The features and alarms tables of the SQLite file at ``path``, as stored."""
    with sqlite3.connect(path) as conn:
        features = pd.read_sql("SELECT * FROM features", conn)
        alarms = pd.read_sql("SELECT * FROM alarms", conn)
    return features, alarms


def _in_region(rows: pd.DataFrame, region: str) -> pd.Series:
    if not region:
        return pd.Series(True, index=rows.index)
    if len(region) == 6 and region.endswith("00"):
        return rows["district_code"].fillna("").str.startswith(region[:4])
    if len(region) == 6:
        return (rows["district_code"] == region) | (rows["managing_zone"] == region)
    column = {9: "street_code", 12: "community_code"}.get(len(region), "grid_code")
    return rows[column] == region


def _hotline(attributes: str | None, *path: str):
    value = json.loads(attributes or "{}").get("hotline") or {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def expected(path: str, region: str, level: str, window: str, now_ms: int, tz: str) -> dict:
    """Every dashboard figure for ``region`` (of ``level``), recomputed from raw rows."""
    features, alarms = raw_rows(path)
    rows = features[_in_region(features, region)]
    cases = rows[rows["kind"] == "incidents"].copy()
    for name, keys in {"due": ("due", "resolve_at"), "on_time": ("reply", "on_time"),
                       "reply_at": ("reply", "at"),
                       "satisfaction": ("callback", "satisfaction")}.items():  # fmt: skip
        cases[name] = [_hotline(a, *keys) for a in cases["attributes"]]
    seconds = WINDOWS[window]
    shown = cases[(cases["reported_at"] <= now_ms) & (
        True if seconds is None else cases["reported_at"] >= now_ms - seconds * 1000)]  # fmt: skip
    local = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(tz))
    midnight = int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    is_open = shown["status"].isin(OPEN)
    overdue = is_open & (pd.to_numeric(shown["due"]) < now_ms)
    resolved = shown["status"].isin(RESOLVED)
    called = shown["satisfaction"].notna()
    today = cases[(cases["reported_at"] >= midnight) & (cases["reported_at"] <= now_ms)]
    replied = cases["status"].isin(RESOLVED) & (pd.to_numeric(cases["reply_at"]) >= midnight)
    sensors = rows[rows["kind"] == "sensors"]
    devices = rows[rows["kind"].isin(["cameras", "sensors"])]
    ranking = pd.DataFrame({"code": shown[CHILD[level]], "open": is_open, "overdue": overdue})
    ranking = ranking.groupby("code")[["open", "overdue"]].sum()
    alarmed = alarms[(alarms["state"] == "open") & alarms["sensor_id"].isin(sensors["id"])]

    def hours(frame: pd.DataFrame, start: int) -> list[int]:
        index = (frame["reported_at"] - start) // 3_600_000
        counts = index[(index >= 0) & (index < 24)].value_counts()
        return [int(counts.get(h, 0)) for h in range(24)]

    low = -(2**62) if seconds is None else now_ms - seconds * 1000
    steps = [[s["at"] for s in _hotline(a, "escalations") or []] for a in cases["attributes"]]
    escalated = sum(any(low <= at <= now_ms for at in ats) for ats in steps)
    week = cases[(cases["reported_at"] >= midnight - 7 * 86_400_000)
                 & (cases["reported_at"] < midnight - 6 * 86_400_000)]  # fmt: skip
    return {
        "kpi": {
            "intake_today": len(today),
            "open": int(is_open.sum()),
            "overdue": int(overdue.sum()),
            "resolved_today": int(replied.sum()),
            "on_time_rate": round(
                (resolved & (shown["on_time"] == True)).sum()  # noqa: E712
                / resolved.sum(),
                4,
            )
            if resolved.sum()
            else None,  # fmt: skip
            "satisfaction": round((shown["satisfaction"].isin(POSITIVE)).sum() / called.sum(), 4)
            if called.sum()
            else None,
            "escalated": int(escalated),  # cases escalated in the window (by the step's time)
            "sensors_in_alarm": int((sensors["alarm"] == 1).sum()),
            "devices_offline": int((devices["online"] == 0).sum()),
        },
        "ranking": {code: (int(r["open"]), int(r["overdue"])) for code, r in ranking.iterrows()},
        "newest_cases": shown.sort_values("reported_at", ascending=False)["id"].head(20).tolist(),
        "newest_alarms": alarmed.sort_values("opened_at", ascending=False)["id"].head(20).tolist(),
        "today": hours(today, midnight),
        "last_week": hours(week, midnight - 7 * 86_400_000),
        "category_mix": shown["category"].value_counts().to_dict(),
    }
