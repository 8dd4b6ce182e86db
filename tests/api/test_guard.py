"""BodyGuard's permission lookup, remembered per method and path: the same answer as
matching the routes each time (the oracle: :func:`route_permissions` of the route
Starlette itself matches), past the bound of remembered paths and after routes change."""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI
from starlette.routing import Match

from cityaware.api import guard
from cityaware.api.guard import BodyGuard
from cityaware.api.service.auth import Access, KeyStore, route_permissions


def _app() -> FastAPI:
    app = FastAPI()
    access = Access(KeyStore(Path("/nonexistent/keys.json")))

    @app.post("/cases/{case_id}", dependencies=[Depends(access.require("incidents.update"))])
    def update(case_id: str) -> None: ...

    @app.post("/cases", dependencies=[Depends(access.require("incidents.create"))])
    def create() -> None: ...

    @app.get("/cases", dependencies=[Depends(access.read())])
    def read() -> None: ...

    return app


def _scope(method: str, path: str) -> dict[str, object]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _oracle(app: FastAPI, scope: dict[str, object]) -> set[str]:
    for route in app.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL and hasattr(route, "dependant"):
            return route_permissions(route)
    return set()


def test_permissions_per_path_match_the_routes_past_the_bound(monkeypatch):
    monkeypatch.setattr(guard, "PATHS_KEPT", 3)
    app = _app()
    body_guard = BodyGuard(app, access=lambda: None, routes=lambda: app.routes)  # type: ignore[arg-type,return-value]
    requests = [("POST", f"/cases/{i % 7}") for i in range(20)]
    requests += [("POST", "/cases"), ("GET", "/cases"), ("POST", "/nowhere"), ("PUT", "/cases")]
    for method, path in requests * 2:
        scope = _scope(method, path)
        assert body_guard.permissions(scope) == _oracle(app, scope), (method, path)
        assert len(body_guard._by_path) <= 3
    assert body_guard.permissions(_scope("POST", "/cases")) == {"incidents.create"}


def test_a_route_added_later_is_matched(monkeypatch):
    app = _app()
    listed: list[list[object]] = [list(app.routes)]
    body_guard = BodyGuard(app, access=lambda: None, routes=lambda: listed[0])  # type: ignore[arg-type,return-value]
    assert body_guard.permissions(_scope("POST", "/later")) == set()
    access = Access(KeyStore(Path("/nonexistent/keys.json")))

    @app.post("/later", dependencies=[Depends(access.require("incidents.create"))])
    def later() -> None: ...

    listed[0] = list(app.routes)  # the app's routes changed: a new list, as _routes_of gives
    assert body_guard.permissions(_scope("POST", "/later")) == {"incidents.create"}
