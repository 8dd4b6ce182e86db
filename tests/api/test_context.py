"""The server's shared state: warm-up builds the engine, store and gazetteer ahead of requests."""

from __future__ import annotations

import threading
import time

from cityaware.api.context import AppContext, shared_part, warm_up
from cityaware.api.settings import Settings
from cityaware.geo.boundaries.generations import BoundaryRegistry
from tests.api.service.conftest import synthetic_units


def test_warm_up_builds_what_the_first_request_needs(tmp_path):
    registry = BoundaryRegistry(tmp_path / "boundaries")
    registry.activate(registry.stage(synthetic_units(), source="synthetic"))
    ctx = AppContext(Settings(data_dir=tmp_path))

    warm_up(ctx)

    assert {"store", "geocoding", "gazetteer"} <= set(vars(ctx))
    assert (tmp_path / "features.sqlite").exists()
    answer = ctx.gazetteer.geocode("金水区")
    assert answer.to_dict()["candidates"][0]["code"] == "410105"


def test_warm_up_without_boundaries_does_nothing(tmp_path):
    ctx = AppContext(Settings(data_dir=tmp_path))
    warm_up(ctx)
    assert "gazetteer" not in vars(ctx)


def test_racing_threads_build_a_part_once(tmp_path):
    built = []

    class Counting(AppContext):
        @shared_part
        def slow_part(self):
            built.append(threading.get_ident())
            time.sleep(0.05)  # wide race window
            return object()

    ctx = Counting(Settings(data_dir=tmp_path))
    got = []
    threads = [threading.Thread(target=lambda: got.append(ctx.slow_part)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and len({id(part) for part in got}) == 1
