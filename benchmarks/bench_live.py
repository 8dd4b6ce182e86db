"""The live city under load: readings with alarms, positions with fences, event latency.

Builds the demo city (``--sensors`` sensors) in a fresh data directory, starts the
server in its own process on loopback and measures, in the same run:

* ``POST /v1/readings``: batches of 10,000 readings (distinct sensors; about 0.05 % past
  a threshold, so alarms open, stay and clear, each opening one incident) -> readings/s
  and p50/p99 per batch;
  baseline: the same batch refused after parsing (its last reading is in the future),
  i.e. HTTP + JSON + validation only; and ``GET /healthz``;
* ``POST /v1/positions``: batches of 10,000 positions of moving workers, first with no
  fence (the baseline), then with ``--fences`` region fences on random grids;
* event latency from the write's start to the webhook's arrival (a receiver on
  loopback) and to the ``/v1/events`` SSE stream: p50/p99 over ``--events`` writes.

Printed beside Tile38's published figures (README "Anchors": about 22k SET/s with its
append-only file; SET falling to about 6k/s at 23k fences).

    .venv/bin/python -m benchmarks.bench_live [--sensors 20000] [--batches 6] [--fences 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import orjson

from cityaware.api.testing import demo_city, server_process
from cityaware.geo.live.alarms import Threshold
from cityaware.geo.store.times import now_ms

ADMIN_KEY = "ca_bench-live-admin-4f9Q2xK7mZ8pL3wT6vR1"
HEADERS = {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"}
BATCH = 10_000
TILE38 = "Tile38 (published): SET ~22,000/s with AOF; ~6,000/s at 23,000 fences (issue #491)"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"


def timed_posts(client: httpx.Client, path: str, bodies: list[bytes], ok: int) -> list[float]:
    seconds = []
    for body in bodies:
        started = time.perf_counter()
        answer = client.post(path, content=body, headers=HEADERS)
        seconds.append(time.perf_counter() - started)
        if answer.status_code != ok:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
    return seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, limit_s: float = 600.0) -> float:
    """Wait until the server's start-up work (map tiles warmed in a thread) is done: until
    it uses under 5 % of a core for a second. Returns the seconds waited."""
    started = time.monotonic()
    used = cpu_seconds(pid)
    while time.monotonic() - started < limit_s:
        time.sleep(1.0)
        now = cpu_seconds(pid)
        if now - used < 0.05:
            break
        used = now
    return time.monotonic() - started


def reading_bodies(sensors: list[str], batches: int, rng: np.random.Generator) -> list[bytes]:
    """Batches of one reading per sensor, a minute apart, ending a minute ago."""
    start = now_ms() - (batches + 1) * 60_000
    bodies = []
    for b in range(batches):
        chosen = rng.choice(len(sensors), size=min(BATCH, len(sensors)), replace=False)
        values = rng.normal(0.0, 1.0, len(chosen))
        at = iso(start + b * 60_000)
        readings = [
            {"sensor": sensors[i], "value": round(float(v), 3), "at": at, "unit": "m"}
            for i, v in zip(chosen.tolist(), values, strict=True)
        ]
        bodies.append(orjson.dumps({"readings": readings}))
    return bodies


def first_readings(sensors: list[str], minutes_ago: int) -> list[bytes]:
    """Warm-up: one reading of every sensor ``minutes_ago`` (each goes online, as in the
    steady state the batches then measure), in batches."""
    at = iso(now_ms() - minutes_ago * 60_000)
    return [
        orjson.dumps({"readings": [{"sensor": s, "value": 0.0, "at": at} for s in chunk]})
        for chunk in (sensors[i : i + BATCH] for i in range(0, len(sensors), BATCH))
    ]


def position_bodies(grids: np.ndarray, batches: int, n: int, rng: np.random.Generator) -> list:
    """Random walks of n workers (about 50 m a step) over the grid centroids' area."""
    start = now_ms() - (batches + 1) * 10_000
    origin = grids[rng.integers(0, len(grids), n)]
    bodies = []
    for b in range(batches):
        step = origin + rng.normal(0, 0.0005, origin.shape) * (b + 1)
        items = [
            {
                "id": f"w{i}",
                "kind": "worker",
                "lon": float(x),
                "lat": float(y),
                "crs": "WGS84",
                "at": iso(start + b * 10_000),
            }
            for i, (x, y) in enumerate(step)
        ]
        bodies.append(orjson.dumps({"positions": items}))
    return bodies


class Arrivals:
    """When each fence event id arrived (webhook receiver and SSE reader)."""

    def __init__(self) -> None:
        self.webhook: dict[int, float] = {}
        self.sse: dict[int, float] = {}
        arrivals = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event = json.loads(body)
                if event["type"].startswith("fence."):
                    arrivals.webhook.setdefault(event["data"]["id"], time.perf_counter())
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def follow_sse(self, url: str) -> None:
        self.client = httpx.Client(timeout=None)

        def read() -> None:
            try:
                with self.client.stream("GET", url + "/v1/events") as stream:
                    kind = ""
                    for line in stream.iter_lines():
                        if line.startswith("event: "):
                            kind = line[7:]
                        elif line.startswith("data: ") and kind.startswith("fence-"):
                            self.sse.setdefault(json.loads(line[6:])["id"], time.perf_counter())
            except (httpx.HTTPError, RuntimeError):  # the stream ends with the server
                return

        threading.Thread(target=read, daemon=True).start()

    def close(self) -> None:
        """Drop the SSE connection (the server then shuts down at once) and the receiver."""
        try:
            self.client.close()
        except RuntimeError:  # closed under the reading thread
            pass
        self.server.shutdown()


def latency(
    client: httpx.Client,
    url: str,
    inside: tuple[float, float],
    outside: tuple[float, float],
    events: int,
) -> tuple[list[float], list[float]]:
    """Write positions that enter and leave fences; time each event's arrival."""
    arrivals = Arrivals()
    hook = {"url": arrivals.url, "events": ["fence.*"]}
    assert client.post("/v1/hooks", json=hook, headers=HEADERS).status_code == 201
    arrivals.follow_sse(url)
    time.sleep(1.0)  # the SSE stream is open
    webhook, sse = [], []
    start = now_ms() - events * 1000 - 60_000
    for n in range(events):
        lon, lat = inside if n % 2 == 0 else outside
        body = {
            "positions": [
                {
                    "id": "probe",
                    "kind": "probe",
                    "lon": lon,
                    "lat": lat,
                    "crs": "WGS84",
                    "at": iso(start + n * 1000),
                }
            ]
        }
        started = time.perf_counter()
        answer = client.post("/v1/positions", json=body, headers=HEADERS)
        if answer.status_code != 200:
            raise SystemExit(f"/v1/positions: {answer.status_code} {answer.text[:300]}")
        ids = [e["id"] for e in answer.json()["events"]]
        deadline = time.monotonic() + 10
        while not all(i in arrivals.webhook and i in arrivals.sse for i in ids):
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
        webhook += [arrivals.webhook[i] - started for i in ids if i in arrivals.webhook]
        sse += [arrivals.sse[i] - started for i in ids if i in arrivals.sse]
    arrivals.close()
    return webhook, sse


def bench_readings(client: httpx.Client, sensors: list[str], batches: int, pid: int) -> None:
    """Readings/s with alarm evaluation beside the same batches refused after parsing; and
    the server's CPU per batch (user + system: a figure the machine's load does not move)."""
    bodies = reading_bodies(sensors, batches + 1, np.random.default_rng(14))
    timed_posts(client, "/v1/readings", first_readings(sensors, batches + 3), 200)
    used = cpu_seconds(pid)
    seconds = timed_posts(client, "/v1/readings", bodies[1:], 200)
    cpu = (cpu_seconds(pid) - used) / len(seconds)
    n = sum(len(orjson.loads(b)["readings"]) for b in bodies[1:])
    refused = []
    for body in bodies[1:]:
        payload = orjson.loads(body)
        payload["readings"][-1]["at"] = iso(now_ms() + 3_600_000)
        refused.append(orjson.dumps(payload))
    used = cpu_seconds(pid)
    base = timed_posts(client, "/v1/readings", refused, 400)
    base_cpu = (cpu_seconds(pid) - used) / len(base)
    healthz = []
    for _ in range(100):
        started = time.perf_counter()
        client.get("/healthz")
        healthz.append(time.perf_counter() - started)
    alarms = client.get("/v1/alarms?limit=10000").json()["alarms"]
    rate, base_rate = n / sum(seconds), n / sum(base)
    print(
        f"\nreadings: {rate:,.0f} readings/s with alarm evaluation "
        f"({percentiles(seconds)} per 10,000-reading batch; {len(alarms)} alarms)"
    )
    print(
        f"  baseline, same batches refused after parsing: {base_rate:,.0f} readings/s"
        f" ({percentiles(base)}); ratio {rate / base_rate:.2f}"
    )
    print(
        f"  server CPU per batch: {cpu * 1000:.0f} ms written, {base_cpu * 1000:.0f} ms refused"
        f" after parsing; ratio {cpu / base_cpu:.1f}"
    )
    print(f"  GET /healthz: {len(healthz) / sum(healthz):,.0f} req/s sequential")
    print(f"  target (issue 14): >= 50,000 readings/s; load average {load_average()}")


def load_average() -> str:
    """The 1-minute load average (the machine is shared: state it beside every figure)."""
    return f"{os.getloadavg()[0]:.1f}"


def bench_positions(
    client: httpx.Client, centres: np.ndarray, fence_codes: np.ndarray, args: argparse.Namespace
) -> None:
    """Positions/s with ``--fences`` region fences beside the same without a fence."""
    rng = np.random.default_rng(15)
    moves = position_bodies(centres, args.batches + 1, args.workers, rng)
    timed_posts(client, "/v1/positions", moves[:1], 200)
    bare = timed_posts(client, "/v1/positions", moves[1:3], 200)
    for code in fence_codes:
        body = {"id": f"f-{code}", "region": code, "detect": ["enter", "exit"], "min_distance_m": 5}
        assert client.post("/v1/fences", json=body, headers=HEADERS).status_code == 201
    fenced = timed_posts(client, "/v1/positions", moves[3:], 200)
    per = args.workers
    bare_rate = per * len(bare) / sum(bare)
    fenced_rate = per * len(fenced) / sum(fenced)
    print(
        f"\npositions: {fenced_rate:,.0f} positions/s with {len(fence_codes):,} fences "
        f"({percentiles(fenced)} per {per:,}-position batch)"
    )
    print(
        f"  baseline, no fence: {bare_rate:,.0f} positions/s; ratio {fenced_rate / bare_rate:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sensors", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--fences", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=10_000, help="moving objects")
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument(
        "--parts",
        default="readings,positions,latency",
        help="comma-separated: readings, positions, latency (default: all)",
    )
    parser.add_argument(
        "--sustained",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="instead: readings at --rate for SECONDS under locate and map-wall traffic",
    )
    parser.add_argument("--rate", type=float, default=3500.0, help="sustained readings/s")
    parser.add_argument("--batch-every", type=float, default=1.0, help="sustained batch interval")
    parser.add_argument(
        "--alone", action="store_true", help="sustained without the readers (its baseline)"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    rng = np.random.default_rng(14)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        print(f"building the demo city with {args.sensors:,} sensors ...", flush=True)
        ctx = demo_city(
            data_dir, cameras=100, sensors=args.sensors, days=1, per_day=10, admin_key=ADMIN_KEY
        )
        sensors = ctx.store.feature_frame("sensors", ["id", "device_kind"]).rows
        for kind in sorted(set(sensors["device_kind"].dropna())):
            ctx.readings.set_threshold("kind", kind, Threshold(max=3.3, band=0.2), now_ms())
        grids = ctx.registry.units(level="grid")
        points = grids.geometry.representative_point()
        centres = np.column_stack([points.x, points.y])
        fence_codes = grids["code"].to_numpy()[rng.permutation(len(grids))[: args.fences]]
        probes = [
            grids[grids["code"] == code].geometry.iloc[0].representative_point()
            for code in fence_codes[:2]
        ]
        ctx.store.close()
        env = {
            "CITYAWARE_ADMIN_KEY": ADMIN_KEY,  # the latency part times a 20 ms worker round
            "CITYAWARE_WORKER_INTERVAL_S": "0.2" if args.sustained else "0.02",
            "CITYAWARE_ALARM_SYNC_S": "60",
        }
        with (
            server_process(data_dir, env) as (process, url),
            httpx.Client(base_url=url, timeout=120) as client,
        ):
            print(f"server idle after {settle(process.pid):.0f} s (start-up warm-up)")
            if args.sustained:
                from benchmarks.live_sustained import sustained

                sustained(url, HEADERS, sensors["id"].tolist(), centres, args)
            if "readings" in parts and not args.sustained:
                bench_readings(client, sensors["id"].tolist(), args.batches, process.pid)
            if "positions" in parts and not args.sustained:
                bench_positions(client, centres, fence_codes, args)
            if "latency" in parts and not args.sustained:
                inside, outside = ((p.x, p.y) for p in probes)
                webhook, sse = latency(client, url, inside, outside, args.events)
                print(
                    f"\nevent latency over {args.events} fence events (worker polls every 20 ms):"
                )
                print(f"  write -> webhook: {percentiles(webhook)} ({len(webhook)} arrived)")
                print(
                    f"  write -> SSE /v1/events: {percentiles(sse)} ({len(sse)} arrived; "
                    "the stream polls every 0.4 s)"
                )
            print(f"\n{TILE38}")
            process.kill()  # an open event stream would hold a graceful shutdown
            process.wait()


if __name__ == "__main__":
    main()
