"""API keys: hashed storage, roles, 401/403 through HTTP, the keys CLI and public_read."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.cli import main
from cityaware.api.service.auth import KeyStore
from cityaware.api.settings import Settings
from cityaware.geo.errors import InvalidInput

INCIDENT = {"category": "noise", "lon": 113.605, "lat": 34.745, "crs": "WGS84"}


def test_keys_are_stored_only_as_sha256_digests(tmp_path):
    path = tmp_path / "api-keys.json"
    secret, key = KeyStore(path).create("ops", label="desk")
    text = path.read_text(encoding="utf-8")
    assert secret not in text
    stored = json.loads(text)["keys"][0]
    assert stored["sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert KeyStore(path).identify(secret) == key  # a fresh reader finds it
    assert KeyStore(path).identify(secret + "x") is None


def test_an_unknown_role_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="unknown role"):
        KeyStore(tmp_path / "k.json").create("superuser")


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-API-Key": "ca_not-a-key"}, 401)],
)
def test_writes_without_a_known_key_are_401(client, headers, status):
    answer = client.post("/v1/incidents", json=INCIDENT, headers=headers)
    assert answer.status_code == status and answer.json()["code"] == "Unauthorized"


def test_the_wrong_role_is_403(client, role_keys):
    gis = {"X-API-Key": role_keys["gis"]}
    answer = client.post("/v1/incidents", json=INCIDENT, headers=gis)
    assert answer.status_code == 403 and "gis" in answer.json()["description"]
    created = client.post(
        "/v1/incidents", json=INCIDENT, headers={"X-API-Key": role_keys["service"]}
    )
    path = f"/v1/incidents/{created.json()['id']}"
    service = {"X-API-Key": role_keys["service"]}
    assert client.patch(path, json={"status": "dispatched"}, headers=service).status_code == 403
    form = {"service_code": "noise", "lat": 34.745, "long": 113.605, "api_key": role_keys["gis"]}
    assert client.post("/open311/v2/requests.json", data=form).status_code == 403


def test_reads_need_a_key_when_public_read_is_off(staged_dir, tmp_path):
    app = create_app(
        Settings(
            data_dir=staged_dir, admin_key="ca_second-Admin7Qx2Lr9Vn4Tk8Pz3Hc6J", public_read=False
        )
    )
    client = TestClient(app)
    params = {"lon": 113.605, "lat": 34.745, "crs": "WGS84"}
    assert client.get("/v1/locate", params=params).status_code == 401
    assert client.get("/open311/v2/services.json").status_code == 401
    assert (
        client.get(
            "/v1/locate",
            params=params,
            headers={"X-API-Key": "ca_second-Admin7Qx2Lr9Vn4Tk8Pz3Hc6J"},
        ).status_code
        == 200
    )


def test_a_key_made_with_the_cli_opens_the_running_server(app, client, staged_dir, capsys):
    assert (
        main(
            [
                "keys",
                "create",
                "--role",
                "ops",
                "--label",
                "cli test",
                "--data-dir",
                str(staged_dir),
            ]
        )
        == 0
    )
    secret = capsys.readouterr().out.strip().splitlines()[0]
    created = client.post("/v1/incidents", json=INCIDENT, headers={"X-API-Key": secret})
    assert created.status_code == 201
    key_id = next(k.id for k in app.state.ctx.keys.keys() if k.label == "cli test")
    assert main(["keys", "revoke", key_id, "--data-dir", str(staged_dir)]) == 0
    assert (
        client.post("/v1/incidents", json=INCIDENT, headers={"X-API-Key": secret}).status_code
        == 401
    )


def test_serve_prints_a_generated_admin_key(monkeypatch, capsys):
    from cityaware.api.service.auth import ensure_admin_key

    monkeypatch.delenv("CITYAWARE_ADMIN_KEY", raising=False)
    settings = ensure_admin_key(Settings())
    assert settings.admin_key and settings.admin_key in capsys.readouterr().out
    given = "ca_given-Admin7Qx2Lr9Vn4Tk8Pz3Hc6Jd1"
    assert ensure_admin_key(Settings(admin_key=given)).admin_key == given


@pytest.mark.parametrize("weak", ["given", "ca_admin-key-for-tests", "a" * 64])
def test_a_short_or_repetitive_admin_key_is_refused_at_start(staged_dir, weak):
    from cityaware.api.service.auth import ensure_admin_key

    with pytest.raises(ValueError, match="CITYAWARE_ADMIN_KEY is too weak"):
        ensure_admin_key(Settings(admin_key=weak))
    with pytest.raises(ValueError, match="at least 32 random characters"):
        create_app(Settings(data_dir=staged_dir, admin_key=weak))
    env = {**os.environ, "CITYAWARE_ADMIN_KEY": weak, "CITYAWARE_DATA_DIR": str(staged_dir)}
    served = subprocess.run(
        [sys.executable, "-m", "cityaware.api.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode == 2 and "CITYAWARE_ADMIN_KEY is too weak" in served.stderr
