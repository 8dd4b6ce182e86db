"""The closed loop of one case, on its ``attributes["hotline"]`` block.

受理 intake sets the handling level and due times; 办理/反馈 the office's reply
resolves with a note; the citizen's callback records satisfaction and an
unsatisfied one re-opens the case with a new resolve deadline; 督办 an overdue
case may be escalated to the level above (street → district → city).
Every function returns a new block and raises Conflict for an illegal step.

>>> case = {"level": "street", "due": {"respond_at": 10, "resolve_at": 100}}
>>> escalate(case, 50)  # doctest: +ELLIPSIS
Traceback (most recent call last):
cityaware.geo.errors.Conflict: only an overdue case is escalated...
>>> escalate(case, 101)["level"]
'district'
>>> callback(reply(case, "已清理", 80), "unsatisfied", 90)["reopened"]
1
"""

from __future__ import annotations

from typing import Any

from cityaware.geo.errors import Conflict
from cityaware.geo.store.taxonomy import check_choice

SATISFACTION: tuple[str, ...] = ("satisfied", "basically", "unsatisfied")
ESCALATION: dict[str, str] = {"grid": "street", "community": "street", "street": "district",
                              "district": "city"}  # fmt: skip
LOCAL_LEVELS = frozenset(("grid", "community", "street"))


def handling_level(category_level: str, pinned_level: str | None) -> str:
    """Where a case is handled first: its category's level, never finer than the place.

    >>> handling_level("street", "district"), handling_level("district", "grid")
    ('district', 'district')
    """
    order = ("community", "street", "district", "city")
    place = (
        "street" if pinned_level in ("grid", "community", "street") else (pinned_level or "city")
    )
    return max(category_level, place, key=lambda level: order.index(level) if level in order else 3)


def reply(case: dict[str, Any], note: str, now: int) -> dict[str, Any]:
    """The office's reply: the case is resolved at its current level, on time or late."""
    if case.get("reply") and not case.get("reopened_at"):
        raise Conflict("the case was already replied to; a new reply needs a reopened case")
    on_time = now <= case["due"]["resolve_at"]
    answer = {"note": note, "at": now, "level": case["level"], "on_time": on_time}
    return {**case, "reply": answer, "reopened_at": None}


def callback(
    case: dict[str, Any], satisfaction: str, now: int, note: str | None = None
) -> dict[str, Any]:
    """The citizen's callback on a replied case; ``unsatisfied`` re-opens it."""
    check_choice("satisfaction", satisfaction, SATISFACTION)
    if not case.get("reply") or case.get("reopened_at"):
        raise Conflict("a callback follows the office's reply; this case has none to rate")
    if case.get("callback") and case["callback"]["at"] >= case["reply"]["at"]:
        raise Conflict("this reply was already rated by a callback")
    out = {**case, "callback": {"satisfaction": satisfaction, "at": now, "note": note}}
    if satisfaction == "unsatisfied":
        window = case["due"]["resolve_at"] - case["due"].get("start_at", 0)
        out["reopened"] = int(case.get("reopened", 0)) + 1
        out["reopened_at"] = now
        out["due"] = {**case["due"], "resolve_at": now + max(window, 0)}
        out["alerts"] = {}
    return out


def escalate(case: dict[str, Any], now: int) -> dict[str, Any]:
    """Move an overdue case to the level above; Conflict when not overdue or at the top."""
    if now <= case["due"]["resolve_at"]:
        raise Conflict("only an overdue case is escalated; this one is still within its deadline")
    above = ESCALATION.get(case["level"])
    if above is None:
        raise Conflict("the case is already handled at city level; nothing above it")
    steps = [*case.get("escalations", []), {"from": case["level"], "to": above, "at": now}]
    return {**case, "level": above, "escalations": steps}
