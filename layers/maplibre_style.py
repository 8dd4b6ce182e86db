"""The map wall's look as a MapLibre GL style (``style.json``), drawn from :data:`WALL_STYLE`.

One vector source per tile layer (its TileJSON URL), and per layer the symbols the
wall draws: boundary outlines, status-coloured incidents, device dots, and the
cluster circles the tiles carry below each point layer's detail zoom (features
with ``cluster = 1`` and a ``count``). MapLibre, QGIS's vector tile layer or any
other client open the whole wall from one URL.

>>> style = wall_style({"districts": "https://h/tj.json", "incidents": "https://h/i.json"})
>>> [layer["id"] for layer in style["layers"]]
['background', 'districts', 'incidents-clusters', 'incidents-points']
>>> style["layers"][1]["paint"]["line-color"] == BOUNDARIES["districts"]["color"]
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cityaware.layers.service import MIN_ZOOMS, POINT_LAYERS
from cityaware.layers.style import (
    BACKGROUND,
    BOUNDARIES,
    CLUSTER_RAMP,
    DEVICES,
    GRID_LINE,
    STATUS_COLOURS,
)

STYLE_VERSION = 8
IS_CLUSTER: list[Any] = ["==", ["get", "cluster"], 1]
NOT_CLUSTER: list[Any] = ["!", ["has", "cluster"]]


def _outline(layer: str, look: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": layer,
        "type": "line",
        "source": layer,
        "source-layer": layer,
        "minzoom": MIN_ZOOMS[layer],
        "paint": {
            "line-color": look["color"],
            "line-width": look["weight"],
            "line-opacity": look["opacity"],
        },
    }


def _clusters(layer: str, ring: Any) -> dict[str, Any]:
    """Cluster circles as on the wall: a hueless grey lighter and larger with ``count``
    (:data:`CLUSTER_RAMP`), radius ``4 + 1.2 * sqrt(count)`` up to 26, ringed ``ring``."""
    ramp = CLUSTER_RAMP
    fill: list[Any] = ["step", ["get", "count"], ramp[0][1]]
    for (upper, _), (_, colour) in zip(ramp, ramp[1:], strict=False):
        fill += [upper + 1, colour]
    radius = ["min", ["+", 4, ["*", ["sqrt", ["get", "count"]], 1.2]], 26]
    return {
        "id": f"{layer}-clusters",
        "type": "circle",
        "source": layer,
        "source-layer": layer,
        "filter": IS_CLUSTER,
        "paint": {
            "circle-color": fill,
            "circle-radius": radius,
            "circle-opacity": 0.7,
            "circle-stroke-color": ring,
            "circle-stroke-width": 1,
        },
        "metadata": {"cityaware:shows": "bins below the detail zoom, with count"},
    }


def _points(layer: str, colour: Any, radius: float) -> dict[str, Any]:
    return {
        "id": f"{layer}-points",
        "type": "circle",
        "source": layer,
        "source-layer": layer,
        "filter": NOT_CLUSTER,
        "paint": {"circle-color": colour, "circle-radius": radius, "circle-opacity": 0.95},
        "metadata": {"cityaware:detail-zoom": POINT_LAYERS[layer].detail_zoom},
    }


def point_symbols(layer: str) -> list[dict[str, Any]]:
    """The cluster and point layers of one point kind.

    >>> [s["filter"] for s in point_symbols("sensors")] == [IS_CLUSTER, NOT_CLUSTER]
    True
    """
    if layer == "incidents":
        status = ["match", ["get", "status"], *_pairs(STATUS_COLOURS), "#cccccc"]
        return [_clusters(layer, BACKGROUND), _points(layer, status, 5)]
    look = DEVICES[layer]
    offline = ["==", ["get", "online"], False]
    if "alarm" in look:  # a ring of the alarm colour round a cluster holding an alarm
        ring = ["case", [">", ["get", "alarm"], 0], look["alarm"], BACKGROUND]
        colour = ["case", ["==", ["get", "alarm"], True], look["alarm"], offline, look["offline"]]
        return [_clusters(layer, ring), _points(layer, [*colour, look["color"]], 4)]
    return [
        _clusters(layer, BACKGROUND),
        _points(layer, ["case", offline, look["offline"], look["color"]], 3),
    ]


def _pairs(colours: Mapping[str, str]) -> list[str]:
    return [item for pair in colours.items() for item in pair]


def layer_symbols(layer: str) -> list[dict[str, Any]]:
    """The style layers drawing tile layer ``layer``."""
    if layer == "grids":
        return [_outline(layer, GRID_LINE)]
    if layer in BOUNDARIES:
        return [_outline(layer, BOUNDARIES[layer])]
    return point_symbols(layer)


def wall_style(
    sources: Mapping[str, str],
    name: str = "cityaware wall",
    center: tuple[float, float] | None = None,
    zoom: float | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A MapLibre style (version 8) over ``sources``: ``{tile layer: TileJSON URL}``.

    Each source is named like its tile layer (and its MVT layer); layers are drawn in
    the order given (boundaries under points, as the wall draws them).
    """
    style: dict[str, Any] = {
        "version": STYLE_VERSION,
        "name": name,
        "metadata": dict(metadata or {}),
        "sources": {layer: {"type": "vector", "url": url} for layer, url in sources.items()},
        "layers": [
            {"id": "background", "type": "background", "paint": {"background-color": BACKGROUND}},
            *(symbol for layer in sources for symbol in layer_symbols(layer)),
        ],
    }
    if center is not None:
        style["center"] = list(center)
    if zoom is not None:
        style["zoom"] = zoom
    return style
