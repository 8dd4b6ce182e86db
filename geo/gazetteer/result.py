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
from typing import Any

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

    @property
    def unit_code(self) -> str | None:
        """Code of the unit at ``level`` (grid, community, street or district), if any."""
        best = self.best
        if self.level == "grid" or self.grid_code:
            return self.grid_code
        if best is None or self.level not in ("community", "street", "district"):
            return None
        if best.level == self.level and best.code:
            return best.code  # e.g. a functional zone's code, answered at district level
        code: str | None = getattr(best, f"{self.level}_code")
        return code

    @property
    def lon(self) -> float | None:
        """Longitude of the answer, only when its grid is trusted."""
        return self.best.lon if self.grid_code and self.best else None

    @property
    def lat(self) -> float | None:
        """Latitude of the answer, only when its grid is trusted."""
        return self.best.lat if self.grid_code and self.best else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (None stays None, never [])."""
        record = asdict(self)
        record["unit_code"] = self.unit_code
        record["candidates"] = [asdict(c) for c in self.candidates]
        return record
