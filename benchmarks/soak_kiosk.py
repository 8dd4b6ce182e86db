"""Endurance: the kiosk open for a long time under a steady stream of live events.

Serves a demo city, opens ``/map/kiosk?layout=overview`` in headless Chromium and
writes ``--rate`` incidents a second through the store (each one is a live event on
``/v1/events``) for ``--minutes``. Every ``--every`` seconds it collects garbage and
samples the tab's JS heap through the DevTools protocol (``Performance.getMetrics``:
``JSHeapUsedSize``, DOM nodes) and what the page has shown (events received, figure
refreshes, list rows, live markers). It prints the samples, the fitted heap growth
(least squares over the samples after the first fifth of the run, while the bounded
live markers, list and seen-event ids fill up) against the heap at that point (the
baseline of the same run, as a ratio), and asserts the heap has no growth trend (fitted
growth under ``MAX_GROWTH`` of the baseline, or under ``SLACK_MB``) and that the page
kept updating in every interval.

    .venv/bin/python -m benchmarks.soak_kiosk --minutes 30 --rate 10
    .venv/bin/python -m benchmarks.soak_kiosk --minutes 1 --scale 0.02   # a quick check
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from cityaware.api.testing import CHROMIUM, CHROMIUM_ARGS, ThreadedServer, demo_city

MAX_GROWTH = 0.10  # fitted heap growth over the run, as a share of the baseline
SLACK_MB = 2.0  # growth this small passes whatever the share (small heaps are noisy)
PAGE_STATE = (
    "({events: CityWall.eventsReceived, refreshes: CityKiosk.refreshes,"
    " rows: document.querySelectorAll('#kb-list li').length, markers: CityWall.markerCount(),"
    " first: (document.querySelector('#kb-list li') || {}).dataset?.id || ''})"
)


def write_events(ctx: Any, rate: float, stop: threading.Event, written: list[int]) -> None:
    """``rate`` incidents a second, spread over the city's extent, until ``stop``."""
    rng = np.random.default_rng(7)
    west, south, east, north = ctx.registry.units(level="district").total_bounds
    step, next_at = 1.0 / rate, time.monotonic()
    while not stop.is_set():
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        ctx.store.add("incidents", {"lon": lon, "lat": lat, "category": "noise", "title": "soak"})
        written[0] += 1
        next_at += step
        time.sleep(max(0.0, next_at - time.monotonic()))


def sample(cdp: Any, page: Any) -> dict[str, float]:
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    state = page.evaluate(PAGE_STATE)
    return {"heap_mb": metrics["JSHeapUsedSize"] / 1e6, "nodes": metrics["Nodes"], **state}


def trend(samples: list[dict[str, Any]], seconds: list[float]) -> tuple[float, float]:
    """(fitted heap growth over the run in MB, the baseline heap in MB), after warm-up."""
    skip = max(1, len(samples) // 5)  # the live markers and the seen-event ids fill up first
    t, heap = np.array(seconds[skip:]), np.array([s["heap_mb"] for s in samples[skip:]])
    slope = np.polyfit(t, heap, 1)[0] if len(t) >= 3 else 0.0
    return float(slope * (t[-1] - t[0])) if len(t) else 0.0, float(heap[0])


def soak(
    data_dir: Path, minutes: float, rate: float = 10.0, every_s: float = 5.0, scale: float = 0.02
) -> dict[str, Any]:
    """Run the soak; returns the samples, the fitted growth, the baseline and the verdicts."""
    from playwright.sync_api import sync_playwright

    ctx = demo_city(data_dir, cameras=int(130_000 * scale), sensors=int(210_000 * scale),
                    days=8, per_day=int(12_000 * scale))  # fmt: skip
    server = ThreadedServer(ctx)
    stop, written = threading.Event(), [0]
    samples, seconds = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.origin}/map/kiosk?layout=overview")
            page.wait_for_selector("body[data-live='1'][data-board]", timeout=60_000)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            writer = threading.Thread(target=write_events, args=(ctx, rate, stop, written))
            writer.start()
            started = time.monotonic()
            while time.monotonic() - started < minutes * 60:
                page.wait_for_timeout(every_s * 1000)
                seconds.append(time.monotonic() - started)
                samples.append(sample(cdp, page))
            stop.set()
            writer.join()
            browser.close()
    finally:
        stop.set()
        server.stop()
    growth, baseline = trend(samples, seconds)
    updating = all(b["events"] > a["events"] and b["first"] != a["first"]
                   for a, b in zip(samples, samples[1:], strict=False))  # fmt: skip
    bounded = growth < max(MAX_GROWTH * baseline, SLACK_MB)
    return {"samples": samples, "seconds": seconds, "written": written[0], "growth_mb": growth,
            "baseline_mb": baseline, "bounded": bounded, "updating": updating,
            "errors": errors}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10.0, help="live events a second")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--scale", type=float, default=0.02, help="share of the full demo city")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = soak(Path(tmp), args.minutes, args.rate, args.every, args.scale)
    for t, s in zip(result["seconds"], result["samples"], strict=True):
        print(f"{t:7.1f} s  heap {s['heap_mb']:6.2f} MB  nodes {s['nodes']:6.0f}  events "
              f"{s['events']:6d}  refreshes {s['refreshes']:4d}  rows {s['rows']:3d}  "
              f"markers {s['markers']:5d}")  # fmt: skip
    ratio = (result["baseline_mb"] + result["growth_mb"]) / result["baseline_mb"]
    print(f"{result['written']} events written in {args.minutes:g} min at {args.rate:g}/s; "
          f"heap baseline {result['baseline_mb']:.2f} MB, fitted growth "
          f"{result['growth_mb']:+.2f} MB (end/baseline ratio {ratio:.3f}); "
          f"bounded={result['bounded']} updating={result['updating']} "
          f"page errors={len(result['errors'])}")  # fmt: skip
    assert result["bounded"] and result["updating"] and not result["errors"], "soak failed"


if __name__ == "__main__":
    main()
