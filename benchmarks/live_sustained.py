"""``bench_live --sustained SECONDS``: readings at a steady rate while the city is in use.

Every ``--batch-every`` seconds one batch of ``--rate x --batch-every`` readings goes to
``POST /v1/readings`` (the sensors in turn, each reading stamped with the clock: with
``rate x 60`` sensors every sensor reports once a minute), while two readers run on their
own connections (not with ``--alone``, the baseline): locate traffic (``GET /v1/locate``
of random points, back to back with a short pause) and a map-wall-like reader
(``GET /v1/dashboard`` and the city's ``incidents``/``sensors`` tiles at zoom 12, about
once a second). Printed: the achieved reading rate, p50/p99 per batch (issue 14: p99
under 100 ms), how many batches overran their slot, and the readers' request rates and
latencies in the same run.
"""

from __future__ import annotations

import argparse
import math
import threading
import time

import httpx
import numpy as np
import orjson

from benchmarks.bench_live import iso, load_average, percentiles
from cityaware.geo.store.times import now_ms

LOCATE_PAUSE_S = 0.01
WALL_EVERY_S = 1.0
WALL_ZOOM = 12


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The web-mercator tile (x, y) holding a point at zoom ``z``.

    >>> tile_of(0.0, 0.0, 1)
    (1, 1)
    """
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


class Reader(threading.Thread):
    """Repeats ``paths()`` GETs until stopped, timing each request."""

    def __init__(self, url: str, headers: dict[str, str], paths, pause: float) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.paths, self.pause = url, headers, paths, pause
        self.seconds: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60, headers=self.headers) as client:
            while not self.stop.is_set():
                for path in self.paths():
                    started = time.perf_counter()
                    status = client.get(path).status_code
                    self.seconds.append(time.perf_counter() - started)
                    self.errors += status >= 400
                self.stop.wait(self.pause)

    def report(self, name: str, elapsed: float) -> None:
        rate = len(self.seconds) / elapsed
        print(
            f"  {name}: {len(self.seconds):,} GETs, {rate:,.1f}/s, {percentiles(self.seconds)}"
            f" ({self.errors} errors)"
        )


def sustained(
    url: str,
    headers: dict[str, str],
    sensors: list[str],
    centres: np.ndarray,
    args: argparse.Namespace,
) -> None:
    """Run the sustained mode (see the module doc) and print its figures."""
    rng = np.random.default_rng(16)
    per_batch = max(1, round(args.rate * args.batch_every))
    read_headers = {"X-API-Key": headers["X-API-Key"]}
    lon, lat = centres.mean(axis=0)
    cx, cy = tile_of(float(lon), float(lat), WALL_ZOOM)
    tiles = [
        f"/tiles/{layer}/{WALL_ZOOM}/{cx + dx}/{cy + dy}.mvt"
        for layer in ("incidents", "sensors")
        for dx in (-1, 0, 1)
        for dy in (-1, 0)
    ]

    def locate_paths() -> list[str]:
        x, y = centres[rng.integers(len(centres))] + rng.normal(0, 0.0005, 2)
        return [f"/v1/locate?lon={x:.6f}&lat={y:.6f}&crs=WGS84"]

    locate = Reader(url, read_headers, locate_paths, LOCATE_PAUSE_S)
    wall = Reader(url, read_headers, lambda: ["/v1/dashboard", *tiles], WALL_EVERY_S)
    print(
        f"\nsustained: {args.rate:,.0f} readings/s for {args.sustained:.0f} s in batches of "
        f"{per_batch:,} every {args.batch_every:g} s over {len(sensors):,} sensors (each "
        f"reports every {len(sensors) / args.rate:.0f} s; once a minute needs "
        f"{args.rate * 60:,.0f}), {'alone' if args.alone else 'with locate and map-wall readers'}"
        f"; load {load_average()}"
    )
    if not args.alone:
        locate.start()
        wall.start()
    seconds: list[float] = []
    sent, late, cursor = 0, 0, 0
    with httpx.Client(base_url=url, timeout=120) as client:
        started = time.monotonic()
        slot = started
        while slot - started < args.sustained:
            chosen = [sensors[(cursor + i) % len(sensors)] for i in range(per_batch)]
            cursor += per_batch
            at = iso(now_ms())
            values = rng.normal(0.0, 1.0, per_batch).round(3).tolist()
            body = orjson.dumps(
                {
                    "readings": [
                        {"sensor": s, "value": v, "at": at}
                        for s, v in zip(chosen, values, strict=True)
                    ]
                }
            )
            posted = time.perf_counter()
            answer = client.post("/v1/readings", content=body, headers=headers)
            seconds.append(time.perf_counter() - posted)
            if answer.status_code != 200:
                raise SystemExit(f"/v1/readings: {answer.status_code} {answer.text[:300]}")
            sent += per_batch
            slot += args.batch_every
            pause = slot - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                late += 1
        elapsed = time.monotonic() - started
    for reader in (locate, wall):
        reader.stop.set()
        if reader.is_alive():
            reader.join()
    print(
        f"  readings: {sent / elapsed:,.0f} readings/s achieved (asked {args.rate:,.0f}); "
        f"{percentiles(seconds)} per {per_batch:,}-reading batch over {len(seconds)} batches;"
        f" {late} overran their slot; target p99 < 100 ms"
    )
    if args.alone:
        return
    locate.report("locate", elapsed)
    wall.report("map wall (dashboard + tiles)", elapsed)
    print(f"  load average at the end {load_average()}")
