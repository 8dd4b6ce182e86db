"""Load test of the service API on loopback: single lookups, the trivial endpoint, batches.

Starts ``uvicorn api.app:create_app`` on a free loopback port over a fresh data
directory holding the demo boundaries (data/boundaries/zhengzhou-demo.gpkg),
then drives, in the same run:

* ``GET /healthz`` (the trivial endpoint: the baseline) and ``GET /v1/locate``
  for random points of the demo city, at several concurrencies, with ``wrk``
  (``apt-get install wrk``) for a fixed duration each: req/s, p50, p99;
* ``POST /v1/locate`` batches of 10,000 points (wrk again, 2, 4 and 8 in
  flight): JSON in and out (both layouts), float64 bodies with JSON or Arrow
  answers, with and without candidates: points/s.

Next to each rate it prints the server's CPU time per request (from /proc),
which stays meaningful when other work shares the machine.

Targets (issue 6): >= 2,000 lookups/s with p99 < 20 ms, >= 60 % of the
trivial endpoint's rate; issue 19: >= 2,000,000 points/s in batches with 2 workers.

    .venv/bin/python -m benchmarks.bench_service [--workers 2] [--duration 8]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import orjson
import shapely

from cityaware.api.testing import free_port
from cityaware.geo.boundaries.generations import BoundaryRegistry
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.resources import demo_boundaries

DEMO = demo_boundaries()
ADMIN_KEY = "ca_bench-Admin7Qx2Lr9Vn4Tk8Pz3Hc6Jd1"
BATCH = 10_000
ARROW = "application/vnd.apache.arrow.stream"


def prepare(data_dir: Path) -> np.ndarray:
    """Stage and activate the demo boundaries; return random points inside the city."""
    units = read_hierarchy_gpkg(DEMO)
    registry = BoundaryRegistry(data_dir / "boundaries")
    registry.activate(registry.stage(units, source=DEMO.name))
    districts = shapely.union_all(units[units["level"] == "district"].geometry.to_numpy())
    rng = np.random.default_rng(42)
    west, south, east, north = districts.bounds
    candidates = np.column_stack(
        [rng.uniform(west, east, 200_000), rng.uniform(south, north, 200_000)]
    )
    inside = shapely.contains_xy(districts, candidates[:, 0], candidates[:, 1])
    return candidates[inside]


def start_server(data_dir: Path, port: int, workers: int) -> subprocess.Popen:
    env = dict(os.environ, CITYAWARE_DATA_DIR=str(data_dir), CITYAWARE_ADMIN_KEY=ADMIN_KEY)
    command = [sys.executable, "-m", "uvicorn", "--factory", "cityaware.api.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(command, cwd=data_dir, env=env)


def warm_up(base: str, points: np.ndarray, workers: int) -> None:
    """Wait for the server, then make every worker build its locator."""
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=base, timeout=300) as client:
        while True:
            try:
                client.get("/healthz")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start within 120 s") from None
                time.sleep(0.2)
        body = batch_body(points[:BATCH])
        with ThreadPoolExecutor(workers * 4) as pool:
            for _ in range(3):
                list(pool.map(lambda p: client.get("/v1/locate", params=p), _params(points[:64])))
                list(pool.map(lambda _: post_batch(client, body), range(workers * 2)))


def _params(points: np.ndarray) -> list[dict]:
    return [{"lon": f"{x:.6f}", "lat": f"{y:.6f}", "crs": "WGS84"} for x, y in points]


def lua_script(path: Path, points: np.ndarray) -> Path:
    """A wrk script cycling through ``points`` (one GET /v1/locate each)."""
    queries = ",\n".join(f'"lon={x:.6f}&lat={y:.6f}&crs=WGS84"' for x, y in points)
    path.write_text(
        f"local q = {{\n{queries}\n}}\nlocal i = 0\n"
        "request = function()\n  i = i % #q + 1\n"
        '  return wrk.format("GET", "/v1/locate?" .. q[i])\nend\n'
    )
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def wrk(
    base: str, path: str, connections: int, seconds: int, script: Path | None, server: int
) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-s", str(script)] if script else []
    cpu_before = cpu_seconds(server)
    out = subprocess.run([*command, base + path], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server) - cpu_before
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    done = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
        "rps": rate,
        "cpu_us": cpu / max(done, 1) * 1e6,
        "p50": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def batch_body(points: np.ndarray) -> bytes:
    return orjson.dumps({"crs": "WGS84", "points": points.tolist()})


def post_batch(client: httpx.Client, body: bytes, layout: str = "records") -> None:
    answer = client.post(
        "/v1/locate",
        params={"layout": layout},
        content=body,
        headers={"Content-Type": "application/json"},
    )
    answer.raise_for_status()


# (name, Content-Type, Accept, query): the batch forms measured; binary bodies are
# float64 little-endian x, y pairs, Arrow answers an IPC stream (see api/service/locate.py).
BATCH_FORMS = (
    ("JSON -> JSON records", "application/json", "application/json", "layout=records"),
    ("JSON -> JSON columns", "application/json", "application/json", "layout=columns"),
    ("float64 -> JSON columns", "application/octet-stream", "application/json", "crs=WGS84"),
    ("float64 -> Arrow", "application/octet-stream", ARROW, "crs=WGS84"),
    ("float64 -> Arrow, no cand.", "application/octet-stream", ARROW, "crs=WGS84&candidates=false"),
)


def batch_script(
    path: Path, points: np.ndarray, content_type: str, accept: str, query: str, bodies: int = 4
) -> Path:
    """A wrk script POSTing ``bodies`` different 10,000-point batches in turn."""
    files = []
    for i in range(bodies):
        start = (i * BATCH) % (len(points) - BATCH)
        chunk = points[start : start + BATCH]
        body = path.with_name(f"{path.stem}-{i}.body")
        binary = content_type == "application/octet-stream"
        body.write_bytes(chunk.astype("<f8").tobytes() if binary else batch_body(chunk))
        files.append(f'"{body}"')
    path.write_text(
        f"local files = {{{', '.join(files)}}}\nlocal bodies = {{}}\n"
        "for k, name in ipairs(files) do\n"
        '  local f = io.open(name, "rb"); bodies[k] = f:read("*a"); f:close()\nend\n'
        f'local headers = {{["Content-Type"] = "{content_type}", ["Accept"] = "{accept}"}}\n'
        "local i = 0\nrequest = function()\n  i = i % #bodies + 1\n"
        f'  return wrk.format("POST", "/v1/locate?{query}", headers, bodies[i])\nend\n'
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", default="16,64", help="wrk concurrencies")
    parser.add_argument("--in-flight", default="2,4,8", help="batches in flight (wrk conns)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        data_dir = Path(tmp)
        points = prepare(data_dir)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(data_dir, port, args.workers)
        try:
            warm_up(base, points, args.workers)
            script = lua_script(data_dir / "locate.lua", points[:2000])
            print(
                f"uvicorn workers={args.workers}, {os.cpu_count()} cores, "
                f"wrk -t1, {args.duration} s per run"
            )
            print(
                f"{'endpoint':<16}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
                f"{'non-2xx':>9}{'server CPU us/req':>19}"
            )
            for connections in (int(c) for c in args.connections.split(",")):
                health = wrk(base, "/healthz", connections, args.duration, None, server.pid)
                locate = wrk(base, "/v1/locate", connections, args.duration, script, server.pid)
                for name, row in (("/healthz", health), ("/v1/locate", locate)):
                    print(
                        f"{name:<16}{connections:>6}{row['rps']:>10.0f}{row['p50']:>9.2f}"
                        f"{row['p99']:>9.2f}{row['errors']:>9}{row['cpu_us']:>19.0f}"
                    )
                print(
                    f"{'ratio':<16}{connections:>6}{locate['rps'] / health['rps']:>10.0%}"
                    f"{'':>27}{health['cpu_us'] / locate['cpu_us']:>19.0%}"
                )
            print(f"POST /v1/locate, {BATCH}-point batches (target: 2,000,000 points/s)")
            for k, (name, content_type, accept, query) in enumerate(BATCH_FORMS):
                script = batch_script(
                    data_dir / f"batch-{k}.lua", points, content_type, accept, query
                )
                for in_flight in (int(c) for c in args.in_flight.split(",")):
                    row = wrk(base, "/v1/locate", in_flight, args.duration, script, server.pid)
                    print(
                        f"  {name:<28}{in_flight:>2} in flight: "
                        f"{row['rps'] * BATCH:>11,.0f} points/s, p50 {row['p50']:.1f} ms, "
                        f"server CPU {row['cpu_us'] / 1e3:.1f} ms/batch "
                        f"(= {BATCH / row['cpu_us'] * 1e6:,.0f} points per CPU-second), "
                        f"non-2xx {row['errors']}"
                    )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
