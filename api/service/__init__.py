"""The service API (issue 6): geocode-to-grid, nearest devices, incident intake, Open311.

Routers: :mod:`~api.service.locate` (``/v1/locate``), :mod:`~api.service.nearest`
(``/v1/nearest``), :mod:`~api.service.incidents` (``/v1/incidents``) and
:mod:`~api.service.open311` (``/open311/v2``). Access: :mod:`~api.service.auth`;
answer shapes: :mod:`~api.service.shapes` and :mod:`~api.service.answers`;
routing rules: :mod:`~api.service.routing` with the demo ``duty-list.csv``.
"""
