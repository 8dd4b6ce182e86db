"""Webhook subscriptions and their delivery state: the outbox is the change feed itself.

Each hook keeps a ``cursor``: the last seq it has delivered or given up on (dead letter).
A deliverer *claims* a due hook with a lease (so two server processes never deliver the
same hook at once), sends the events after the cursor in seq order, and moves the
cursor in the same statement that counts the delivery; a failure schedules the next
attempt (``next_attempt_at``) and, after the last attempt, moves the event to the
dead-letter store. Since the cursor only moves after the receiver answered, a crash
re-sends at most the event in flight: at least once, in order.

>>> backoff_ms(1, 1000, 60_000), backoff_ms(4, 1000, 60_000), backoff_ms(30, 1000, 60_000)
(1000, 8000, 60000)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cityaware.geo.errors import NotFound
from cityaware.geo.store.live_tables import plain, row_by_id
from cityaware.geo.store.times import from_ms, now_ms


def backoff_ms(attempts: int, base_ms: int, cap_ms: int) -> int:
    """Exponential backoff after ``attempts`` failed attempts: base, 2·base, 4·base, ...
    up to ``cap_ms``."""
    return int(min(base_ms * 2 ** min(max(attempts - 1, 0), 40), cap_ms))


class HookStore:
    """Hooks and dead letters over a feature store's backend and tables."""

    def __init__(self, store: Any, lease_ms: int = 15_000) -> None:
        self.store, self.backend, self.lease_ms = store, store.backend, lease_ms
        self.table, self.dead = store.tables["hooks"], store.tables["hook_dead_letters"]

    def create(self, row: dict[str, Any], now: int) -> dict[str, Any]:
        """Store a hook; its cursor starts at ``row['cursor']`` (None: the newest seq)."""
        with self.backend.write() as conn:
            cursor = row.get("cursor")
            if cursor is None:
                cursor = self.store.changelog.latest(conn)
            values: dict[str, Any] = {"delivered": 0, "failed": 0, "attempts": 0}
            values["next_attempt_at"] = 0
            values |= {"lease_until": 0, "last_error": None, "created_at": now}
            conn.execute(self.table.insert(), [values | row | {"cursor": cursor}])
        return self.get(row["id"])

    def get(self, hook_id: str) -> dict[str, Any]:
        """A hook with its counters and dead-letter count (NotFound if absent)."""
        d = self.dead
        with self.backend.read() as conn:
            row = row_by_id(conn, self.table, hook_id, "hook")
            dead = conn.execute(
                sa.select(sa.func.count()).select_from(d).where(d.c.hook_id == hook_id)
            ).scalar_one()
        return row | {"dead_letters": int(dead)}

    def hooks(self) -> list[dict[str, Any]]:
        """Every hook, by id."""
        with self.backend.read() as conn:
            rows = conn.execute(sa.select(self.table).order_by(self.table.c.id)).mappings()
            return [plain(r) for r in rows]

    def delete(self, hook_id: str) -> None:
        """Delete a hook and its dead letters (NotFound if absent)."""
        t, d = self.table, self.dead
        with self.backend.write() as conn:
            conn.execute(d.delete().where(d.c.hook_id == hook_id))
            if not conn.execute(t.delete().where(t.c.id == hook_id)).rowcount:
                raise NotFound(f"no hook {hook_id!r}")

    def claim(self, now: int) -> list[dict[str, Any]]:
        """The hooks due for delivery that no other deliverer holds, now leased to us for
        ``lease_ms`` (renewed by each delivery; a deliverer that dies loses it then)."""
        t = self.table
        claimed = []
        with self.backend.write() as conn:
            due = (
                conn.execute(
                    sa.select(t.c.id).where(t.c.next_attempt_at <= now, t.c.lease_until < now)
                )
                .scalars()
                .all()
            )
            for hook_id in due:
                got = (
                    conn.execute(
                        t.update()
                        .where(t.c.id == hook_id, t.c.lease_until < now)
                        .values(lease_until=now + self.lease_ms)
                        .returning(*t.c)
                    )
                    .mappings()
                    .first()
                )
                if got is not None:
                    claimed.append(plain(got))
        return claimed

    def advance(self, hook_id: str, seq: int, delivered: bool) -> None:
        """Move the cursor to ``seq`` (after a delivery, or past events it does not want)."""
        t = self.table
        values: dict[str, Any] = {"cursor": seq, "attempts": 0, "next_attempt_at": 0}
        values["lease_until"] = now_ms() + self.lease_ms
        if delivered:
            values |= {"delivered": t.c.delivered + 1, "last_error": None}
        with self.backend.write() as conn:
            conn.execute(t.update().where(t.c.id == hook_id, t.c.cursor < seq).values(values))

    def failed(self, hook_id: str, error: str, next_attempt_at: int) -> None:
        """Count a failed attempt and schedule the next one."""
        t = self.table
        with self.backend.write() as conn:
            conn.execute(
                t.update()
                .where(t.c.id == hook_id)
                .values(
                    failed=t.c.failed + 1,
                    attempts=t.c.attempts + 1,
                    last_error=error[:1000],
                    next_attempt_at=next_attempt_at,
                )
            )

    def dead_letter(
        self, hook: dict[str, Any], seq: int, payload: str, error: str, now: int
    ) -> None:
        """Give up on event ``seq``: keep it in the dead-letter store, move the cursor on."""
        t = self.table
        with self.backend.write() as conn:
            conn.execute(
                self.dead.insert(),
                [
                    {
                        "hook_id": hook["id"],
                        "seq": seq,
                        "payload": payload,
                        "error": error[:1000],
                        "attempts": hook["attempts"] + 1,
                        "at": now,
                    }
                ],
            )
            conn.execute(
                t.update()
                .where(t.c.id == hook["id"])
                .values(
                    cursor=seq,
                    attempts=0,
                    next_attempt_at=0,
                    failed=t.c.failed + 1,
                    last_error=error[:1000],
                )
            )

    def release(self, hook_id: str) -> None:
        """End the lease (the next round may claim the hook at once)."""
        t = self.table
        with self.backend.write() as conn:
            conn.execute(t.update().where(t.c.id == hook_id).values(lease_until=0))

    def dead_letters(self, hook_id: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The events given up on, oldest first."""
        d = self.dead
        self.get(hook_id)
        with self.backend.read() as conn:
            rows = conn.execute(
                sa.select(d).where(d.c.hook_id == hook_id).order_by(d.c.seq).limit(limit)
            ).mappings()
            return [plain(r) | {"at": from_ms(r["at"])} for r in rows]
