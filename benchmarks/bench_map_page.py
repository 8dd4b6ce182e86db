"""Benchmark: the map wall page at full demo scale in headless Chromium.

Builds the whole demo city in a temporary data directory (4,744 grids,
130,000 cameras, 210,000 sensors, 30 days of incidents at 12,000 a day, in the
embedded store), serves it with uvicorn and measures: time until the page is
interactive (counts loaded, live stream open, first vector features drawn), time
until the network is idle, the point
markers the browser holds, and the time a pan across the city takes to settle.
The same run loads ``/healthz`` in the same browser as a baseline page. A server
renders the city-wide tiles in the background when it starts; the first load races
that warm-up, the second (a new browser profile, no HTTP cache) comes after it.

    .venv/bin/python -m benchmarks.bench_map_page [--scale 1.0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cityaware.api.testing import CHROMIUM, CHROMIUM_ARGS, ThreadedServer, demo_city

VIEW = "10/34.75/113.65&layers=grids,incidents,sensors,cameras&window=24h"


def load(page, url: str) -> dict[str, float]:
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("body[data-ready='1'][data-live='1']", timeout=60_000)
    while not page.evaluate("CityWall.markerCount() > 0"):  # via DevTools: the CSP forbids
        page.wait_for_timeout(20)  # the eval that wait_for_function's in-page polling needs
    interactive = time.perf_counter() - started
    page.wait_for_load_state("networkidle", timeout=120_000)
    idle = time.perf_counter() - started
    slowest = page.evaluate(
        "performance.getEntriesByType('resource').sort((a, b) => b.duration - a.duration)"
        ".slice(0, 4).map(e => [e.name.split('/').slice(3).join('/'), Math.round(e.duration)])"
    )
    return {
        "slowest": slowest,
        "interactive_s": interactive,
        "idle_s": idle,
        "markers": page.evaluate("CityWall.markerCount()"),
        "features": page.evaluate("CityWall.featureCount()"),
    }


def report(label: str, result: dict) -> None:
    print(
        f"{label}: interactive {result['interactive_s']:.2f} s, network idle "
        f"{result['idle_s']:.2f} s, {result['markers']} point markers, "
        f"{result['features']} features in the browser; slowest requests (ms): "
        f"{result['slowest']}"
    )


def wait_for_warm_up(ctx, quiet_s: float = 3.0) -> float:
    """Seconds until the tile cache stops growing (the start-up warm-up is done)."""
    started = time.perf_counter()
    last, since = -1, time.perf_counter()
    while time.perf_counter() - since < quiet_s:
        tiles = ctx.map_layers.cache.stats()["tiles"]
        if tiles != last:
            last, since = tiles, time.perf_counter()
        time.sleep(0.2)
    return time.perf_counter() - started - quiet_s


def pan(page) -> float:
    started = time.perf_counter()
    for dx, dy in ((600, 0), (0, 400), (-600, 0), (0, -400)):
        page.evaluate(f"CityWall.map.panBy([{dx}, {dy}], {{animate: false}}) && null")
        page.wait_for_load_state("networkidle", timeout=60_000)
    return (time.perf_counter() - started) / 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full demo")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ctx = demo_city(
            Path(tmp),
            cameras=int(130_000 * args.scale),
            sensors=int(210_000 * args.scale),
            days=30,
            per_day=int(12_000 * args.scale),
        )
        counts = {k: ctx.store.count(k) for k in ("incidents", "cameras", "sensors")}
        print(f"demo city built in {time.perf_counter() - started:.0f} s: {counts}")
        server = ThreadedServer(ctx)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                t0 = time.perf_counter()
                page.goto(f"{server.origin}/healthz")
                print(f"baseline /healthz page: {time.perf_counter() - t0:.3f} s")
                report("right after the server started", load(page, f"{server.origin}/map#{VIEW}"))
                print(f"tile warm-up finished {wait_for_warm_up(ctx):.0f} s after the first load")
                page.close()
                page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
                report("new browser, warmed server", load(page, f"{server.origin}/map#{VIEW}"))
                print(f"pan by 600/400 px, until network idle: {pan(page):.2f} s per pan")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
