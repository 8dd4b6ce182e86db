"""``cityaware serve``: run the HTTP server on the data directory.

``--workers N`` runs N uvicorn worker processes on one port. Every guarantee holds
across them, because each one lives in the shared store, not in a process: an
Idempotency-Key is a unique index (a second worker's insert replays the first
one's incident), change-feed numbers are taken under the store's write lock (one
order for all workers), and each worker's event stream follows that shared feed
(a client of any worker sees every event).
"""

from __future__ import annotations

import argparse
import os
import threading
from typing import TYPE_CHECKING

from cityaware.api.commands import Subparsers, add_command, add_data_dir
from cityaware.api.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def add_parser(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "serve",
        "serve the API and the map wall",
        ("cityaware serve --port 8000", "cityaware serve --host 0.0.0.0 --workers 4"),
        "Serve the HTTP API, the OGC API and the map wall over the data directory. With\n"
        "--workers N, N processes share one port and one store.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (default 1; e.g. one per core)"
    )
    add_data_dir(parser)
    parser.set_defaults(func=run)


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn factory): settings from the environment
    :func:`run` prepared, boundaries and indexes warmed in the background."""
    from cityaware.api.app import create_app
    from cityaware.api.context import AppContext, warm_up

    ctx = AppContext(Settings.from_env())
    threading.Thread(target=warm_up, args=(ctx,), name="warm-up", daemon=True).start()
    return create_app(ctx=ctx)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from cityaware.api.service.auth import ensure_admin_key

    if args.workers < 1:
        raise SystemExit("--workers must be 1 or more")
    settings = ensure_admin_key(settings)
    # the workers read their settings from the environment: pass on what the command line set
    os.environ["CITYAWARE_DATA_DIR"] = str(settings.data_dir.absolute())
    os.environ["CITYAWARE_ADMIN_KEY"] = settings.admin_key
    print(
        f"cityaware serving {settings.data_dir} on http://{args.host}:{args.port}/"
        f" with {args.workers} worker(s)"
    )
    uvicorn.run(
        "cityaware.api.commands.serve:worker_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,  # open event streams are closed after 2 s
    )
    return 0
