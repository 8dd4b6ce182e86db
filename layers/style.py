"""The dark operations style: colours for boundaries, statuses, choropleth classes, devices.

One dict (:data:`WALL_STYLE`) goes to the page as JSON; the legend and every
layer's symbols are drawn from it, so the legend always matches the map.

>>> choropleth_colour(0), choropleth_colour(7)
('#1b2a3a', '#f28e2b')
"""

from __future__ import annotations

BACKGROUND = "#0b1220"

BOUNDARIES: dict[str, dict] = {
    "districts": {"color": "#6c8ebf", "weight": 2.0, "opacity": 0.9, "fill": False},
    "streets": {"color": "#4d6a8f", "weight": 1.2, "opacity": 0.8, "fill": False},
    "communities": {"color": "#35506f", "weight": 0.8, "opacity": 0.7, "fill": False},
}
GRID_LINE = {"color": "#2c4361", "weight": 0.6, "opacity": 0.8}
GRID_HIGHLIGHT = {"color": "#ffffff", "weight": 3.0, "opacity": 1.0}

# open incidents per grid: upper bound of each class (inclusive) → colour
CHOROPLETH: list[tuple[int, str]] = [
    (0, "#1b2a3a"),
    (1, "#2b5c7d"),
    (3, "#3f8fa8"),
    (6, "#e1c542"),
    (10, "#f28e2b"),
    (1_000_000_000, "#e15759"),
]

STATUS_COLOURS: dict[str, str] = {
    "received": "#e15759",
    "dispatched": "#f28e2b",
    "in_progress": "#edc948",
    "resolved": "#59a14f",
    "closed": "#7f8c8d",
}
CATEGORY_PALETTE: list[str] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
]  # fmt: skip
DEVICES: dict[str, dict] = {
    "cameras": {"color": "#76b7b2", "offline": "#566573"},
    "sensors": {"color": "#9c88ff", "alarm": "#ff2d55", "offline": "#566573"},
}
CLUSTER = {"color": "#4e79a7", "open": "#e15759"}
LIVE_FLASH = {"incident": "#ffd60a", "alarm": "#ff2d55"}


def choropleth_colour(count: int) -> str:
    """The fill colour of a grid with ``count`` open incidents."""
    for upper, colour in CHOROPLETH:
        if count <= upper:
            return colour
    return CHOROPLETH[-1][1]


WALL_STYLE: dict = {
    "background": BACKGROUND,
    "boundaries": BOUNDARIES,
    "grid": GRID_LINE,
    "gridHighlight": GRID_HIGHLIGHT,
    "choropleth": CHOROPLETH,
    "status": STATUS_COLOURS,
    "categories": CATEGORY_PALETTE,
    "devices": DEVICES,
    "cluster": CLUSTER,
    "live": LIVE_FLASH,
}
