"""The dark operations style: colours for boundaries, statuses, choropleth classes, devices.

One dict (:data:`WALL_STYLE`) goes to the page as JSON; the legend and every
layer's symbols are drawn from it, so the legend always matches the map.

>>> choropleth_colour(0), choropleth_colour(7)
('#232628', '#2aaeb0')
"""

from __future__ import annotations

from typing import Any

BACKGROUND = "#0b1220"

BOUNDARIES: dict[str, dict[str, Any]] = {
    "districts": {"color": "#6c8ebf", "weight": 2.0, "opacity": 0.9, "fill": False},
    "streets": {"color": "#4d6a8f", "weight": 1.2, "opacity": 0.8, "fill": False},
    "communities": {"color": "#35506f", "weight": 0.8, "opacity": 0.7, "fill": False},
}
GRID_LINE = {"color": "#2c4361", "weight": 0.6, "opacity": 0.8}
GRID_HIGHLIGHT = {"color": "#ffffff", "weight": 3.0, "opacity": 1.0}

# One colour language: the choropleth ramp (teal), the statuses, the alarm colour (red) and
# the heatmap never share a hue (tests/layers/test_style.py checks); devices are muted
# greys unless in alarm or offline; clusters are hueless greys, lighter and larger with count.
ALARM = "#ff2d55"
OFFLINE = "#fff3c4"

# open incidents per grid: upper bound of each class (inclusive) → colour
CHOROPLETH: list[tuple[int, str]] = [
    (0, "#232628"),
    (1, "#12434f"),
    (3, "#116570"),
    (6, "#15898f"),
    (10, "#2aaeb0"),
    (1_000_000_000, "#6fe3dc"),
]

STATUS_COLOURS: dict[str, str] = {
    "received": "#ff9f1c",
    "dispatched": "#c6e84d",
    "in_progress": "#9b7bff",
    "resolved": "#38c172",
    "closed": "#8f8f8f",
}
DEVICES: dict[str, dict[str, Any]] = {
    "cameras": {"color": "#5f6368", "offline": OFFLINE},
    "sensors": {"color": "#6b6b72", "alarm": ALARM, "offline": OFFLINE},
}
# clusters: upper bound of the count class (inclusive) → grey
CLUSTER_RAMP: list[tuple[int, str]] = [
    (9, "#606468"),
    (99, "#83878c"),
    (999, "#a7b0bb"),
    (1_000_000_000, "#dfe4ea"),
]
CLUSTER = {"ramp": CLUSTER_RAMP, "alarm": ALARM}
LIVE_FLASH = {"incident": "#ffffff", "alarm": ALARM}
HEAT_GRADIENT: dict[str, str] = {"0.2": "#1f2a6b", "0.45": "#5b3fd6", "0.7": "#f2a900",
                                 "1.0": "#fff7d6"}  # fmt: skip


def choropleth_colour(count: int) -> str:
    """The fill colour of a grid with ``count`` open incidents."""
    for upper, colour in CHOROPLETH:
        if count <= upper:
            return colour
    return CHOROPLETH[-1][1]


WALL_STYLE: dict[str, Any] = {
    "background": BACKGROUND,
    "boundaries": BOUNDARIES,
    "grid": GRID_LINE,
    "gridHighlight": GRID_HIGHLIGHT,
    "choropleth": CHOROPLETH,
    "status": STATUS_COLOURS,
    "neutral": "#8fa3bf",  # charts and text that carry no status
    "devices": DEVICES,
    "cluster": CLUSTER,
    "live": LIVE_FLASH,
    "alarm": ALARM,
    "offline": OFFLINE,
    "heat": {"gradient": HEAT_GRADIENT, "radius": 22, "blur": 16, "minOpacity": 0.45},
}
