"""What the geocoder answers: a status, the level it trusts, ranked candidates.

``grid_code`` on the result is set only when the grid is trusted: a single
unambiguous match, precise enough for the named place and its relation
("对面" widens the place by some metres). Candidates may still carry the grid
of the place they name, for display.

>>> GeocodeResult("纬五路", "not_found", None).to_dict()["candidates"]
[]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

STATUSES = ("matched", "partial", "ambiguous", "not_found")
LEVELS = ("grid", "address", "compound", "landmark", "road", "community", "street", "district")


@dataclass(slots=True)
class Candidate:
    """One possible reading of the address."""

    name: str
    level: str
    code: str | None
    confidence: float
    lon: float | None
    lat: float | None
    grid_code: str | None
    matched_text: str
    district_code: str | None
    street_code: str | None
    community_code: str | None
    managing_zone: str | None = None


@dataclass(slots=True)
class GeocodeResult:
    """The answer for one address.

    ``status``: matched (the level asked for was found, grid trusted when the
    place pins one), partial (only a coarser level is trusted), ambiguous
    (several places fit equally; see ``candidates``), not_found.
    """

    query: str
    status: str
    level: str | None
    grid_code: str | None = None
    confidence: float = 0.0
    candidates: list[Candidate] = field(default_factory=list)
    components: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    @property
    def best(self) -> Candidate | None:
        """The top candidate, if any."""
        return self.candidates[0] if self.candidates else None

    def to_dict(self) -> dict:
        """JSON-ready dict (None stays None, never [])."""
        record = asdict(self)
        record["candidates"] = [asdict(c) for c in self.candidates]
        return record
