"""The OGC filters, exports and region statistics on a real PostGIS store.

Runs when ``CITYAWARE_TEST_DATABASE_URL`` is set (scripts/test.sh starts a
throwaway cluster); each module run gets its own schema.
"""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from tests.api.ogc.conftest import populated, staged
from tests.api.ogc.test_items import CQL2_CASES
from tests.postgis import schema_url

pytestmark = pytest.mark.postgis


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    with schema_url("ogc") as url:
        context = populated(staged(tmp_path_factory.mktemp("pg")), url)
        assert context.store.backend_name == "postgis"
        yield context
        context.store.close()


@pytest.fixture(scope="module")
def client(ctx):
    return TestClient(create_app(ctx=ctx))


@pytest.mark.parametrize(("text", "oracle"), CQL2_CASES, ids=[c[0][:40] for c in CQL2_CASES])
def test_cql2_on_postgis_matches_pandas(client, records, text, oracle):
    expected = set(records[np.asarray(oracle(records), dtype=bool)].index)
    response = client.get("/collections/incidents/items", params={"filter": text, "limit": 100})
    assert response.status_code == 200, response.text
    assert {f["id"] for f in response.json()["features"]} == expected


def test_stats_and_export_on_postgis(client, records, tmp_path):
    body = client.get("/v1/regions/410105001/stats").json()
    inside = records[records.street_code == "410105001"]
    assert body["by_category"] == inside.category.value_counts().to_dict()
    assert body["closure_rate"] == pytest.approx(inside.status.isin(["resolved", "closed"]).mean())
    gpkg = client.get("/collections/incidents/export", params={"f": "gpkg", "status": "closed"})
    path = tmp_path / "closed.gpkg"
    path.write_bytes(gpkg.content)
    assert sorted(pyogrio.read_dataframe(path)["id"]) == sorted(
        records[records.status == "closed"].index
    )
