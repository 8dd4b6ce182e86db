"""``cityaware serve``: run the HTTP server on the data directory."""

from __future__ import annotations

import argparse
import threading

from cityaware.api.commands import add_data_dir
from cityaware.api.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="serve the API and the map wall")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    add_data_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from cityaware.api.app import create_app
    from cityaware.api.context import AppContext, warm_up
    from cityaware.api.service.auth import ensure_admin_key

    settings = ensure_admin_key(settings)
    ctx = AppContext(settings)
    app = create_app(ctx=ctx)
    threading.Thread(target=warm_up, args=(ctx,), name="warm-up", daemon=True).start()
    print(f"cityaware serving {settings.data_dir} on http://{args.host}:{args.port}/")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
