"""The demo city (small) with its real engine, gazetteer and classifier, over HTTP,
on each store backend (the embedded SQLite file and a PostGIS schema of its own).

The classifier is trained once per session into a shared cache and copied into each
data directory's cache (it is what the server would load from ``data_dir/cache``).
"""

from __future__ import annotations

import shutil
from contextlib import nullcontext

import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.demo.features import generate_demo_features
from cityaware.geo.hotline.classifier import TextClassifier
from cityaware.geo.resources import demo_boundaries
from cityaware.geo.store.taxonomy import TAXONOMY
from tests.postgis import schema_url

ADMIN = "ca_hotline-Admin4Rt8Yw2Qe6Uo1Pa9Sd3Fg7Hj5K"


@pytest.fixture(scope="session")
def classifier_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("classifier")
    TextClassifier.load_or_train(TAXONOMY, cache)
    return cache


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)]
)
def ctx(request, tmp_path_factory, classifier_cache):
    with schema_url("hotline") if request.param == "postgis" else nullcontext("") as url:
        context = _city(tmp_path_factory, classifier_cache, url)
        yield context
        context.store.close()


def _city(tmp_path_factory, classifier_cache, database_url):
    data_dir = tmp_path_factory.mktemp("hotline-city")
    shutil.copytree(classifier_cache, data_dir / "cache", dirs_exist_ok=True)
    ctx = AppContext(Settings(data_dir=data_dir, admin_key=ADMIN, database_url=database_url))
    # staged from the demo file, so the gazetteer has the demo's roads, compounds, landmarks
    generation = ctx.registry.stage(read_hierarchy_gpkg(demo_boundaries()),
                                    source=str(demo_boundaries()))  # fmt: skip
    ctx.registry.activate(generation)
    features = generate_demo_features(ctx.registry.units(), n_cameras=10, n_sensors=10, days=2,
                                      incidents_per_day=100)  # fmt: skip
    ctx.store.bulk_import("incidents", features["incidents"], strict=True)
    return ctx


@pytest.fixture(scope="session")
def client(ctx):
    with TestClient(create_app(ctx=ctx)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def gazetteer(ctx):
    return ctx.gazetteer.current()


def post(client, body):
    return client.post("/v1/incidents", json=body, headers={"X-API-Key": ADMIN})


def first_of_kind(gazetteer, kind, fits=lambda e: True):
    """The first gazetteer entry of ``kind`` in an urban district (4101xx, x < 8) whose
    name no other entry has."""
    counts: dict[str, int] = {}
    for entry in gazetteer.entries:
        counts[entry.name] = counts.get(entry.name, 0) + 1
    return next(
        e
        for e in gazetteer.entries
        if e.kind == kind and counts[e.name] == 1 and (e.district or "")[:5] == "41010" and fits(e)
    )
