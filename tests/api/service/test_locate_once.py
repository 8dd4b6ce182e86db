"""An incident POST locates its point exactly once, given by coordinates or by address: a
wrapping Locator counts the engine calls made while the POST runs."""

from __future__ import annotations

from typing import Any

import pytest

from cityaware.geo.engine.protocol import Locator

LOCATING = ("locate", "locate_many", "locate_lonlat")


class CountingLocator:
    """A real locator that counts its locate calls."""

    def __init__(self, inner: Locator, calls: list[str]) -> None:
        self._inner, self._calls = inner, calls
        self.generation = inner.generation

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in LOCATING:
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(name)
            return value(*args, **kwargs)

        return counted


@pytest.fixture
def calls(app, client, monkeypatch) -> list[str]:
    """The locate calls made from now on through the server's locators."""
    ctx = app.state.ctx
    ctx.gazetteer.current()  # built before counting (building locates every address point)
    made: list[str] = []
    real_get = ctx.locators.get
    monkeypatch.setattr(ctx.locators, "get", lambda g: CountingLocator(real_get(g), made))
    assert isinstance(ctx.locator, Locator)
    return made


@pytest.mark.parametrize(
    "where",
    [
        {"lon": 113.605, "lat": 34.745, "crs": "WGS84"},
        {"lon": 113.611, "lat": 34.752, "crs": "GCJ02"},
        {"address": "金水区街道1社区1网格1-2"},
    ],
)
def test_every_incident_post_locates_once(client, role_keys, calls, where):
    headers = {"X-API-Key": role_keys["service"]}
    response = client.post("/v1/incidents", json={"category": "noise", **where}, headers=headers)
    assert response.status_code == 201, response.text
    assert calls == ["locate"]
    assert response.json()["grid"]["code"]
