"""How long a live write waits while a CLI bulk import runs (issue 13: target ~100 ms).

Builds a small demo city, writes ``--rows`` generated incidents to a CSV, starts a
server over it, then runs ``cityaware import incidents`` in a subprocess while three
clients go on, each one call after the other:

* the store: ``store.add`` from this process (a second process on the same file),
* HTTP: ``POST /v1/incidents`` to the server,
* read: ``GET /v1/incidents/{id}`` and a page of ``GET /v1/changes`` (store reads).

It prints the import's time and, per writer, the writes made, p50, p99 and the longest
wait during the import, beside the same writers for the same time with no import (the
baseline measured in this run) and the ratio.

    .venv/bin/python -m benchmarks.bench_import_stall [--rows 200000] [--scale 0.01]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from cityaware.api.testing import demo_city, server_process

ADMIN_KEY = "ca_bench-stall-admin-key-0123456789abcdefXYZ"
START_TIMEOUT_S = 600.0  # a shared, loaded machine: the server may take minutes to start


def incidents_csv(path: Path, rows: int, units) -> Path:
    """``rows`` incidents inside the city's grids' bounds (GCJ-free WGS84 points)."""
    minx, miny, maxx, maxy = units.total_bounds
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "lon": rng.uniform(minx, maxx, rows).round(6),
            "lat": rng.uniform(miny, maxy, rows).round(6),
            "category": rng.choice(["noise", "illegal_parking", "manhole_cover"], rows),
            "title": [f"import {i}" for i in range(rows)],
        }
    )
    frame.to_csv(path, index=False)
    return path


class Writer:
    """Calls ``write`` back to back in a thread (from :meth:`start` to :meth:`stop`),
    keeping each call's seconds."""

    def __init__(self, write: Callable[[int], None]) -> None:
        self.write, self.waits = write, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            self.write(i)
            self.waits.append(time.perf_counter() - started)
            i += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> list[float]:
        """Stop writing; the waits of the writes made."""
        self._stop.set()
        self._thread.join(timeout=60)
        return self.waits


def warm(url: str) -> None:
    """A few POSTs and locates first: the server's engine, indexes and caches are built
    before anything is timed."""
    with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_KEY}, timeout=600) as client:
        for _ in range(3):
            body = {"lon": 113.65, "lat": 34.76, "crs": "WGS84", "category": "noise"}
            client.post("/v1/incidents", json=body).raise_for_status()
            point = {"lon": 113.65, "lat": 34.76, "crs": "WGS84"}
            client.get("/v1/locate", params=point).raise_for_status()


def figures(waits: list[float]) -> dict[str, float]:
    ms = np.array(waits) * 1000
    return {"n": len(ms), "p50": np.percentile(ms, 50), "p99": np.percentile(ms, 99),
            "max": ms.max()}  # fmt: skip


def measure(store, url: str, job: Callable[[], object]) -> dict[str, dict[str, float]]:
    """The store and HTTP writers' figures while ``job`` runs."""
    headers = {"X-API-Key": ADMIN_KEY}
    client = httpx.Client(base_url=url, headers=headers, timeout=120)

    def store_write(i: int) -> None:
        store.add("incidents", {"lon": 113.65, "lat": 34.76, "category": "noise"})

    def http_write(i: int) -> None:
        body = {"lon": 113.65, "lat": 34.76, "crs": "WGS84", "category": "noise"}
        client.post("/v1/incidents", json=body).raise_for_status()

    seen = client.post("/v1/incidents", json={"lon": 113.65, "lat": 34.76, "crs": "WGS84",
                                              "category": "noise"}).json()["id"]  # fmt: skip

    def http_read(i: int) -> None:
        client.get(f"/v1/incidents/{seen}").raise_for_status()
        client.get("/v1/changes", params={"after": 0, "limit": 10}).raise_for_status()

    writers = {"store": Writer(store_write), "HTTP": Writer(http_write),
               "read": Writer(http_read)}  # fmt: skip
    for writer in writers.values():
        writer.start()
    job()
    waits = {name: writer.stop() for name, writer in writers.items()}
    client.close()
    return {name: figures(w) for name, w in waits.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--scale", type=float, default=0.01, help="of the full demo city")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-stall-") as tmp:
        data_dir = Path(tmp)
        ctx = demo_city(data_dir, int(130_000 * args.scale), int(210_000 * args.scale), 2, 500)
        source = incidents_csv(data_dir / "import.csv", args.rows, ctx.registry.units())
        store = ctx.store
        command = [sys.executable, "-m", "cityaware.api.cli", "import", "incidents",
                   str(source), "--crs", "WGS84", "--data-dir", str(data_dir)]  # fmt: skip
        env = {"CITYAWARE_ADMIN_KEY": ADMIN_KEY}
        with server_process(data_dir, env, start_timeout_s=START_TIMEOUT_S) as (_, url):
            warm(url)
            timing: dict[str, float] = {}

            def run_import() -> None:
                started = time.perf_counter()
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                               env={**os.environ, **env})  # fmt: skip
                timing["import"] = time.perf_counter() - started

            during = measure(store, url, run_import)
            idle = measure(store, url, lambda: time.sleep(min(timing["import"], 20)))
        print(f"import of {args.rows:,} rows: {timing['import']:.1f} s "
              f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")  # fmt: skip
        print(f"{'writer':<8}{'':<10}{'writes':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        for name in during:
            for label, result in (("no import", idle[name]), ("import", during[name])):
                r = result
                print(f"{name:<8}{label:<10}{r['n']:>8}{r['p50']:>9.1f}{r['p99']:>9.1f}"
                      f"{r['max']:>9.1f}")  # fmt: skip
            ratio = during[name]["max"] / max(idle[name]["max"], 1e-9)
            print(
                f"{name:<8}longest wait during the import = {ratio:.1f} x the longest without "
                f"(target ~100 ms: {'met' if during[name]['max'] <= 100 else 'MISSED'})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
