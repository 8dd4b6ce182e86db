"""The incident counts an import adds, aggregated from its prepared rows before any lock.

:func:`geo.store.summary.apply` counts rows with one GROUP BY per arm over the stored
rows; run at an import's publish over 200,000 rows it held the write lock for
seconds. An import knows its rows already, so :func:`count_rows` groups them in
memory (the same arms, :data:`~geo.store.summary.ARMS`, the same keys) while nothing
is locked, and :func:`add_counts` upserts the few thousand sums in the publishing
transaction (``n = n + excluded.n``, as ``apply`` does).

>>> rows = count_rows({"district_code": ["d1", "d1"], "street_code": ["s1", None],
...     "community_code": [None, None], "grid_code": ["g1", "g1"],
...     "managing_zone": [None, None], "category": ["road", "road"],
...     "status": ["received", "closed"], "channel": ["app", "app"],
...     "reported_at": [0, 86_400_000]}, 0)
>>> keys = ("level", "unit", "day", "dim", "value", "n")
>>> for row in sorted(r for r in zip(*(rows[k] for k in keys)) if r[0] == "grid"):
...     print(row)
('grid', 'g1', 0, 'category', 'road', 1)
('grid', 'g1', 0, 'status', 'received', 1)
('grid', 'g1', 1, 'category', 'road', 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cityaware.geo.arrays import IntArray, ObjectArray
from cityaware.geo.store.dialect import run_columns
from cityaware.geo.store.summary import ARMS, CHAIN, DAY_MS, DIMS, KEY, LEVEL_COLUMNS

CHAIN_COLUMNS = ("district_code", "street_code", "community_code", "managing_zone")
STAGED = "import_counts_staged"  # PostGIS: the temporary table of an import's sums
TEXTS = ("district_code", "street_code", "community_code", "grid_code", "managing_zone", *DIMS)


def count_rows(columns: Mapping[str, Sequence[Any]], offset_ms: int) -> dict[str, list[Any]]:
    """The ``incident_counts`` rows (``KEY`` columns and ``n``, aligned) of
    incident rows given as aligned columns (missing columns are NULL), as
    :func:`geo.store.summary.apply` counts them."""
    n = len(columns["reported_at"])
    codes: dict[str, IntArray] = {}
    labels: dict[str, ObjectArray] = {}
    for name in TEXTS:  # integer codes (0: NULL) make every GROUP BY a cheap hash of ints
        code, uniques = pd.factorize(np.asarray(columns.get(name, [None] * n), dtype=object))
        codes[name] = code.astype(np.int64) + 1
        labels[name] = np.concatenate([np.array([""], dtype=object), uniques.astype(object)])
    reported = pd.to_numeric(pd.Series(columns["reported_at"]), errors="coerce")
    day = ((reported + offset_ms) // DAY_MS).fillna(-1).astype(np.int64).to_numpy()
    parts: dict[str, list[Any]] = {name: [] for name in (*KEY, "n")}
    for level, dim, values in ARMS:
        unit_name = {"zone": "managing_zone"}.get(level, LEVEL_COLUMNS.get(level, ""))
        unit = codes[unit_name] if unit_name else np.zeros(n, dtype=np.int64)
        keep = np.ones(n, dtype=bool) if level == "grid" or not unit_name else unit > 0
        if level == "zone":
            keep &= labels[unit_name][unit] != labels["district_code"][codes["district_code"]]
        if values is not None:
            keep &= np.isin(labels[dim][codes[dim]], list(values))
        chain = CHAIN_COLUMNS if level == "grid" else ()
        frame = pd.DataFrame({"unit": unit, "day": day, "value": codes[dim]})
        frame = frame.assign(**{name: codes[name] for name in chain})[keep]
        sums = frame.groupby(list(frame.columns), sort=False).size().reset_index(name="n")
        size = len(sums)
        # text stays in numpy object arrays: pandas would turn it into Arrow strings
        parts["level"].append(np.full(size, level, dtype=object))
        parts["unit"].append(labels[unit_name][sums["unit"].to_numpy()] if unit_name
                             else np.full(size, "", dtype=object))  # fmt: skip
        for key, name in zip(CHAIN, CHAIN_COLUMNS, strict=True):
            parts[key].append(labels[name][sums[name].to_numpy()] if name in chain
                              else np.full(size, "", dtype=object))  # fmt: skip
        parts["day"].append(sums["day"].to_numpy())
        parts["dim"].append(np.full(size, dim, dtype=object))
        parts["value"].append(labels[dim][sums["value"].to_numpy()])
        parts["n"].append(sums["n"].to_numpy())
    return {name: np.concatenate(arrays).tolist() for name, arrays in parts.items()}


def add_counts(conn: sa.Connection, counts: sa.Table, rows: Mapping[str, Sequence[Any]]) -> None:
    """Add ``rows`` (from :func:`count_rows`) to ``incident_counts`` in ``conn``'s
    transaction: one upsert over all of them (on PostGIS from a temporary table filled by
    ``COPY``, as per-row upserts there cost a round trip each)."""
    if not rows or not rows["n"]:
        return
    names = [*KEY, "n"]
    insert = (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(counts)
    if conn.dialect.name == "sqlite":
        stmt = insert.values({name: sa.bindparam(name) for name in names})
    else:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {STAGED} (LIKE {counts.name}) ON COMMIT DROP")
        driver = conn.connection.driver_connection
        assert driver is not None, "a checked-out connection has a driver connection"
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {STAGED} ({', '.join(names)}) FROM STDIN") as copy,
        ):
            for row in zip(*(rows[name] for name in names), strict=True):
                copy.write_row(row)
        staged = sa.table(STAGED, *(sa.column(name) for name in names))
        stmt = insert.from_select(names, sa.select(*staged.c).where(sa.true()))
    stmt = stmt.on_conflict_do_update(
        index_elements=list(counts.primary_key.columns), set_={"n": counts.c.n + stmt.excluded.n}
    )
    if conn.dialect.name == "sqlite":
        run_columns(conn, stmt, rows)
    else:
        conn.execute(stmt)
