"""Benchmark ``year``: the API and the wall with a year of incidents against the 30-day demo.

Builds (once, cached outside the repo: :mod:`benchmarks.year_data`) two data
directories, the 30-day demo (the baseline) and ``--days`` of incidents (365: a year,
4.38 million), serves each in turn (``cityaware serve``, one worker) and measures
over loopback, for each, p50/p95 in ms of:

* ``/v1/regions/{district}/stats`` and the city's, over the last 30 days and over
  the whole span (``--days``);
* ``/v1/hotspots`` (defaults: the last 7 days against the 28 before);
* ``/collections/incidents/items`` with a bbox, the last 30 days and a CQL2 filter (the
  first page);
* an incidents tile right after one POST /v1/incidents (the densest z14 tile);
* the first tile with a new filter (window x status x category not asked before);
* the densest tiles cold (z12-z16 incidents and cameras, first request after start);

and the server's resident memory after start-up (steady) and its peak (VmHWM) at
the end. Each line prints the 30-day figure, the long one and their ratio (p95),
against the targets (p95 < 100 ms, memory < 1.5 GB).

    .venv/bin/python -m benchmarks.bench_year              # a year (builds once)
    .venv/bin/python -m benchmarks.bench_year --days 60    # quicker
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from benchmarks import year_data
from cityaware.api.testing import free_port, healthy
from cityaware.geo.store.taxonomy import DEFAULT_CATEGORIES
from cityaware.layers.service import WINDOWS
from cityaware.layers.tiles import TileBox, lonlat_to_mercator

ADMIN_KEY = "ca_bench-year-Admin7Qx2Lr9Vn4Tk8Pz3Hc6"
DISTRICT, CITY = "410105", "410100"
TARGET_MS, TARGET_GB = 100.0, 1.5
DAY_MS = 86_400_000
ITEMS_BBOX = "113.60,34.72,113.70,34.80"  # a part of the demo city's core


@contextmanager
def serve(data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``cityaware serve`` over ``data_dir`` on a free port (one worker)."""
    port = free_port()
    command = [sys.executable, "-m", "cityaware.api.cli", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir)]
    env = dict(os.environ, CITYAWARE_ADMIN_KEY=ADMIN_KEY)
    server = subprocess.Popen(command, cwd=data_dir, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while not healthy(base):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        yield server, base
    finally:
        server.terminate()
        server.wait(timeout=30)


def memory_gb(pid: int, field: str) -> float:
    """``VmRSS`` or ``VmHWM`` of ``pid`` in GB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    if response.status_code >= 400:
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return elapsed * 1000


def densest(data_dir: Path, z: int, n: int) -> list[tuple[int, int, int]]:
    """The ``n`` tiles at ``z`` with the most incidents of ``data_dir`` (its SQLite file)."""
    import sqlite3

    with sqlite3.connect(data_dir / "features.sqlite") as conn:
        frame = pd.read_sql(
            "SELECT lon, lat FROM features WHERE kind = 'incidents' AND fid % 7 = 0", conn
        )
    x, y = lonlat_to_mercator(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    world = TileBox.of(0, 0, 0)
    size = world.size / 2**z
    tx = np.floor((x - world.minx) / size).astype("int64")
    ty = np.floor((world.maxy - y) / size).astype("int64")
    tiles, counts = np.unique(np.column_stack([tx, ty]), axis=0, return_counts=True)
    best = np.argsort(-counts, kind="stable")[:n]
    return [(z, int(tiles[i, 0]), int(tiles[i, 1])) for i in best]


def measure(data_dir: Path, days: int, tiles: dict[int, list[tuple[int, int, int]]], n: int):
    """Every figure of one data directory: name -> list of ms (memory: GB)."""
    out: dict[str, list[float]] = {}
    with serve(data_dir) as (server, base), httpx.Client(base_url=base, timeout=600) as http:
        key = {"X-API-Key": ADMIN_KEY}
        http.get("/tiles/incidents/10/0/0.mvt")  # start-up work (snapshots, warm) begins
        time.sleep(5)
        out["memory steady (GB)"] = [memory_gb(server.pid, "VmRSS")]
        now = pd.Timestamp.now(tz="UTC")
        for span, label in ((30, "30 days"), (days, "all days")):
            since = (now - pd.Timedelta(days=span)).isoformat()
            for code, name in ((DISTRICT, "district"), (CITY, "city")):
                path = f"/v1/regions/{code}/stats"
                out[f"stats {name}, {label}"] = [
                    timed(lambda p=path, s=since: http.get(p, params={"datetime": f"{s}/..",
                                                                      "kind": "incidents"}))
                    for _ in range(n)
                ]  # fmt: skip
        out["hotspots"] = [timed(lambda: http.get("/v1/hotspots")) for _ in range(n)]
        month = (now - pd.Timedelta(days=30)).isoformat()
        items = {"bbox": ITEMS_BBOX, "datetime": f"{month}/..", "filter": "category = 'noise'"}
        out["items bbox+datetime+CQL2"] = [
            timed(lambda: http.get("/collections/incidents/items", params=items)) for _ in range(n)
        ]
        cold = []
        for z in (12, 14, 16):
            for _, x, y in tiles[z]:
                for layer in ("incidents", "cameras"):
                    cold.append(timed(lambda a=f"/tiles/{layer}/{z}/{x}/{y}.mvt": http.get(a)))
        out["densest tiles cold"] = cold
        combos = itertools.product(list(WINDOWS), ("open", "all"), ("", *DEFAULT_CATEGORIES))
        z, x, y = tiles[14][0]
        fresh = []
        for window, status, category in itertools.islice(combos, n):
            params = {"window": window, "status": status, "category": category}
            fresh.append(timed(lambda p=params: http.get(f"/tiles/incidents/{z}/{x}/{y}.mvt",
                                                         params=p)))  # fmt: skip
        out["tile, new filter"] = fresh
        after = []
        for i in range(n):
            body = {"category": "noise", "lon": 113.65 + i * 1e-4, "lat": 34.75, "crs": "WGS84"}
            http.post("/v1/incidents", json=body, headers=key).raise_for_status()
            after.append(timed(lambda: http.get(f"/tiles/incidents/{z}/{x}/{y}.mvt")))
        out["tile after a POST"] = after
        out["memory peak (GB)"] = [memory_gb(server.pid, "VmHWM")]
    return out


def report(base: dict[str, list[float]], long: dict[str, list[float]], days: int) -> None:
    print(f"{'what':30} {'30 days p50/p95':>18} {f'{days} days p50/p95':>20} {'ratio':>7}  target")
    for name, samples in base.items():
        if name.startswith("memory"):
            b, y = samples[0], long[name][0]
            print(f"{name:30} {b:18.2f} {y:20.2f} {y / b:7.2f}  < {TARGET_GB} GB"
                  f" {'ok' if y < TARGET_GB else 'MISSED'}")  # fmt: skip
            continue
        b50, b95 = np.percentile(samples, [50, 95])
        y50, y95 = np.percentile(long[name], [50, 95])
        verdict = "ok" if y95 < TARGET_MS else "MISSED"
        print(f"{name:30} {b50:8.1f}/{b95:8.1f} {y50:10.1f}/{y95:8.1f} {y95 / b95:7.2f}"
              f"  p95 < {TARGET_MS:.0f} ms {verdict}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days of incidents (365: a year)")
    parser.add_argument("--per-day", type=int, default=year_data.PER_DAY)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    baseline_dir = year_data.build(30, args.per_day)
    long_dir = year_data.build(args.days, args.per_day)
    print(f"data: {baseline_dir} and {long_dir} ({time.perf_counter() - started:.0f} s)")
    tiles = {z: densest(baseline_dir, z, 3) for z in (12, 14, 16)}
    base = measure(baseline_dir, 30, tiles, args.samples)
    long = measure(long_dir, args.days, tiles, args.samples)
    report(base, long, args.days)


if __name__ == "__main__":
    main()
