"""The ``cityaware`` command line.

Each sub-command lives in ``api/commands/<name>.py`` and exposes
``add_parser(subparsers)``, which registers the parser and sets ``func``
(called with the parsed args and the :class:`~api.settings.Settings`).
Errors print as one line unless ``--debug``.

>>> build_parser().parse_args(["demo", "--data-dir", "/tmp/x"]).data_dir
'/tmp/x'
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from cityaware.api.commands import (
    Subparsers,
    boundaries,
    demo,
    export,
    geocode,
    import_,
    keys,
    locate,
    serve,
)
from cityaware.api.settings import Settings
from cityaware.geo.errors import CityAwareError

DESCRIPTION = "cityaware: city-awareness map server (demo, serve, import, locate, export, ...)"
EPILOG = """examples:
  cityaware demo && cityaware serve
  cityaware import incidents cases.csv --crs BD09
  cityaware locate --help   (every command has its own help and examples)"""
COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    demo.add_parser,
    serve.add_parser,
    keys.add_parser,
    boundaries.add_parser,
    geocode.add_parser,
    locate.add_parser,
    import_.add_parser,
    export.add_parser,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cityaware",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add_parser in COMMANDS:
        add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env().with_data_dir(getattr(args, "data_dir", None))
    try:
        return args.func(args, settings) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (CityAwareError, OSError, ValueError) as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
