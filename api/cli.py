"""The ``cityaware`` command line.

Each sub-command lives in ``api/commands/<name>.py`` and exposes
``add_parser(subparsers)``, which registers the parser and sets ``func``
(called with the parsed args and the :class:`~api.settings.Settings`).
A run imports only the module of the command it names (a file command starts
without loading the others); help and unknown commands load them all. As a
program (:func:`program`, the ``cityaware`` script), a command whose parser sets
``exit_at_once`` ends without the interpreter's teardown once it has returned.
Errors print as one line unless ``--debug``.

>>> build_parser().parse_args(["demo", "--data-dir", "/tmp/x"]).data_dir
'/tmp/x'
>>> build_parser("locate")._subparsers._group_actions[0].choices.keys()
dict_keys(['locate'])
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from cityaware.api.settings import Settings
from cityaware.geo.errors import CityAwareError

DESCRIPTION = "cityaware: city-awareness map server (demo, serve, import, locate, export, ...)"
EPILOG = """examples:
  cityaware demo && cityaware serve
  cityaware import incidents cases.csv --crs BD09
  cityaware locate --help   (every command has its own help and examples)"""
# Command name -> its module in cityaware.api.commands, in the order help lists them.
COMMANDS = {
    "demo": "demo",
    "serve": "serve",
    "keys": "keys",
    "boundaries": "boundaries",
    "geocode": "geocode",
    "locate": "locate",
    "import": "import_",
    "export": "export",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or only ``command``'s part when it names one."""
    parser = argparse.ArgumentParser(
        prog="cityaware",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        if command not in COMMANDS or command == name:
            importlib.import_module(f"cityaware.api.commands.{module}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None, as_program: bool = False) -> int:
    """Run the command line ``argv`` (default: this process's arguments); the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    named = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser(named).parse_args(argv)
    settings = Settings.from_env().with_data_dir(getattr(args, "data_dir", None))
    try:
        code: int = args.func(args, settings) or 0
        if as_program and getattr(args, "exit_at_once", False):
            # Everything the command wrote is closed: skip the teardown, which collects
            # and frees every object numpy, pyarrow, shapely and pyproj made (~40 ms).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (CityAwareError, OSError, ValueError) as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2


def program() -> int:
    """The ``cityaware`` script: :func:`main` on this process's arguments."""
    return main(as_program=True)


if __name__ == "__main__":
    sys.exit(program())
