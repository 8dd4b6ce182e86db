"""The incidents of the matter window in memory, by category: a new case finds the
earlier cases near it (its matter, see :func:`~api.service.intake.find_matter`) in an
index instead of a spatial query of the store per POST.

:class:`RecentCases` loads the incidents reported within ``window_days`` once (in
chunks, keeping only those), adds a case this process stores as soon as it is stored
(:meth:`RecentCases.add`), and follows the store's change feed for the rest (another
worker's cases, imports, updates, deletes): before an answer it reads the incidents
changed since the seq it holds, at most every ``follow_s`` seconds, so a case another
process stored is seen at most that late. Matters are a grouping of duplicate reports,
not a guarantee: two cases stored at the same moment never saw each other with the
query either. When the seq it holds has been pruned from the feed it loads again.

>>> recent = RecentCases(None, window_days=7)  # doctest: +SKIP
>>> recent.add("c1", "noise", 101.5, 30.5, now_ms(), "c1", None)  # doctest: +SKIP
>>> recent.near("noise", 101.5001, 30.5001, 100.0)  # doctest: +SKIP
[{'id': 'c1', 'matter': 'c1', 'distance_m': 14.7, 'place': None}]
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd

from cityaware.geo.engine.live_index import LiveIndex
from cityaware.geo.errors import ChangesPruned
from cityaware.geo.hotline.matters import place_root
from cityaware.geo.store.times import now_ms

if TYPE_CHECKING:
    from cityaware.geo.store.store import FeatureStore

DAY_MS = 86_400_000
COLUMNS = ("id", "lon", "lat", "category", "reported_at", "address", "attributes")
CHUNK_ROWS = 50_000
# (category, lon, lat, reported_at, matter, place root) of an indexed case
Facts = tuple[str, float, float, int, str | None, str | None]
BIG_DELTA = 5_000  # changed rows past which a new index is packed instead
RELOAD_S = 3600.0  # a full load this often drops the cases that left the window


def case_facts(attributes: Any, address: Any) -> tuple[str | None, str | None]:
    """(matter, place root) of a stored case from its attributes (JSON text or dict).

    >>> case_facts('{"hotline": {"matter": "m1", "place": {"name": "中山路12号"}}}', None)
    ('m1', '中山路')
    >>> case_facts(None, "文化路8号")
    (None, '文化路')
    """
    if isinstance(attributes, str) and attributes:
        attributes = orjson.loads(attributes)
    hotline = (attributes or {}).get("hotline") or {} if isinstance(attributes, dict) else {}
    place = (hotline.get("place") or {}).get("name") or (address if isinstance(address, str)
                                                        else None)  # fmt: skip
    return hotline.get("matter"), place_root(place)


class RecentCases:
    """Incidents reported within ``window_days``, by category, following the change feed.

    One thread at a time reads the feed; the others answer from the index as it is
    meanwhile (only the first load is waited for). A large delta (an import) is loaded
    into a new index, packed in one pass, and swapped in; so is everything once an hour,
    which drops the cases that left the window.
    """

    def __init__(self, store: FeatureStore, window_days: float, follow_s: float = 0.2) -> None:
        self.store, self.window_ms, self.follow_s = store, int(window_days * DAY_MS), follow_s
        self._index = LiveIndex()
        self._facts: dict[str, Facts] = {}  # id -> what the index holds of it
        self._seq: int | None = None
        self._followed = self._loaded = 0.0
        self._lock = threading.Lock()  # the index and its maps
        self._reading = threading.Lock()  # one reader of the feed at a time

    def near(self, category: str, lon: float, lat: float, radius_m: float) -> list[dict[str, Any]]:
        """The cases of ``category`` within ``radius_m`` metres reported within the window,
        nearest first: id, matter, distance_m, place (root)."""
        self._follow()
        since = now_ms() - self.window_ms
        with self._lock:
            index = self._index
        found = index.within(
            lon, lat, radius_m, kind=category, where=lambda a: a["reported_at"] >= since
        )
        out = []
        for id, distance in found:
            attrs = index.get(category, id)[2]
            out.append({"id": id, "matter": attrs["matter"], "distance_m": distance,
                        "place": attrs["place"]})  # fmt: skip
        return out

    def warm(self) -> None:
        """Load the window's cases now (a server's warm-up), not on the first POST."""
        self._follow()

    def add(
        self,
        id: str,
        category: str,
        lon: float,
        lat: float,
        reported_at: int,
        matter: str | None,
        place: str | None,
    ) -> None:
        """A case this process has just stored (seen before the feed brings it)."""
        with self._lock:
            self._put(id, (category, float(lon), float(lat), reported_at, matter,
                           place_root(place)))  # fmt: skip

    def _follow(self) -> None:
        """Load, or catch up with the feed when ``follow_s`` has passed since the last time."""
        if self._seq is not None and time.monotonic() - self._followed < self.follow_s:
            return
        if not self._reading.acquire(blocking=self._seq is None):
            return  # another thread is reading the feed: answer from the index as it is
        try:
            self._followed = time.monotonic()
            if self._seq is None or self._followed - self._loaded > RELOAD_S:
                self._load()
                return
            try:
                delta = self.store.feature_frame("incidents", COLUMNS, after=self._seq)
            except ChangesPruned:  # too far behind the feed: load again
                self._load()
                return
            if len(delta.rows) > BIG_DELTA:  # an import: pack a new index in one pass
                self._load()
                return
            with self._lock:
                for id in delta.removed:
                    self._drop(id)
                for row in delta.rows.to_dict("records"):
                    if row["category"] is None or pd.isna(row["reported_at"]):
                        self._drop(str(row["id"]))
                        continue
                    matter, place = case_facts(row["attributes"], row["address"])
                    at = int(row["reported_at"])
                    self._put(str(row["id"]), (str(row["category"]), float(row["lon"]),
                                               float(row["lat"]), at, matter, place))  # fmt: skip
                self._seq = delta.seq
        finally:
            self._reading.release()

    def _load(self) -> None:
        """Read the cases of the window and swap a new index in."""
        since = now_ms() - self.window_ms

        def categorised(part: pd.DataFrame) -> pd.DataFrame:
            return part[part["category"].notna()]

        delta = self.store.feature_frame("incidents", COLUMNS, chunk_rows=CHUNK_ROWS,
                                         convert=categorised, reported_since=since)  # fmt: skip
        rows = delta.rows
        index, facts = LiveIndex(), {}
        for category, part in rows.groupby("category", sort=False):
            attrs = []
            for id, lon, lat, reported, attributes, address in zip(
                part["id"], part["lon"], part["lat"], part["reported_at"], part["attributes"],
                part["address"], strict=True,
            ):  # fmt: skip
                matter, place = case_facts(attributes, address)
                facts[id] = (str(category), float(lon), float(lat), int(reported), matter, place)
                attrs.append({"reported_at": int(reported), "matter": matter, "place": place})
            index.bulk_load(str(category), part["id"].tolist(), part["lon"], part["lat"], attrs)
        with self._lock:
            self._index, self._facts, self._seq = index, facts, delta.seq
            self._loaded = time.monotonic()

    def _put(self, id: str, facts: Facts) -> None:
        if self._facts.get(id) == facts:  # the feed bringing back a case already added
            return
        self._drop(id)
        category, lon, lat, reported_at, matter, place = facts
        attrs = {"reported_at": reported_at, "matter": matter, "place": place}
        self._index.insert(category, id, lon, lat, attrs)
        self._facts[id] = facts

    def _drop(self, id: str) -> None:
        facts = self._facts.pop(id, None)
        if facts is not None:
            self._index.delete(facts[0], id)
