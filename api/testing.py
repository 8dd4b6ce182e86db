"""What the tests and the benchmarks both need: real servers and a demo city.

* :func:`live_server` / :func:`server_process`: uvicorn in a subprocess on a
  free port (GDAL holds the GIL while it waits for HTTP answers, so a client
  like ``ogr2ogr`` needs a server outside its process);
* :class:`ThreadedServer`: uvicorn in a thread over a given context, which a
  test can stop and restart on the same port;
* :func:`demo_city`: the committed demo boundaries plus generated cameras,
  sensors and incidents in a fresh data directory;
* :data:`CHROMIUM` / :data:`CHROMIUM_ARGS`: the headless browser the map wall is
  driven with.

Only the installed package is used: nothing here reads the repository.

>>> port = free_port()
>>> 1024 <= port < 65536
True
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from cityaware.api.app import create_app
from cityaware.api.commands.demo import install_demo_city_files
from cityaware.api.context import AppContext
from cityaware.api.settings import Settings
from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.demo.features import generate_demo_features
from cityaware.geo.resources import demo_boundaries

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 60.0  # a shared CI machine can be slow to import everything


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(url: str) -> bool:
    """Whether ``url``/healthz answers 200 within a second.

    >>> healthy(f"http://127.0.0.1:{free_port()}")
    False
    """
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def live_server(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``cityaware.api.app:create_app`` over ``data_dir``; yield the base URL.

    >>> with live_server(tmp_path) as url:  # doctest: +SKIP
    ...     httpx.get(url + "/collections").status_code
    200
    """
    with server_process(data_dir, env) as (_, url):
        yield url


@contextmanager
def server_process(
    data_dir: Path, env: dict[str, str] | None = None, start_timeout_s: float = START_TIMEOUT_S
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Like :func:`live_server`, yielding the process too (for tests that kill it);
    ``start_timeout_s``: how long it may take to answer /healthz (a benchmark on a busy
    machine gives it minutes).

    The server runs in ``data_dir`` with this interpreter, so it imports the
    installed ``cityaware`` (never a checkout on the working directory).

    >>> with server_process(tmp_path) as (process, url):  # doctest: +SKIP
    ...     process.kill()
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn takes a passed fd for a Unix socket, so asyncio leaves Nagle on: every answer
    # on a kept-alive connection would wait ~40 ms for a delayed ACK (`serve`, which binds
    # host and port itself, has TCP_NODELAY). Linux hands the listener's to each accepted one.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "cityaware.api.app:create_app", "--factory"]
    command += ["--fd", str(sock.fileno()), "--log-level", "warning"]
    environment = {**os.environ, "CITYAWARE_DATA_DIR": str(data_dir), **(env or {})}
    process = subprocess.Popen(command, cwd=data_dir, env=environment, pass_fds=[sock.fileno()])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while not healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)
        sock.close()


class ThreadedServer:
    """uvicorn in a thread over ``ctx``; ``restart()`` serves a new app on the same port.

    >>> server = ThreadedServer(demo_city(tmp_path))  # doctest: +SKIP
    >>> healthy(server.origin)  # doctest: +SKIP
    True
    >>> server.stop()  # doctest: +SKIP
    """

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        """Serve a new app over the context; return once it accepts connections."""
        config = uvicorn.Config(
            create_app(ctx=self.ctx),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=1,  # open event streams are closed after 1 s
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the threaded server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def restart(self) -> None:
        """Stop, then serve a new app on the same port."""
        self.stop()
        self.start()


def demo_city(
    data_dir: Path,
    cameras: int = 2000,
    sensors: int = 3000,
    days: int = 7,
    per_day: int = 500,
    admin_key: str = "",
) -> AppContext:
    """Activate the demo boundaries in ``data_dir`` and import generated features.

    >>> ctx = demo_city(tmp_path, cameras=10, sensors=10, days=1, per_day=10)  # doctest: +SKIP
    >>> ctx.store.count("cameras")  # doctest: +SKIP
    10
    """
    install_demo_city_files(data_dir)
    ctx = AppContext(Settings(data_dir=data_dir, admin_key=admin_key))
    generation = ctx.registry.stage(read_hierarchy_gpkg(demo_boundaries()), source="demo")
    ctx.registry.activate(generation)
    features = generate_demo_features(
        ctx.registry.units(),
        n_cameras=cameras,
        n_sensors=sensors,
        days=days,
        incidents_per_day=per_day,
    )
    for kind, frame in features.items():
        ctx.store.bulk_import(kind, frame, strict=True)
    return ctx
