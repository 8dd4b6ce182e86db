"""The state and events of the built-in live rules (:mod:`geo.live.rules`).

:meth:`RuleStore.evaluate` looks at every subject of every rule at one moment ``now``
(moving objects from ``objects``, devices from ``features``), keeps per rule and subject
whether the rule is open (``rule_state``, with the pending time of its dwell), and for each
opening or clearing stores one ``rule_events`` row and one change ``rule_events``
``open``/``clear`` in the feed (so it reaches ``/v1/changes``, ``/v1/events`` and the
webhooks like fence events). Evaluating again at the same moment changes nothing. The
evaluation is one transaction whose first lock is the change-feed counter (the store's
lock order, :mod:`geo.store.lockorder`), so two evaluations run one after the other and
one that loses a deadlock anyway is run again.

>>> rule_event_id("off-grid", "worker:w1", 0, "open")
're_6f44e6a032a5ab52dffa'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import shapely
import sqlalchemy as sa

from cityaware.geo.live.fences import edge_distance_m
from cityaware.geo.live.rules import DEVICE_KINDS, Rule, judge
from cityaware.geo.store.live_tables import change_row, digest_id, events_of, fetch_dicts
from cityaware.geo.store.lockorder import ordered_write
from cityaware.geo.store.times import from_ms

_KEY = sa.String(64)
MINUTE_MS = 60_000
Shapes = Callable[[str], Mapping[str, shapely.Geometry]]  # generation -> code -> polygon


def define_rule_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Add ``rule_state`` and ``rule_events`` to ``metadata``.

    >>> sorted(define_rule_tables(sa.MetaData()))
    ['rule_events', 'rule_state']
    """
    c = sa.Column
    tables = (
        sa.Table(
            "rule_state",
            metadata,
            c("rule_id", _KEY, primary_key=True),
            c("subject", sa.String(100), primary_key=True),  # kind:id
            c("active", sa.Boolean, nullable=False),
            c("pending_since", sa.BigInteger),
            sqlite_with_rowid=False,
        ),
        sa.Table(
            "rule_events",
            metadata,
            c("id", _KEY, primary_key=True),
            c("rule_id", _KEY, nullable=False),
            c("rule_type", sa.String(32), nullable=False),
            c("op", sa.String(8), nullable=False),  # open or clear
            c("subject_kind", sa.String(32), nullable=False),
            c("subject_id", _KEY, nullable=False),
            c("at", sa.BigInteger, nullable=False),
            c("lon", sa.Float),
            c("lat", sa.Float),
            c("grid_code", sa.Text),
            sa.Index("rule_events_rule_at", "rule_id", "at"),
        ),
    )
    return {t.name: t for t in tables}


def rule_event_id(rule_id: str, subject: str, at: int, op: str) -> str:
    """The id of a rule event: the same evaluation always makes the same event."""
    return digest_id("re_", rule_id, subject, at, op)


@dataclass(frozen=True)
class Subject:
    """What a rule looks at: a moving object or a device."""

    kind: str
    id: str
    lon: float
    lat: float
    grid_code: str | None
    online: bool | None = None
    seen: int | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


class RuleStore:
    """Rule state and events over a feature store's backend and tables."""

    def __init__(self, store: Any) -> None:
        self.store, self.backend, self.tables = store, store.backend, store.tables

    def evaluate(
        self,
        rules: Sequence[Rule],
        now: int,
        clock: ZoneInfo,
        generation: str,
        shapes: Shapes,
        owners: Mapping[str, Sequence[str]],
    ) -> list[dict[str, Any]]:
        """Evaluate ``rules`` at ``now`` (see the module doc); ``owners``: object id -> its
        own grid codes (outside_own_grid); returns the new events."""
        state_table = self.tables["rule_state"]

        def attempt(conn: sa.Connection) -> list[dict[str, Any]]:
            events: list[dict[str, Any]] = []
            for rule in rules:
                of_rule = sa.select(state_table).where(state_table.c.rule_id == rule.id)
                rows = fetch_dicts(conn, of_rule)
                states = {r["subject"]: r for r in rows}
                changed: list[dict[str, Any]] = []
                for subject, violating, edge in self._observe(
                    conn, rule, now, clock, generation, shapes, owners
                ):
                    before = states.get(subject.key)
                    active = bool(before["active"]) if before else False
                    pending = before["pending_since"] if before else None
                    verdict = judge(rule, active, pending, violating, edge, now)
                    if (verdict.active, verdict.pending_since) != (active, pending):
                        changed.append(
                            {
                                "rule_id": rule.id,
                                "subject": subject.key,
                                "active": verdict.active,
                                "pending_since": verdict.pending_since,
                            }
                        )
                    if verdict.changed:
                        events.append(_event(rule, subject, now, verdict.active))
                if changed:
                    keys = [r["subject"] for r in changed]
                    conn.execute(
                        state_table.delete().where(
                            state_table.c.rule_id == rule.id, state_table.c.subject.in_(keys)
                        )
                    )
                    conn.execute(state_table.insert(), changed)
            if events:
                conn.execute(self.tables["rule_events"].insert(), events)
                self.store.changelog.append_rows(
                    conn,
                    [
                        change_row("rule_events", e["id"], e["op"], e["grid_code"],
                                   e["grid_code"], generation, now)
                        for e in events
                    ],
                )  # fmt: skip
            return [event_view(e) for e in events]

        return ordered_write(self.store, attempt)

    def events(
        self, rule_id: str | None = None, ids: Sequence[str] | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Rule events, newest first (of one rule, or with these ids)."""
        table = self.tables["rule_events"]
        with self.backend.read() as conn:
            rows = events_of(conn, table, "rule_id", rule_id, ids, limit, newest_first=True)
        return [event_view(r) for r in rows]

    def open_subjects(self, rule_id: str) -> list[str]:
        """The subjects (``kind:id``) the rule is open for now."""
        table = self.tables["rule_state"]
        stmt = sa.select(table.c.subject).where(
            table.c.rule_id == rule_id, table.c.active == sa.true()
        )
        with self.backend.read() as conn:
            return sorted(conn.execute(stmt).scalars())

    def _observe(
        self,
        conn: sa.Connection,
        rule: Rule,
        now: int,
        clock: ZoneInfo,
        generation: str,
        shapes: Shapes,
        owners: Mapping[str, Sequence[str]],
    ) -> list[tuple[Subject, bool, float]]:
        """Each subject of ``rule`` with whether it violates the rule now and its distance
        from the deciding edge (``inf``: no edge)."""
        if rule.type == "offline":
            cutoff = now - int(rule.after_minutes * MINUTE_MS)
            return [
                (s, s.online is False or (s.seen is not None and s.seen < cutoff), math.inf)
                for s in self._devices(conn, rule.kinds)
            ]
        polygons = shapes(generation)
        out = []
        on_duty = rule.on_duty(now, clock)
        closed = (
            shapely.union_all([polygons[c] for c in rule.regions if c in polygons])
            if rule.type == "closed_area"
            else None
        )
        for subject in self._objects(conn, rule.kinds):
            if closed is not None:
                area = closed
            else:
                own = [polygons[c] for c in owners.get(subject.id, ()) if c in polygons]
                if not own:
                    continue  # no own grid known: the rule does not apply
                area = shapely.union_all(own)
                if not on_duty:
                    out.append((subject, False, math.inf))  # off duty: clears at once
                    continue
            inside = bool(shapely.intersects_xy(area, subject.lon, subject.lat))
            edge = edge_distance_m(area, subject.lon, subject.lat)
            out.append((subject, inside if closed is not None else not inside, edge))
        return out

    def _objects(self, conn: sa.Connection, kinds: frozenset[str]) -> list[Subject]:
        table = self.tables["objects"]
        stmt = sa.select(
            table.c.kind, table.c.id, table.c.lon, table.c.lat, table.c.grid_code
        ).where(table.c.kind.in_(sorted(kinds)))
        return [Subject(*row) for row in conn.execute(stmt.order_by(table.c.kind, table.c.id))]

    def _devices(self, conn: sa.Connection, kinds: frozenset[str]) -> list[Subject]:
        f = self.store.features
        seen = sa.case(
            (f.c.kind == "sensors", sa.func.coalesce(f.c.reading_at, f.c.created_at)),
            else_=sa.null(),  # cameras send no readings: only their online flag counts
        )
        stmt = sa.select(f.c.kind, f.c.id, f.c.lon, f.c.lat, f.c.grid_code, f.c.online, seen)
        stmt = stmt.where(f.c.kind.in_([k for k in sorted(kinds) if k in DEVICE_KINDS]))
        return [
            Subject(k, i, x, y, g, None if o is None else bool(o), s)
            for k, i, x, y, g, o, s in conn.execute(stmt.order_by(f.c.kind, f.c.id))
        ]


def _event(rule: Rule, subject: Subject, at: int, active: bool) -> dict[str, Any]:
    op = "open" if active else "clear"
    return {
        "id": rule_event_id(rule.id, subject.key, at, op),
        "rule_id": rule.id,
        "rule_type": rule.type,
        "op": op,
        "subject_kind": subject.kind,
        "subject_id": subject.id,
        "at": at,
        "lon": subject.lon,
        "lat": subject.lat,
        "grid_code": subject.grid_code,
    }


def event_view(row: dict[str, Any]) -> dict[str, Any]:
    """The public form of a rule event (ISO time).

    >>> event_view({"id": "re_1", "at": 0})["at"]
    '1970-01-01T00:00:00Z'
    """
    return {**row, "at": from_ms(row["at"])}
