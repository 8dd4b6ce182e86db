"""The map-wall page: a folium (Leaflet) map whose every asset is served by us.

folium links Leaflet, jQuery, Bootstrap and Font Awesome from public CDNs by
default; :class:`WallMap` replaces those links with our ``/static/...`` copies
(vendored from the npm registry under ``layers/assets/`` with their licences),
so the page works in a centre with no internet. The behaviour (layers, live
events, search, URL state) is ``assets/wall.js``; the server passes it one JSON
config. The start view comes from the city profile (:class:`WallView`): fitted to
the active generation's extent unless the profile names a centre and zoom.

>>> html = render_wall_page(kiosk=True)
>>> "cdn" in html or "https://" in html
False
>>> '"kiosk": true' in html
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from cityaware.geo.profile import CityProfile
from cityaware.geo.resources import shipped
from cityaware.layers.style import WALL_STYLE

ASSETS_DIR = shipped("cityaware.layers", "assets")
STATIC_PREFIX = "/static"
CHINA = (73.5, 18.0, 135.1, 53.6)  # west, south, east, north: the view before any boundaries


@dataclass(frozen=True)
class WallView:
    """Where the map starts: ``bounds`` (west, south, east, north) to fit, unless a
    ``centre`` (lat, lon) and ``zoom`` are given; the search box's ``placeholder``.

    >>> WallView.from_profile(CityProfile(extent=(1.0, 2.0, 3.0, 4.0))).start
    ([3.0, 2.0], 8)
    """

    bounds: tuple[float, float, float, float] = CHINA
    centre: tuple[float, float] | None = None
    zoom: int | None = None
    placeholder: str = CityProfile().search_placeholder

    @classmethod
    def from_profile(cls, profile: CityProfile) -> WallView:
        """The view of a city profile (its extent, its centre and zoom if it names them)."""
        return cls(
            profile.extent or CHINA, profile.centre, profile.zoom, profile.search_placeholder
        )

    @property
    def start(self) -> tuple[list[float], int]:
        """The folium map's first centre and zoom, before the script fits the bounds."""
        west, south, east, north = self.bounds
        centre = self.centre or ((south + north) / 2, (west + east) / 2)
        return [float(centre[0]), float(centre[1])], self.zoom if self.zoom is not None else 8


class WallMap(folium.Map):
    """A folium map that loads Leaflet, its plugins and our script from our server."""

    default_js = [
        ("leaflet", f"{STATIC_PREFIX}/leaflet/leaflet.js"),
        ("vectorgrid", f"{STATIC_PREFIX}/leaflet_vectorgrid/Leaflet.VectorGrid.bundled.min.js"),
        ("heat", f"{STATIC_PREFIX}/leaflet_heat/leaflet-heat.js"),
        ("wall", f"{STATIC_PREFIX}/wall.js"),
    ]
    default_css = [
        ("leaflet_css", f"{STATIC_PREFIX}/leaflet/leaflet.css"),
        ("wall_css", f"{STATIC_PREFIX}/wall.css"),
    ]


def wall_config(
    kiosk: bool = False,
    basemap_url: str = "",
    view: WallView | None = None,
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON the page script starts from (routes, style, defaults, start view)."""
    view = view or WallView()
    west, south, east, north = view.bounds
    return {
        "kiosk": kiosk,
        "basemapUrl": basemap_url,
        "tiles": "/tiles/{layer}/{z}/{x}/{y}.mvt",
        "events": "/v1/events",
        "api": "/map/api",
        "bounds": [[south, west], [north, east]],
        "centre": list(view.centre) if view.centre else None,
        "zoom": view.zoom,
        "placeholder": view.placeholder,
        "style": WALL_STYLE,
        "windows": ["1h", "24h", "7d", "30d", "all"],
        "defaults": {
            "layers": ["grids", "incidents", "sensors"],
            "window": "24h",
            "status": "open",
            "category": "",
            **(defaults or {}),
        },
    }


def render_wall_page(
    kiosk: bool = False,
    basemap_url: str = "",
    view: WallView | None = None,
    config: dict[str, Any] | None = None,
    map_class: type[WallMap] = WallMap,
) -> str:
    """The whole HTML page for ``/map`` (``kiosk`` hides every control but the map);
    ``config`` replaces :func:`wall_config`'s and ``map_class`` the assets (the
    kiosk's, :mod:`cityaware.layers.kiosk`)."""
    view = view or WallView()
    figure = Figure(title="cityaware map wall" + (" (kiosk)" if kiosk else ""))
    location, zoom = view.start
    wall = map_class(
        location=location,
        zoom_start=zoom,
        tiles=None,
        prefer_canvas=True,
        control_scale=not kiosk,
        zoom_control=not kiosk,
        attribution_control=False,
    )
    figure.add_child(wall)
    # no favicon request (it would be a 404 in the console)
    figure.header.add_child(Element('<link rel="icon" href="data:,">'), name="no_favicon")
    wall.add_child(_WallStart(config or wall_config(kiosk, basemap_url, view)))
    return figure.render()


class _WallStart(MacroElement):
    """Calls ``CityWall.start(map, config)`` after folium has created the map."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "CityWall.start({{ this._parent.get_name() }}, {{ this.config }});"
        "{% endmacro %}"
    )

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca is untyped
        self._name = "CityWallStart"
        self.config = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
