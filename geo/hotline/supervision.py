"""督办: which deadlines of an open case are near or past, and not yet announced.

A case must respond (leave received/dispatched) by ``due.respond_at`` and be
resolved by ``due.resolve_at``. Each (deadline, state) is announced once: the
block's ``alerts`` remembers what was raised.

>>> block = {"due": {"start_at": 0, "respond_at": 10, "resolve_at": 100}}
>>> new_alerts(block, "dispatched", 9)
[('respond', 'near')]
>>> new_alerts(block, "in_progress", 101)
[('resolve', 'overdue')]
>>> new_alerts(block | {"alerts": {"resolve": "overdue"}}, "in_progress", 200)
[]
"""

from __future__ import annotations

from typing import Any

from cityaware.geo.hotline.deadlines import deadline_state

WAITING = ("received", "dispatched")  # not yet responded
OPEN = ("received", "dispatched", "in_progress")
EVENT_OPS = {"near": "deadline_near", "overdue": "overdue"}


def new_alerts(block: dict[str, Any], status: str, now_ms: int) -> list[tuple[str, str]]:
    """(deadline, state) pairs that became near or overdue since the last scan."""
    due = block.get("due") or {}
    if status not in OPEN or not due:
        return []
    raised = block.get("alerts") or {}
    start = int(due.get("start_at", 0))
    out = []
    for deadline in ("respond", "resolve"):
        if deadline == "respond" and status not in WAITING:
            continue
        state = deadline_state(int(due[f"{deadline}_at"]), start, now_ms)
        if state != "ok" and raised.get(deadline) != state and raised.get(deadline) != "overdue":
            out.append((deadline, state))
    return out
