"""Picking ground-truth places out of the gazetteer for the tests.

The truth of a place is checked against the engine (``locator.locate``) and,
for relation radii, against shapely on the unit polygons, never against the
matcher itself.
"""

from __future__ import annotations

from collections import Counter

from cityaware.geo.gazetteer.normalize import normalize, syllable


def names_count(gazetteer, kind: str) -> Counter:
    return Counter(e.name for e in gazetteer.entries if e.kind == kind)


def unique_roads(gazetteer, district: str | None = None, limit: int = 5):
    """Roads whose name is unique citywide, each with one interior house number."""
    counts = names_count(gazetteer, "road")
    found = []
    for entry in gazetteer.entries:
        if entry.kind != "road" or counts[entry.name] != 1:
            continue
        if district and entry.district != district:
            continue
        for number, row in sorted(entry.numbers.items()):
            if number > 2 and gazetteer.points.edge_m["grid"][row] > 1.0:
                found.append((entry, number, row))
                break
        if len(found) == limit:
            break
    return found


def unique_places(gazetteer, kind: str, limit: int = 5):
    counts = names_count(gazetteer, kind)
    return [e for e in gazetteer.entries if e.kind == kind and counts[e.name] == 1][:limit]


def district_name(gazetteer, code: str) -> str:
    return gazetteer.unit_names[code]


def homophone_typo(gazetteer, name: str) -> str | None:
    """``name`` with one character replaced by a same-sounding one that makes no known alias."""
    chars: dict[str, set[str]] = {}
    for entry in gazetteer.entries:
        for c in entry.name:
            chars.setdefault(syllable(c), set()).add(c)
    for i, c in enumerate(name):
        for other in sorted(chars.get(syllable(c), ()) - {c}):
            typo = name[:i] + other + name[i + 1 :]
            if normalize(typo) not in gazetteer.exact:
                return typo
    return None
