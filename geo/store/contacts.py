"""Who reported a case: the contact fields an Open311 client sends, kept apart from the case.

A case's ``attributes`` reach every reader (OGC items, exports, the change feed), so the
reporter's email, names, phone, device and account live in their own table, keyed by the
case (or review item) id, written in the same transaction as the case and read only
through :func:`get_contact`.

>>> sorted(c.name for c in contacts_table(sa.MetaData()).c)[:3]
['account_id', 'case_id', 'device_id']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from cityaware.geo.store.store import FeatureStore

CONTACTS = "case_contacts"
CONTACT_FIELDS: tuple[str, ...] = (
    "email", "first_name", "last_name", "phone", "device_id", "account_id",
)  # fmt: skip
MAX_FIELD = 200


def contacts_table(metadata: sa.MetaData) -> sa.Table:
    """The contacts' table on ``metadata``."""
    return sa.Table(
        CONTACTS,
        metadata,
        sa.Column("case_id", sa.String(64), primary_key=True),
        *(sa.Column(name, sa.String(MAX_FIELD)) for name in CONTACT_FIELDS),
    )


def contact_writer(
    store: FeatureStore, contact: Mapping[str, str | None]
) -> Callable[[sa.Connection, str], None] | None:
    """A write of ``contact`` for the transaction that stores case ``case_id`` (None when
    every field is empty: nothing to keep)."""
    row = {name: contact.get(name) or None for name in CONTACT_FIELDS}
    if not any(row.values()):
        return None
    table = store.tables[CONTACTS]

    def write(conn: sa.Connection, case_id: str) -> None:
        conn.execute(table.insert(), [{"case_id": case_id, **row}])

    return write


def get_contact(store: FeatureStore, case_id: str) -> dict[str, str | None] | None:
    """The contact kept with case ``case_id`` (None when it has none)."""
    table = store.tables[CONTACTS]
    with store.backend.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.case_id == case_id)).first()
    if row is None:
        return None
    return {name: row._mapping[name] for name in CONTACT_FIELDS}
