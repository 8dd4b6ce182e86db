"""A real uvicorn server in a subprocess on a free port, for tests that drive real clients.

A subprocess, not a thread: GDAL holds the GIL while it waits for HTTP
answers, so an in-process server would never get to answer it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def live_server(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``api.app:create_app`` over ``data_dir`` on a free port; yield the base URL."""
    with server_process(data_dir, env) as (_, url):
        yield url


@contextmanager
def server_process(
    data_dir: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Like :func:`live_server`, yielding the process too (for tests that kill it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "cityaware.api.app:create_app",
        "--factory",
        "--fd",
        str(sock.fileno()),
        "--log-level",
        "warning",
    ]
    env = {
        **os.environ,
        "CITYAWARE_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    process = subprocess.Popen(command, cwd=ROOT, env=env, pass_fds=[sock.fileno()])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)
        sock.close()
