"""Feature kinds, the incident taxonomy and the incident status lifecycle.

The taxonomy is hierarchical like a real hotline's: group → category →
sub-category, each with a code and a Chinese name; categories and channels
also have aliases. Wherever a category or channel is given, its id, code,
name or an alias is accepted and turned into the id. It is configurable:
drop a ``taxonomy.json`` into the data directory (the shape of the shipped
``hotline-taxonomy.json``, or the flat ``{"categories": [...], "channels":
[...]}``) or pass a :class:`Taxonomy` to ``open_store``.

>>> TAXONOMY.check_category("manhole_cover")
'manhole_cover'
>>> TAXONOMY.check_category("环境卫生"), TAXONOMY.check_channel("12345")
('sanitation', 'hotline_12345')
>>> TAXONOMY.node("0102").name
'井盖缺失或破损'
>>> check_transition("resolved", "in_progress")  # a reopen
>>> check_transition("received", "closed")  # doctest: +ELLIPSIS
Traceback (most recent call last):
cityaware.geo.errors.Conflict: illegal status transition received -> closed; ... dispatched
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cityaware.geo.errors import Conflict, InvalidInput, NotFound
from cityaware.geo.resources import shipped

KINDS: tuple[str, ...] = ("incidents", "cameras", "sensors")

STATUSES: tuple[str, ...] = ("received", "dispatched", "in_progress", "resolved", "closed")
OPEN_STATUSES: tuple[str, ...] = ("received", "dispatched", "in_progress")
CLOSED_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s not in OPEN_STATUSES)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("dispatched",),
    "dispatched": ("in_progress",),
    "in_progress": ("resolved",),
    "resolved": ("closed", "received", "in_progress"),  # close, or reopen
    "closed": ("received", "in_progress"),  # reopen
}
# Delivery of the case to the responsible office, apart from the business status.
DELIVERY_STATES: tuple[str, ...] = ("pending", "sent", "acknowledged", "failed", "refused")
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")

TAXONOMY_FILE = "taxonomy.json"


def check_kind(kind: str) -> str:
    """Return ``kind`` when it is a feature kind, else raise :class:`NotFound`.

    >>> check_kind("cameras")
    'cameras'
    """
    if kind not in KINDS:
        raise NotFound(f"unknown feature kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def check_transition(old: str, new: str) -> None:
    """Raise :class:`Conflict` unless the lifecycle allows ``old -> new`` (or no change)."""
    check_choice("status", new, STATUSES)
    if old != new and new not in TRANSITIONS.get(old, ()):
        allowed = ", ".join(TRANSITIONS.get(old, ())) or "nothing"
        raise Conflict(f"illegal status transition {old} -> {new}; allowed from {old}: {allowed}")


def check_choice(field: str, value: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` when it is one of ``choices``, else raise :class:`InvalidInput`.

    >>> check_choice("priority", "urgent", PRIORITIES)
    'urgent'
    """
    if value not in choices:
        raise InvalidInput(f"unknown {field} {value!r}; expected one of {', '.join(choices)}")
    return value


SHIPPED_TAXONOMY = shipped("cityaware.geo.store", "hotline-taxonomy.json")
HANDLING_LEVELS: tuple[str, ...] = ("community", "street", "district", "city")


@dataclass(frozen=True)
class Node:
    """One group, category, sub-category or channel: id, code, Chinese name, aliases.

    ``level`` (categories): where such a case is handled first (street, district, city);
    ``keywords``: words that point to it (the classifier's seed).
    """

    id: str
    code: str
    name: str
    kind: str  # group | category | subcategory | channel
    parent: str | None = None
    level: str = "district"
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Every spelling that means this node (id, code, name, aliases)."""
        return tuple(n for n in (self.id, self.code, self.name, *self.aliases) if n)


def _node(raw: Mapping[str, Any], kind: str, parent: str | None, level: str) -> Node:
    """One node from its JSON object (id required; the rest optional)."""
    return Node(
        raw["id"],
        raw.get("code", ""),
        raw.get("name", ""),
        kind,
        parent,
        raw.get("level", level),
        tuple(raw.get("aliases") or ()),
        tuple(raw.get("keywords") or ()),
    )


def _nodes(raw: Mapping[str, Any]) -> list[Node]:
    """The nodes of a hierarchical taxonomy document (see ``hotline-taxonomy.json``)."""
    nodes = []
    for group in raw.get("groups") or ():
        nodes.append(_node(group, "group", None, "district"))
        for cat in group.get("categories") or ():
            category = _node(cat, "category", group["id"], "district")
            nodes.append(category)
            for sub in cat.get("subcategories") or ():
                nodes.append(_node(sub, "subcategory", category.id, category.level))
    for channel in raw.get("channels") or ():
        nodes.append(_node({"id": channel} if isinstance(channel, str) else channel,
                           "channel", None, "district"))  # fmt: skip
    for category in raw.get("categories") or ():  # the flat form: ids only
        nodes.append(Node(category, "", "", "category"))
    return nodes


@cache
def _shipped_nodes() -> tuple[Node, ...]:
    """The nodes of the shipped 12345 taxonomy."""
    return tuple(_nodes(json.loads(SHIPPED_TAXONOMY.read_text(encoding="utf-8"))))


@dataclass(frozen=True)
class Taxonomy:
    """The incident categories (with their groups and sub-categories) and intake channels."""

    nodes: tuple[Node, ...] = field(default_factory=lambda: _shipped_nodes())
    _index: dict[tuple[str, str], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for node in self.nodes:
            space = "channel" if node.kind == "channel" else "category"
            if node.kind in ("category", "channel"):
                for name in node.names():
                    self._index.setdefault((space, name.strip().lower()), node.id)

    @classmethod
    def from_document(cls, raw: Mapping[str, Any]) -> Taxonomy:
        """A taxonomy from its JSON document (hierarchical, or flat lists of ids)."""
        return cls(tuple(_nodes(raw)))

    @classmethod
    def load(cls, data_dir: Path | None) -> Taxonomy:
        """The taxonomy of ``data_dir/taxonomy.json`` when present, else the default."""
        path = Path(data_dir) / TAXONOMY_FILE if data_dir else None
        if path is None or not path.exists():
            return TAXONOMY
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            taxonomy = cls.from_document(raw)
        except (ValueError, AttributeError, KeyError, TypeError) as error:
            raise InvalidInput(f"{path}: not a taxonomy JSON object ({error})") from error
        if not taxonomy.channels:  # a file with categories only keeps the default channels
            taxonomy = cls(taxonomy.nodes + tuple(n for n in TAXONOMY.nodes if n.kind == "channel"))
        return taxonomy

    def of_kind(self, kind: str) -> tuple[Node, ...]:
        """The nodes of one kind (group, category, subcategory, channel), in file order."""
        return tuple(n for n in self.nodes if n.kind == kind)

    @property
    def categories(self) -> tuple[str, ...]:
        """Ids of the categories (what the store keeps)."""
        return tuple(n.id for n in self.of_kind("category"))

    @property
    def channels(self) -> tuple[str, ...]:
        """Ids of the intake channels."""
        return tuple(n.id for n in self.of_kind("channel"))

    def node(self, key: str) -> Node:
        """The node with this id or code (NotFound otherwise).

        >>> TAXONOMY.node("sanitation").code
        '0201'
        """
        for node in self.nodes:
            if key in (node.id, node.code):
                return node
        raise NotFound(f"no taxonomy node {key!r}")

    def children(self, parent: str) -> tuple[Node, ...]:
        """The direct children of node id ``parent``."""
        return tuple(n for n in self.nodes if n.parent == parent)

    def canonical(self, space: str, value: str) -> str | None:
        """The id that ``value`` (id, code, name or alias) means in ``space``
        (category or channel), or None.

        >>> TAXONOMY.canonical("category", "违停")
        'illegal_parking'
        """
        return self._index.get((space, str(value).strip().lower()))

    def canonical_many(self, space: str, values: Sequence[Any]) -> list[Any]:
        """:meth:`canonical` for each value; unknown values (and None) stay as they are."""
        return [v if v is None else (self.canonical(space, v) or v) for v in values]

    def check_category(self, value: str) -> str:
        """The category id for an id, code, Chinese name or alias; InvalidInput otherwise."""
        return check_choice("category", self.canonical("category", value) or value, self.categories)

    def check_channel(self, value: str) -> str:
        """The channel id for an id, code, Chinese name or alias; InvalidInput otherwise."""
        return check_choice("channel", self.canonical("channel", value) or value, self.channels)

    def describe(self, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The categories as JSON-ready dicts with their group and sub-categories."""
        wanted = set(ids) if ids is not None else None
        out = []
        for cat in self.of_kind("category"):
            if wanted is not None and cat.id not in wanted:
                continue
            group = self.node(cat.parent) if cat.parent else None
            out.append(
                {
                    "id": cat.id, "code": cat.code, "name": cat.name, "level": cat.level,
                    "group": None if group is None else {"id": group.id, "code": group.code,
                                                          "name": group.name},
                    "aliases": list(cat.aliases),
                    "subcategories": [
                        {"id": s.id, "code": s.code, "name": s.name} for s in self.children(cat.id)
                    ],
                }
            )  # fmt: skip
        return out


TAXONOMY = Taxonomy()
DEFAULT_CATEGORIES: tuple[str, ...] = TAXONOMY.categories
DEFAULT_CHANNELS: tuple[str, ...] = TAXONOMY.channels
