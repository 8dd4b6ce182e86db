"""In-process intake: N POST /v1/incidents through the ASGI app, CPU per POST and write-lock hold.

Builds a small demo city in a fresh data directory, then sends ``--posts`` incident POSTs
over ``--concurrency`` concurrent clients (httpx over the ASGI transport: no sockets, so the
figures are the app's own: routing, validation, the intake, the group commit). Prints POST/s,
CPU ms per POST (this process: event loop, worker threads and the commit thread), and from
the store's group writer: batches, jobs per batch, and how long the SQLite write lock was
held per batch and per job (``held``), with the longest hold.

    .venv/bin/python -m benchmarks.bench_intake_inproc [--posts 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from cityaware.api.app import create_app
from cityaware.api.testing import demo_city

ADMIN_KEY = "ca_bench-intake-admin-key-0123456789abcdef"


async def _post_all(app: object, posts: int, concurrency: int) -> list[int]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    headers = {"X-API-Key": ADMIN_KEY}
    statuses: list[int] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        numbers = iter(range(posts))

        async def one_client() -> None:
            for i in numbers:
                lon, lat = 113.60 + (i % 97) * 0.001, 34.72 + (i % 89) * 0.001
                body = {"category": "noise", "lon": lon, "lat": lat, "crs": "WGS84",
                        "title": f"bench {i}"}  # fmt: skip
                answer = await client.post("/v1/incidents", json=body, headers=headers)
                statuses.append(answer.status_code)

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return statuses


def _time_writes(writer: Any) -> list[float]:
    """Wrap the group writer's ``backend.write``: the seconds each write transaction held
    the lock (from holding it to its release), in a list the caller reads."""
    backend, holds = writer.backend, []
    write = backend.write

    @contextmanager
    def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with write(*args, **kwargs) as conn:
            start = time.perf_counter()
            yield conn
        holds.append(time.perf_counter() - start)  # only committed ones: the lock's work

    class Timed:
        def __getattr__(self, name: str) -> Any:
            return timed if name == "write" else getattr(backend, name)

    writer.backend = Timed()
    return holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--switch-interval", type=float, help="sys.setswitchinterval, seconds")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    with tempfile.TemporaryDirectory(prefix="cityaware-inproc-") as tmp:
        ctx = demo_city(Path(tmp), cameras=500, sensors=500, days=1, per_day=100,
                        admin_key=ADMIN_KEY)  # fmt: skip
        app = create_app(ctx=ctx)
        asyncio.run(_post_all(app, 50, 4))  # warm-up: engine, taxonomy, compiled statements
        writer = ctx.store.writer
        holds = _time_writes(writer)
        before = {n: getattr(writer, n, 0.0) for n in ("batches", "jobs", "held_s", "waited_s")}
        writer.held_max_s = 0.0
        holds.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        statuses = asyncio.run(_post_all(app, args.posts, args.concurrency))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = {n: getattr(writer, n, 0.0) - v for n, v in before.items()}
    hold, hold_max, commits = sum(holds), max(holds, default=0.0), len(holds)
    bad = sum(s >= 300 for s in statuses)
    print(f"{args.posts} POSTs, {args.concurrency} concurrent; load {os.getloadavg()[0]:.2f}")
    print(f"  POST/s {args.posts / wall:8.1f}   CPU/POST {cpu / args.posts * 1e3:6.2f} ms   "
          f"non-2xx {bad}")  # fmt: skip
    each, per_post = hold / max(commits, 1) * 1e3, hold / args.posts * 1e3
    print(f"  write transactions {commits}: write lock held {hold * 1e3:.1f} ms in all "
          f"({hold / wall * 100:.0f}% of the run), {each:.3f} ms each, "
          f"{per_post:.3f} ms per POST, longest {hold_max * 1e3:.2f} ms")  # fmt: skip
    if after["held_s"]:
        jobs, batches = after["jobs"], after["batches"]
        print(f"  batches {batches:.0f}, jobs/batch {jobs / batches:.2f}")
        held, waited = after["held_s"] * 1e3, after["waited_s"] * 1e3
        print(f"  write lock held {held:8.1f} ms in all = {held / wall / 10:.0f}% of the run; "
              f"per batch {held / batches:.3f} ms, per job {held / jobs:.3f} ms, longest "
              f"{writer.held_max_s * 1e3:.2f} ms; waited for it {waited:.1f} ms")  # fmt: skip
    else:
        print("  (this store's writer keeps no lock-hold counters)")


if __name__ == "__main__":
    main()
