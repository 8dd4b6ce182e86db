"""Benchmark: the kiosk (``/map/kiosk``) with a year of incidents against the 30-day demo.

Issue 17, "Scale and endurance": with a year of incidents (4.4 million) and every
device, the kiosk is interactive within 3 s of a warm server, live items appear within
2 s, and the browser holds at most a few thousand markers. For each data directory
(the 30-day demo, the baseline, and ``--days`` of incidents, both built once and
cached outside the repo by :mod:`benchmarks.year_data`) it serves ``cityaware serve``,
warms it (one ``GET /v1/locate``, so the locator is built, and one kiosk load in a
throwaway browser context), then in a fresh context
(no HTTP cache) measures in headless Chromium at 1920x1080:

* interactive: navigation until the map is ready, the live stream open and the KPI
  panel filled (all eight figures);
* map idle: until the last request of the first view ends (tiles, figures; the event
  stream aside);
* live: ``POST /v1/incidents`` until the new case is a row of the kiosk's live list
  (``--posts`` times; median and worst), split into the POST's answer, the event's
  arrival in the browser and the row; ``--background R`` posts R more cases a second
  meanwhile (a busy hotline: events keep arriving while each one is timed);
* the kiosk's re-reads of ``/v1/dashboard`` a minute meanwhile (each event asks for
  one; the kiosk throttles them);
* the point markers and vector features the page holds;
* where the first view's time goes: when the first figures (``/v1/dashboard``), the grid
  counts and the first tile had arrived, the tiles asked for and the KiB transferred.

Each line prints the 30-day figure, the long one, their ratio and the target.

    .venv/bin/python -m benchmarks.bench_kiosk_year                 # a year (builds once)
    .venv/bin/python -m benchmarks.bench_kiosk_year --days 60       # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks import year_data
from benchmarks.bench_year import ADMIN_KEY, serve
from cityaware.api.testing import CHROMIUM, CHROMIUM_ARGS

KIOSK = "/map/kiosk?layout=overview"
VIEWPORT = {"width": 1920, "height": 1080}
TARGETS = {"interactive_s": 3.0, "live_p50_s": 2.0, "live_max_s": 2.0, "markers": 5000}
READY = (
    "document.body.dataset.ready === '1' && document.body.dataset.live === '1'"
    " && !!document.body.dataset.board"
    " && document.querySelectorAll('#kb-kpis [data-kpi]').length === 8"
)
LAST_REQUEST_MS = (
    "Math.max(0, ...performance.getEntriesByType('resource')"
    ".filter(e => !e.name.includes('/v1/events')).map(e => e.responseEnd))"
)


def wait_until(page: Any, expression: str, timeout_s: float = 120.0) -> None:
    """Poll ``expression`` in the page (the CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout_s:.0f} s: {expression}")
        page.wait_for_timeout(20)


# where the first view's time goes: when the first figures, grid counts and tile came in
PARTS = """(() => {
  const all = performance.getEntriesByType('resource'), end = (part) => {
    const e = all.find(e => e.name.includes(part)); return e ? e.responseEnd / 1000 : 0; };
  const tiles = all.filter(e => e.name.includes('/tiles/'));
  return {dashboard_s: end('/v1/dashboard?'), grid_counts_s: end('/grid-counts'),
          first_tile_s: tiles.length ? Math.min(...tiles.map(e => e.responseEnd)) / 1000 : 0,
          tiles: tiles.length, kib: all.reduce((n, e) => n + e.transferSize, 0) / 1024};
})()"""


def kiosk_load(browser: Any, origin: str, timeout_s: float = 120.0) -> tuple[Any, dict[str, float]]:
    """A fresh context's page on the kiosk: its interactive / idle seconds and the parts
    of :data:`PARTS` (seconds from navigation)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script("performance.setResourceTimingBufferSize(5000)")
    page = context.new_page()
    started = time.perf_counter()
    page.goto(origin + KIOSK)
    wait_until(page, READY, timeout_s)
    interactive = time.perf_counter() - started
    page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
    idle = page.evaluate(LAST_REQUEST_MS) / 1000
    return page, {"interactive_s": interactive, "idle_s": max(idle, interactive),
                  **page.evaluate(PARTS)}  # fmt: skip


ARRIVALS = """(() => {
  window.benchArrivals = {};
  const note = (e) => { window.benchArrivals[JSON.parse(e.data).id] = Date.now(); };
  CityWall.source.addEventListener("incident", note);
})()"""


def random_case(rng: np.random.Generator) -> dict[str, Any]:
    """A noise case somewhere in the demo city's core."""
    west, south, east, north = 113.55, 34.70, 113.75, 34.82
    return {"lon": rng.uniform(west, east), "lat": rng.uniform(south, north),
            "category": "noise", "crs": "WGS84"}  # fmt: skip


@contextlib.contextmanager
def background_posts(origin: str, per_second: float) -> Iterator[None]:
    """POST ``per_second`` cases a second in a thread while the block runs."""
    stop = threading.Event()

    def post() -> None:
        rng = np.random.default_rng(5)
        with httpx.Client(base_url=origin, timeout=60) as http:
            while not stop.wait(1 / per_second):
                http.post("/v1/incidents", json=random_case(rng), headers={"X-API-Key": ADMIN_KEY})

    thread = threading.Thread(target=post, daemon=True)
    if per_second > 0:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if per_second > 0:
            thread.join()


def live_latency(page: Any, origin: str, posts: int) -> dict[str, list[float]]:
    """Seconds from each POST until its case is a row of the live list, split into the
    POST's answer (the commit), the event's arrival in the browser and the row."""
    rng = np.random.default_rng(11)
    split: dict[str, list[float]] = {"live": [], "post": [], "event": [], "row": []}
    page.evaluate(ARRIVALS)
    with httpx.Client(base_url=origin, timeout=60) as http:
        for _ in range(posts):
            body = random_case(rng)
            started, wall = time.perf_counter(), time.time()
            answer = http.post("/v1/incidents", json=body, headers={"X-API-Key": ADMIN_KEY})
            answered = time.perf_counter() - started
            if answer.is_error:
                raise SystemExit(f"POST /v1/incidents: {answer.status_code} {answer.text}")
            case = answer.json()["id"]
            wait_until(page, f"!!document.querySelector('#kb-list li[data-id=\"{case}\"]')", 60)
            total = time.perf_counter() - started
            arrived = page.evaluate(f"window.benchArrivals[{case!r}] || 0") / 1000 - wall
            split["live"].append(total)
            split["post"].append(answered)
            split["event"].append(max(0.0, arrived - answered))  # answered -> in the browser
            split["row"].append(max(0.0, total - arrived))  # in the browser -> row seen
            page.wait_for_timeout(300)
    return split


def warm_locator(origin: str) -> None:
    """One ``GET /v1/locate``: the server builds the active generation's locator (tens of
    seconds on a cold start), which the first timed POST would otherwise wait for."""
    with httpx.Client(base_url=origin, timeout=900) as http:
        point = {"lon": 113.65, "lat": 34.76, "crs": "WGS84"}
        answer = http.get("/v1/locate", params=point, headers={"X-API-Key": ADMIN_KEY})
        if answer.is_error:
            raise SystemExit(f"GET /v1/locate: {answer.status_code} {answer.text}")


def measure(data_dir: Path, posts: int, background: float = 0.0) -> dict[str, float]:
    """The kiosk figures over one data directory (see the module doc)."""
    from playwright.sync_api import sync_playwright

    with serve(data_dir) as (_, origin), sync_playwright() as p:
        warm_locator(origin)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm, _ = kiosk_load(browser, origin, 900)  # the server's caches (a cold start is slow)
        warm.context.close()
        page, figures = kiosk_load(browser, origin)
        reads, started = page.evaluate("CityKiosk.refreshes"), time.perf_counter()
        with background_posts(origin, background):
            split = live_latency(page, origin, posts)
        reads = page.evaluate("CityKiosk.refreshes") - reads
        figures["dashboard_reads_per_min"] = 60 * reads / (time.perf_counter() - started)
        live = split.pop("live")
        figures |= {
            "live_p50_s": float(np.median(live)),
            "live_max_s": max(live),
            **{f"live_{part}_p50_s": float(np.median(v)) for part, v in split.items()},
            "markers": page.evaluate("CityWall.markerCount()"),
            "features": page.evaluate("CityWall.featureCount()"),
        }
        browser.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="the long span (365: a year)")
    parser.add_argument("--per-day", type=int, default=year_data.PER_DAY)
    parser.add_argument("--posts", type=int, default=5, help="live items timed")
    parser.add_argument("--background", type=float, default=0.0, help="more cases a second")
    args, _ = parser.parse_known_args(argv)  # bench.sh passes bench_year's flags too
    dirs = {span: year_data.build(span, args.per_day) for span in (30, args.days)}
    for span, path in dirs.items():
        print(f"{span} days: {path} ({(path / 'built').read_text().strip()})")
    results = {span: measure(path, args.posts, args.background) for span, path in dirs.items()}
    short, long = results[30], results[args.days]
    print(f"load average {os.getloadavg()[0]:.1f}")
    names = ("interactive_s", "dashboard_s", "grid_counts_s", "first_tile_s", "tiles", "kib",
             "idle_s", "live_p50_s", "live_max_s", "live_post_p50_s",
             "live_event_p50_s", "live_row_p50_s", "dashboard_reads_per_min", "markers",
             "features")  # fmt: skip
    for name in names:
        target = TARGETS.get(name)
        verdict = "" if target is None else (" met" if long[name] <= target else " MISSED")
        ratio = long[name] / short[name] if short[name] else float("nan")
        print(
            f"kiosk {name}: 30 days {short[name]:,.2f}, {args.days} days {long[name]:,.2f}"
            f" (ratio {ratio:.2f})"
            + ("" if target is None else f"; target <= {target:g}")
            + verdict
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
