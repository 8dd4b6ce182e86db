"""Webhooks against a real receiving HTTP server on 127.0.0.1 that fails on purpose."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient

from cityaware.api.app import create_app
from cityaware.api.live_settings import LiveSettings
from cityaware.api.settings import Settings
from cityaware.api.testing import server_process
from cityaware.geo.boundaries.generations import BoundaryRegistry
from tests.api.service.conftest import ADMIN_KEY, synthetic_units

KEY = {"X-API-Key": ADMIN_KEY}
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
# grid centres west to east: each position below moves the object to another grid
HOPS = [(113.605, 34.75), (113.615, 34.75), (113.625, 34.75), (113.635, 34.75)]


class Receiver:
    """An HTTP server in a thread recording each POST; ``fail(seq) -> bool`` decides
    whether to answer 500; ``gate`` (when cleared) holds every request."""

    def __init__(self, fail=lambda seq, attempt: False, delay=0.0):
        self.fail, self.delay = fail, delay
        self.received: list[tuple[int, dict, dict]] = []  # (status, body, headers) in order
        self.attempts: dict[int, int] = {}
        self.gate = threading.Event()
        self.gate.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.gate.wait(30)
                time.sleep(receiver.delay)
                event = json.loads(body)
                seq = event["seq"]
                receiver.attempts[seq] = receiver.attempts.get(seq, 0) + 1
                status = 500 if receiver.fail(seq, receiver.attempts[seq]) else 200
                receiver.received.append((status, event, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def acknowledged(self) -> list[int]:
        return [e["seq"] for status, e, _, _ in self.received if status == 200]

    def wait_for(self, condition, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out; received {self.received[-3:]}"
            time.sleep(0.02)

    def close(self):
        self.gate.set()
        self.server.shutdown()


def hook_counters(client, hook_id: str, expected: tuple[int, ...], timeout=30.0) -> tuple[int, ...]:
    """The hook's (delivered, failed, dead_letters)[: len(expected)] once they equal
    ``expected``, or as they are at the timeout: the worker records an outcome after the
    receiver has answered, so a read right after the acknowledgement can be one behind."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get(f"/v1/hooks/{hook_id}", headers=KEY).json()
        got = (state["delivered"], state["failed"], state["dead_letters"])[: len(expected)]
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def iso(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def hop_positions(oid: str, n: int, t0: int = 0) -> list[dict]:
    return [
        {
            "id": oid,
            "kind": "worker",
            "lon": HOPS[i % 4][0],
            "lat": HOPS[i % 4][1],
            "crs": "WGS84",
            "at": iso(t0 + i),
        }
        for i in range(n)
    ]


def staged(data_dir):
    registry = BoundaryRegistry(data_dir / "boundaries")
    registry.activate(registry.stage(synthetic_units(), source="synthetic"))


@pytest.fixture
def live_app(tmp_path):
    staged(tmp_path)
    live = LiveSettings(
        hook_backoff_s=0.05,
        hook_backoff_max_s=0.2,
        hook_max_attempts=3,
        worker_interval_s=0.05,
        hook_timeout_s=5,
    )
    app = create_app(Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, live=live))
    with TestClient(app) as client:
        yield app, client


def subscribe(client, url, **extra):
    answer = client.post(
        "/v1/hooks", json={"url": url, "events": ["object.*"], **extra}, headers=KEY
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def expected_seqs(client, oid):
    changes = client.get("/v1/changes?after=0&limit=10000").json()["changes"]
    return [c["seq"] for c in changes if c["kind"] == "objects" and c["id"] == f"worker:{oid}"]


def test_retries_with_backoff_keep_seq_order_and_sign(live_app):
    app, client = live_app
    receiver = Receiver(fail=lambda seq, attempt: attempt <= 2 and len(receiver.attempts) <= 1)
    try:
        hook = subscribe(client, receiver.url)
        assert (
            client.post(
                "/v1/positions", json={"positions": hop_positions("w1", 6)}, headers=KEY
            ).status_code
            == 200
        )
        expected = expected_seqs(client, "w1")
        assert len(expected) == 6
        receiver.wait_for(lambda: receiver.acknowledged() == expected)
        first = expected[0]
        assert receiver.attempts[first] == 3  # two failures, then delivered
        assert [e["seq"] for _, e, _, _ in receiver.received] == [first] * 3 + expected[1:]
        for _, event, headers, body in receiver.received:
            mac = hmac.new(hook["secret"].encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Cityaware-Signature"] == f"sha256={mac}"
            assert event["type"] == "object.move" and event["hook"] == hook["id"]
        assert hook_counters(client, hook["id"], (6, 2, 0)) == (6, 2, 0)
        state = client.get(f"/v1/hooks/{hook['id']}", headers=KEY).json()
        assert state["cursor"] >= expected[-1]
    finally:
        receiver.close()


def test_an_event_that_keeps_failing_goes_to_the_dead_letters(live_app):
    app, client = live_app
    doomed = []
    receiver = Receiver(fail=lambda seq, attempt: seq in doomed)
    try:
        hook = subscribe(client, receiver.url)
        receiver.gate.clear()  # hold deliveries until the doomed seq is known
        client.post("/v1/positions", json={"positions": hop_positions("w2", 4)}, headers=KEY)
        expected = expected_seqs(client, "w2")
        doomed.append(expected[1])
        receiver.gate.set()
        receiver.wait_for(lambda: receiver.acknowledged() == [expected[0], *expected[2:]])
        assert receiver.attempts[expected[1]] == 3
        dead = client.get(f"/v1/hooks/{hook['id']}/dead-letters", headers=KEY).json()
        assert [(d["seq"], d["attempts"]) for d in dead["dead_letters"]] == [(expected[1], 3)]
        assert json.loads(dead["dead_letters"][0]["payload"])["seq"] == expected[1]
        assert hook_counters(client, hook["id"], (3, 3, 1)) == (3, 3, 1)
    finally:
        receiver.close()


def test_a_hung_hook_does_not_hold_writes_or_other_hooks(live_app):
    app, client = live_app
    hung, healthy = Receiver(), Receiver()
    try:
        subscribe(client, hung.url)
        subscribe(client, healthy.url)
        hung.gate.clear()  # this receiver never answers while the writes go on
        for n in range(5):
            answer = client.post(
                "/v1/positions", json={"positions": hop_positions("w3", 2, t0=10 * n)}, headers=KEY
            )
            assert answer.status_code == 200
        expected = expected_seqs(client, "w3")
        healthy.wait_for(lambda: healthy.acknowledged() == expected)
        assert hung.acknowledged() == []
        hung.gate.set()
        # at least once: an attempt that timed out while the gate was shut (a slow machine
        # takes over hook_timeout_s to reach here) was re-sent, and both copies answer now
        hung.wait_for(lambda: list(dict.fromkeys(hung.acknowledged())) == expected)
    finally:
        hung.close()
        healthy.close()


def test_bad_hooks_are_400_and_need_ops(live_app):
    _, client = live_app
    bad = client.post("/v1/hooks", json={"url": "ftp://x", "events": ["a"]}, headers=KEY)
    assert bad.status_code == 400
    assert (
        client.post("/v1/hooks", json={"url": "http://x", "events": []}, headers=KEY).status_code
        == 400
    )
    assert client.post("/v1/hooks", json={"url": "http://x", "events": ["a"]}).status_code == 401


@pytest.mark.slow
def test_a_killed_server_loses_nothing_acknowledged_and_keeps_order(tmp_path):
    staged(tmp_path)
    env = {
        "CITYAWARE_ADMIN_KEY": ADMIN_KEY,
        "CITYAWARE_HOOK_TIMEOUT_S": "1",
        "CITYAWARE_WORKER_INTERVAL_S": "0.02",
    }
    receiver = Receiver(delay=0.05)  # slow enough to kill the server mid-way
    try:
        with server_process(tmp_path, env) as (process, url):
            answer = httpx.post(
                url + "/v1/hooks",
                headers=KEY,
                json={"url": receiver.url, "events": ["object.move"]},
            )
            assert answer.status_code == 201, answer.text
            receiver.gate.clear()
            body = {"positions": hop_positions("w4", 30)}
            assert httpx.post(url + "/v1/positions", json=body, headers=KEY).status_code == 200
            changes = httpx.get(url + "/v1/changes?after=0&limit=10000").json()["changes"]
            expected = [c["seq"] for c in changes if c["kind"] == "objects"]
            gate_opened = threading.Timer(0.3, receiver.gate.set)
            gate_opened.start()
            receiver.wait_for(lambda: len(receiver.acknowledged()) >= 8)
            os.kill(process.pid, signal.SIGKILL)  # mid-way: no cleanup, the lease stays
            process.wait()
        got_before = receiver.acknowledged()
        with server_process(tmp_path, env):
            receiver.wait_for(lambda: set(receiver.acknowledged()) == set(expected), 60)
        acknowledged = receiver.acknowledged()
        assert acknowledged == sorted(acknowledged)  # never out of order (a resend repeats)
        assert len(acknowledged) - len(expected) <= 1  # at most the one in flight again
        assert acknowledged[: len(got_before)] == got_before
        assert 8 <= len(got_before) < len(expected)
    finally:
        receiver.close()
