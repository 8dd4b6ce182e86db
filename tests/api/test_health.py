from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.settings import Settings


def test_healthz_answers_ok(tmp_path):
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_path_is_a_json_404(tmp_path):
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    response = client.get("/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"
