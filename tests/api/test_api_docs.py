"""The API description pages work with no internet: every asset comes from our server."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.settings import Settings


def test_api_html_loads_only_our_own_assets(tmp_path):
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    page = client.get("/api.html")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    urls = [a or b for a, b in urls]
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    assert client.get("/static/swagger_ui/LICENSE").status_code == 200
